import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { BadRequestError, ForbiddenError, NotFoundError, UpstreamError } from '../../errors/index.js';
import {
  plainAlias,
  resolveImage,
  spoolUpload,
  type FleetImage,
  type FleetImages,
  type ImageAliasRequest,
} from '../../images/index.js';
import type { LxdOperation, LxdResponse } from '../../lxd/index.js';
import { JSON_BODY_LIMIT, sendSync, type RouteModule } from '../app.js';
import { asyncEnvelope } from '../envelope.js';
import { checkIfMatch, etagOf } from '../etag.js';
import { bodyObject, queryString, recursionOf, str } from '../query.js';
import { HOST_HEADER } from './hosts.js';

export interface ImageRoutesOptions {
  images: FleetImages;
  /** Where uploads are spooled before they go to the hosts. */
  spoolDir: string;
}

function imageEtag(img: FleetImage): string {
  return etagOf([img.public, img.auto_update, img.properties]);
}

function aliasEtag(alias: { name: string; description: string; target: string }): string {
  return etagOf([alias.name, alias.description, alias.target]);
}

/** `aliases` of a create request (`image_create_aliases`): `[{name, description}]`. */
function aliasesOf(value: unknown): ImageAliasRequest[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((a: unknown) => {
    const o = bodyObject(a);
    const name = str(o.name);
    return name === '' ? [] : [{ name, description: str(o.description) }];
  });
}

async function readJson(stream: Readable): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > JSON_BODY_LIMIT) throw new BadRequestError('Request body too large');
    chunks.push(chunk);
  }
  try {
    return bodyObject(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  } catch (err) {
    throw new BadRequestError(`Invalid JSON body: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * `/1.0/images…`: the fleet's images, merged by fingerprint across the online hosts (each image
 * object carries `lxdpm_hosts`, the hosts that hold it). Creates and deletes are manager operations
 * that reach every online host; property and alias changes are synchronous, like LXD's.
 */
export function imageRoutes({ images, spoolDir }: ImageRoutesOptions): RouteModule {
  return (app, ctx) => {
    const catalog = images.catalog;
    const accepted = (reply: Parameters<typeof sendSync>[0], op: LxdOperation) =>
      reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncEnvelope(op));

    /** Trusted callers see everything; others only public images or one they hold a secret for. */
    const visible = (request: FastifyRequest, img: FleetImage) =>
      request.caller.trusted ||
      img.public ||
      images.validSecret(img.fingerprint, queryString(request.query, 'secret'));

    app.get('/1.0/images', { config: { public: true } }, async (request, reply) => {
      const list = (await catalog.list(queryString(request.query, 'filter'))).filter(
        (img) => request.caller.trusted || img.public,
      );
      if (recursionOf(request.query) > 0) return sendSync(reply, list);
      return sendSync(
        reply,
        list.map((img) => `/1.0/images/${img.fingerprint}`),
      );
    });

    app.post('/1.0/images', { config: { rawBody: true } }, async (request, reply) => {
      const body = request.body as Readable;
      const contentType = header(request, 'content-type');
      if (contentType?.split(';')[0]?.trim().toLowerCase() === 'application/json') {
        const req = await readJson(body);
        if (req.source === undefined || req.source === null) throw new BadRequestError('Invalid images JSON');
        const op = images.createFrom(req, aliasesOf(req.aliases), queryString(request.query, 'target'));
        return accepted(reply, op);
      }
      if (header(request, 'x-lxd-secret') !== undefined) {
        throw new BadRequestError('Push mode image transfers are not supported');
      }
      const spool = await spoolUpload(body, contentType, spoolDir);
      const op = images.importUpload(
        spool,
        {
          filename: header(request, 'x-lxd-filename'),
          public: ['true', '1', 'yes', 'on'].includes((header(request, 'x-lxd-public') ?? '').toLowerCase()),
          properties: header(request, 'x-lxd-properties'),
          profiles: header(request, 'x-lxd-profiles'),
        },
        [],
      );
      return accepted(reply, op);
    });

    app.get('/1.0/images/aliases', { config: { public: true } }, async (request, reply) => {
      const scan = await catalog.scan();
      const aliases = [...scan.aliases.values()]
        .filter((a) => request.caller.trusted || scan.images.get(a.target)?.public === true)
        .sort((a, b) => a.name.localeCompare(b.name));
      if (recursionOf(request.query) > 0) return sendSync(reply, aliases.map(plainAlias));
      return sendSync(
        reply,
        aliases.map((a) => `/1.0/images/aliases/${encodeURIComponent(a.name)}`),
      );
    });

    app.post('/1.0/images/aliases', async (request, reply) => {
      const body = bodyObject(request.body);
      const name = str(body.name);
      await images.createAlias({ name, description: str(body.description), target: str(body.target) });
      return sendSync(reply, null, {
        status: 201,
        location: `/1.0/images/aliases/${encodeURIComponent(name)}`,
      });
    });

    app.get<{ Params: { name: string } }>(
      '/1.0/images/aliases/:name',
      { config: { public: true } },
      async (request, reply) => {
        const scan = await catalog.scan();
        const alias = scan.aliases.get(request.params.name);
        if (alias === undefined) throw new NotFoundError('Image alias not found');
        if (!request.caller.trusted && scan.images.get(alias.target)?.public !== true) {
          throw new NotFoundError('Image alias not found');
        }
        const entry = plainAlias(alias);
        if (alias.hosts[0] !== undefined) void reply.header(HOST_HEADER, alias.hosts[0]);
        return sendSync(reply, entry, { etag: aliasEtag(entry) });
      },
    );

    const updateAlias = (patch: boolean) =>
      async function handler(
        request: FastifyRequest<{ Params: { name: string } }>,
        reply: Parameters<typeof sendSync>[0],
      ) {
        const alias = await catalog.alias(request.params.name);
        checkIfMatch(header(request, 'if-match'), aliasEtag(plainAlias(alias)));
        const body = bodyObject(request.body);
        await images.updateAlias(
          request.params.name,
          {
            target: typeof body.target === 'string' ? body.target : undefined,
            description: typeof body.description === 'string' ? body.description : undefined,
          },
          patch,
        );
        return sendSync(reply, null);
      };
    app.put<{ Params: { name: string } }>('/1.0/images/aliases/:name', updateAlias(false));
    app.patch<{ Params: { name: string } }>('/1.0/images/aliases/:name', updateAlias(true));

    app.post<{ Params: { name: string } }>('/1.0/images/aliases/:name', async (request, reply) => {
      const newName = str(bodyObject(request.body).name);
      await images.renameAlias(request.params.name, newName);
      return sendSync(reply, null, {
        status: 201,
        location: `/1.0/images/aliases/${encodeURIComponent(newName)}`,
      });
    });

    app.delete<{ Params: { name: string } }>('/1.0/images/aliases/:name', async (request, reply) => {
      await images.deleteAlias(request.params.name);
      return sendSync(reply, null);
    });

    app.get<{ Params: { fingerprint: string } }>(
      '/1.0/images/:fingerprint',
      { config: { public: true } },
      async (request, reply) => {
        const img = resolveImage(await catalog.scan(), request.params.fingerprint);
        if (!visible(request, img)) throw new NotFoundError(`Image "${img.fingerprint}" not found`);
        const host = img.lxdpm_hosts[0];
        if (host !== undefined) void reply.header(HOST_HEADER, host);
        return sendSync(reply, img, { etag: imageEtag(img) });
      },
    );

    const updateImage = (patch: boolean) =>
      async function handler(
        request: FastifyRequest<{ Params: { fingerprint: string } }>,
        reply: Parameters<typeof sendSync>[0],
      ) {
        const img = resolveImage(await catalog.scan(), request.params.fingerprint);
        checkIfMatch(header(request, 'if-match'), imageEtag(img));
        const body = bodyObject(request.body);
        await images.update(
          img,
          {
            public: typeof body.public === 'boolean' ? body.public : undefined,
            auto_update: typeof body.auto_update === 'boolean' ? body.auto_update : undefined,
            properties:
              body.properties !== null && typeof body.properties === 'object'
                ? (body.properties as Record<string, string>)
                : undefined,
            expires_at: typeof body.expires_at === 'string' ? body.expires_at : undefined,
            profiles: Array.isArray(body.profiles) ? (body.profiles as string[]) : undefined,
          },
          patch,
        );
        return sendSync(reply, null);
      };
    app.put<{ Params: { fingerprint: string } }>('/1.0/images/:fingerprint', updateImage(false));
    app.patch<{ Params: { fingerprint: string } }>('/1.0/images/:fingerprint', updateImage(true));

    app.delete<{ Params: { fingerprint: string } }>('/1.0/images/:fingerprint', async (request, reply) => {
      return accepted(reply, await images.delete(request.params.fingerprint));
    });

    app.post<{ Params: { fingerprint: string } }>(
      '/1.0/images/:fingerprint/secret',
      async (request, reply) => {
        const img = resolveImage(await catalog.scan(), request.params.fingerprint);
        return accepted(reply, images.createSecret(img.fingerprint));
      },
    );

    app.get<{ Params: { fingerprint: string } }>(
      '/1.0/images/:fingerprint/export',
      { config: { public: true } },
      async (request, reply) => {
        const img = resolveImage(await catalog.scan(), request.params.fingerprint);
        const secret = queryString(request.query, 'secret');
        if (!visible(request, img)) {
          if (!request.caller.trusted && secret === undefined) throw new ForbiddenError();
          throw new NotFoundError(`Image "${img.fingerprint}" not found`);
        }
        const host = img.lxdpm_hosts[0];
        if (host === undefined) throw new NotFoundError('Image not found');
        const res = await ctx.fleet
          .client(host)
          .raw('GET', `/1.0/images/${img.fingerprint}/export`, undefined, { timeoutMs: 6 * 3600_000 });
        if (res.status >= 400) {
          const envelope = (await res.body.json().catch(() => undefined)) as LxdResponse | undefined;
          const message = envelope?.type === 'error' ? envelope.error : `HTTP ${res.status}`;
          throw new UpstreamError(host, 'GET', request.url, res.status, message);
        }
        if (secret !== undefined && !request.caller.trusted) {
          res.body.once('end', () => {
            images.spendSecret(secret);
          });
        }
        void reply.header(HOST_HEADER, host);
        for (const name of ['content-type', 'content-disposition', 'content-length']) {
          const value = res.headers[name];
          if (typeof value === 'string') void reply.header(name, value);
        }
        return reply.code(200).send(res.body);
      },
    );
  };
}
