import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import { BadRequestError, NotFoundError } from '../../errors/index.js';
import { InstanceService, type InstancePrefix } from '../../instances/index.js';
import type { LxdResponse } from '../../lxd/index.js';
import { sendSync, type RouteModule } from '../app.js';
import type { ApiContext } from '../context.js';
import { asyncEnvelope } from '../envelope.js';
import { located, relay as relayToHost, relayEnvelope } from '../proxy.js';
import { bodyObject, queryString, recursionOf, str } from '../query.js';
import { HOST_HEADER } from './hosts.js';

/** `/1.0/containers…` is LXD's older name for the same API; both are served from one definition. */
const PREFIXES: readonly InstancePrefix[] = ['/1.0/instances', '/1.0/containers'];

/** Names the hosts whose instances a list served from the index (they did not answer). */
export const UNAVAILABLE_HEADER = 'X-LXDPM-Unavailable';

export interface InstanceRoutesOptions {
  /** The planner's randomness. */
  random?: () => number;
  /** Per-host timeout of fleet-wide lists. */
  listTimeoutMs?: number;
}

type NameParams = { name: string };
type SnapshotParams = { name: string; snapshot: string };

/** The manager serves the `default` project only, like a standalone LXD out of the box. */
async function requireDefaultProject(request: FastifyRequest): Promise<void> {
  const project = queryString(request.query, 'project');
  if (project !== undefined && queryString(request.query, 'all-projects') === 'true') {
    throw new BadRequestError('Cannot specify a project when requesting all projects');
  }
  if (project !== undefined && project !== 'default') throw new NotFoundError('Project not found');
  await Promise.resolve();
}

/** The client's query minus what the manager itself interprets. */
function hostQuery(query: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (k === 'project' || k === 'target' || k === 'all-projects') continue;
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

function hasBody(method: Dispatcher.HttpMethod): boolean {
  return method !== 'GET' && method !== 'DELETE';
}

/** Relays a client's request on one instance to its host, with the client's body and query. */
async function relay(
  ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply,
  host: string,
  method: Dispatcher.HttpMethod,
  path: string,
  transform?: (metadata: unknown) => unknown,
): Promise<LxdResponse> {
  return relayToHost(ctx, request, reply, host, method, path, {
    body: hasBody(method) ? request.body : undefined,
    query: hostQuery(request.query),
    transform,
  });
}

/** `/1.0/instances…` and `/1.0/containers…`: lists and creates across the fleet, the rest routed by name. */
export function instanceRoutes(opts: InstanceRoutesOptions = {}): RouteModule {
  return (app, ctx) => {
    const service = new InstanceService({
      fleet: ctx.fleet,
      locations: ctx.locations,
      operations: ctx.operations,
      store: ctx.store,
      log: ctx.log,
      random: opts.random,
      listTimeoutMs: opts.listTimeoutMs,
    });
    app.addHook('onClose', async () => {
      await service.stop();
    });
    const scoped = { preHandler: requireDefaultProject };

    for (const prefix of PREFIXES) {
      const one = `${prefix}/:name`;
      const pathOf = (name: string, suffix = '') => `${prefix}/${encodeURIComponent(name)}${suffix}`;

      /** Relays a request about one instance (or a sub-resource) to the host that holds it. */
      const routed =
        (method: Dispatcher.HttpMethod, suffix: (p: SnapshotParams) => string) =>
        async (request: FastifyRequest, reply: FastifyReply) => {
          const params = request.params as SnapshotParams;
          const host = await service.locate(params.name);
          await relay(ctx, request, reply, host, method, pathOf(params.name, suffix(params)));
          return reply;
        };
      const snapshotsPath = () => '/snapshots';
      const snapshotPath = (p: SnapshotParams) => `/snapshots/${encodeURIComponent(p.snapshot)}`;

      app.get(prefix, scoped, async (request, reply) => {
        const result = await service.list({
          prefix,
          recursion: recursionOf(request.query),
          filter: queryString(request.query, 'filter'),
          instanceType: queryString(request.query, 'instance-type'),
        });
        if (result.unavailable.length > 0)
          void reply.header(UNAVAILABLE_HEADER, result.unavailable.join(','));
        return sendSync(reply, result.items);
      });

      app.post(prefix, scoped, async (request, reply) => {
        const outcome = await service.create({
          prefix,
          body: bodyObject(request.body),
          target: queryString(request.query, 'target'),
        });
        const envelope =
          outcome.kind === 'host'
            ? relayEnvelope(ctx, outcome.host, asyncEnvelope(outcome.operation))
            : asyncEnvelope(outcome.operation);
        void reply.header(HOST_HEADER, outcome.host);
        void reply.header('Location', envelope.operation);
        return reply.code(202).send(envelope);
      });

      app.get<{ Params: NameParams }>(one, scoped, async (request, reply) => {
        const host = await service.locate(request.params.name);
        await relay(ctx, request, reply, host, 'GET', pathOf(request.params.name), (metadata) => {
          service.remember(host, metadata);
          return located(metadata, host);
        });
        return reply;
      });

      app.put(
        one,
        scoped,
        routed('PUT', () => ''),
      );
      app.patch(
        one,
        scoped,
        routed('PATCH', () => ''),
      );

      app.delete<{ Params: NameParams }>(one, scoped, async (request, reply) => {
        const { name } = request.params;
        const host = await service.locate(name);
        const answer = await relay(ctx, request, reply, host, 'DELETE', pathOf(name));
        if (answer.type === 'async') service.watchDelete(host, answer.metadata.id, name);
        return reply;
      });

      // Rename, or the source side of a migration (`migration: true`), which is relayed as it is.
      app.post<{ Params: NameParams }>(one, scoped, async (request, reply) => {
        const { name } = request.params;
        const body = bodyObject(request.body);
        const host = await service.locate(name);
        if (body.migration === true) {
          // With a target, LXD moves the instance to that cluster member itself; without, the
          // host serves the source side of a migration to another server.
          const target = queryString(request.query, 'target');
          if (target !== undefined) {
            const outcome = await service.move(name, target, body);
            void reply.header(HOST_HEADER, outcome.host);
            void reply.header('Location', `/1.0/operations/${outcome.operation.id}`);
            return reply.code(202).send(asyncEnvelope(outcome.operation));
          }
          await relay(ctx, request, reply, host, 'POST', pathOf(name));
          return reply;
        }
        const to = str(body.name);
        if (to === '' || to === name) {
          await relay(ctx, request, reply, host, 'POST', pathOf(name));
          return reply;
        }
        await service.reserveRename(name, to);
        let answer: LxdResponse;
        try {
          answer = await relay(ctx, request, reply, host, 'POST', pathOf(name));
        } catch (err) {
          await service.cancelRename(to);
          throw err;
        }
        if (answer.type === 'async') service.watchRename(host, answer.metadata.id, name, to);
        else await service.cancelRename(to);
        return reply;
      });

      app.get(
        `${one}/state`,
        scoped,
        routed('GET', () => '/state'),
      );
      app.put(
        `${one}/state`,
        scoped,
        routed('PUT', () => '/state'),
      );

      app.get(`${one}/snapshots`, scoped, routed('GET', snapshotsPath));
      app.post(`${one}/snapshots`, scoped, routed('POST', snapshotsPath));
      app.get(`${one}/snapshots/:snapshot`, scoped, routed('GET', snapshotPath));
      app.put(`${one}/snapshots/:snapshot`, scoped, routed('PUT', snapshotPath));
      app.patch(`${one}/snapshots/:snapshot`, scoped, routed('PATCH', snapshotPath));
      app.post(`${one}/snapshots/:snapshot`, scoped, routed('POST', snapshotPath));
      app.delete(`${one}/snapshots/:snapshot`, scoped, routed('DELETE', snapshotPath));
    }
  };
}
