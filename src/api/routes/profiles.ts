import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FleetProfiles, ProfileDefinition } from '../../profiles/index.js';
import { sendSync, type RouteModule } from '../app.js';
import { checkIfMatch, etagOf } from '../etag.js';
import { bodyObject, recursionOf, str } from '../query.js';

function profileEtag(p: ProfileDefinition): string {
  return etagOf([p.config, p.description, p.devices]);
}

type Devices = ProfileDefinition['devices'];
type Config = ProfileDefinition['config'];

const asConfig = (v: unknown): Config | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Config) : undefined;
const asDevices = (v: unknown): Devices | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Devices) : undefined;

/**
 * `/1.0/profiles…`: the fleet's profiles. Every change is applied to every online host as one
 * all-or-nothing fleet task before the (synchronous, as in LXD) answer is sent.
 */
export function profileRoutes(profiles: FleetProfiles): RouteModule {
  return (app) => {
    app.get('/1.0/profiles', async (request, reply) => {
      const list = await profiles.list();
      if (recursionOf(request.query) > 0) return sendSync(reply, list);
      return sendSync(
        reply,
        list.map((p) => `/1.0/profiles/${encodeURIComponent(p.name)}`),
      );
    });

    app.post('/1.0/profiles', async (request, reply) => {
      const body = bodyObject(request.body);
      const name = str(body.name);
      await profiles.create(name, {
        description: str(body.description),
        config: asConfig(body.config) ?? {},
        devices: asDevices(body.devices) ?? {},
      });
      return sendSync(reply, null, { status: 201, location: `/1.0/profiles/${encodeURIComponent(name)}` });
    });

    app.get<{ Params: { name: string } }>('/1.0/profiles/:name', async (request, reply) => {
      const p = await profiles.get(request.params.name);
      return sendSync(reply, p, { etag: profileEtag(p) });
    });

    const update = (patch: boolean) =>
      async function handler(request: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) {
        const name = request.params.name;
        const current = await profiles.get(
          name,
          patch
            ? `Failed to retrieve profile="${name}": Profile not found`
            : `Failed to retrieve profile "${name}": Profile not found`,
        );
        const ifMatch = request.headers['if-match'];
        checkIfMatch(typeof ifMatch === 'string' ? ifMatch : undefined, profileEtag(current));
        const body = bodyObject(request.body);
        const config = asConfig(body.config);
        const devices = asDevices(body.devices);
        const next: ProfileDefinition = patch
          ? {
              description: typeof body.description === 'string' ? body.description : current.description,
              config: { ...current.config, ...(config ?? {}) },
              devices: { ...current.devices, ...(devices ?? {}) },
            }
          : { description: str(body.description), config: config ?? {}, devices: devices ?? {} };
        await profiles.update(request.params.name, next);
        return sendSync(reply, null);
      };
    app.put<{ Params: { name: string } }>('/1.0/profiles/:name', update(false));
    app.patch<{ Params: { name: string } }>('/1.0/profiles/:name', update(true));

    app.post<{ Params: { name: string } }>('/1.0/profiles/:name', async (request, reply) => {
      const newName = str(bodyObject(request.body).name);
      await profiles.rename(request.params.name, newName);
      return sendSync(reply, null, { status: 201, location: `/1.0/profiles/${encodeURIComponent(newName)}` });
    });

    app.delete<{ Params: { name: string } }>('/1.0/profiles/:name', async (request, reply) => {
      await profiles.delete(request.params.name);
      return sendSync(reply, null);
    });
  };
}
