import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import { NotFoundError } from '../../errors/index.js';
import { proxyStream } from '../../relay/index.js';
import type { RouteModule } from '../app.js';
import type { ApiContext } from '../context.js';
import { forwardedHeaders, relayEnvelope } from '../proxy.js';
import { queryString } from '../query.js';
import { HOST_HEADER } from './hosts.js';

/** The instance collections these routes serve: `/1.0/instances` and LXD's legacy `/1.0/containers`. */
const COLLECTIONS = ['instances', 'containers'] as const;

interface NameParams {
  name: string;
}

interface LogParams extends NameParams {
  file: string;
}

/** The host path of a sub-resource of an instance, under the collection the client used. */
function hostPath(collection: string, name: string, rest: string): string {
  return `/1.0/${collection}/${encodeURIComponent(name)}${rest}`;
}

/** The manager serves the `default` project only; any other is LXD's 404, as on a host without it. */
async function defaultProjectOnly(request: FastifyRequest): Promise<void> {
  const project = queryString(request.query, 'project');
  if (project !== undefined && project !== 'default') throw new NotFoundError('Project not found');
  await Promise.resolve();
}

/**
 * Sends a JSON request about an instance to its host and relays the answer: status, envelope (a host
 * operation is adopted: its id remembered, `location` set to the host), `Location` of an operation,
 * `X-LXDPM-Host`.
 */
async function relayJson(
  ctx: ApiContext,
  request: FastifyRequest<{ Params: NameParams }>,
  reply: FastifyReply,
  method: Dispatcher.HttpMethod,
  path: string,
): Promise<FastifyReply> {
  const host = ctx.locations.locate(request.params.name);
  const { status, envelope } = await ctx.fleet
    .client(host)
    .request(method, path, method === 'POST' ? request.body : undefined, {
      headers: forwardedHeaders(request),
    });
  const relayed = relayEnvelope(ctx, host, envelope);
  void reply.header(HOST_HEADER, host);
  if (relayed.type === 'async') void reply.header('Location', relayed.operation);
  return reply.code(status).send(relayed);
}

/** Streams a request to the instance's host and its answer back (files and logs). */
async function stream(
  ctx: ApiContext,
  request: FastifyRequest<{ Params: NameParams }>,
  reply: FastifyReply,
  method: Dispatcher.HttpMethod,
  path: string,
  query?: Record<string, string | undefined>,
): Promise<FastifyReply> {
  const host = ctx.locations.locate(request.params.name);
  const body = request.body as Readable | undefined;
  return proxyStream(ctx.fleet.client(host), request, reply, method, path, {
    query,
    body: body !== undefined && typeof body.pipe === 'function' ? body : undefined,
    headers: { [HOST_HEADER]: host },
  });
}

/**
 * What runs inside an instance and what comes out of it: exec, console, files and logs. Each request is
 * sent to the instance's host. Exec and console answer with the host's websocket operation (remembered in
 * the operation router, so its `/websocket?secret=` sockets reach the host); files and logs stream through
 * without being held in memory.
 */
export const instanceIoRoutes: RouteModule = (app, ctx) => {
  const scoped = { preHandler: defaultProjectOnly };
  const unstreamedHead = { ...scoped, exposeHeadRoute: false };

  for (const collection of COLLECTIONS) {
    const base = `/1.0/${collection}/:name`;
    const path = (request: FastifyRequest<{ Params: NameParams }>, rest: string) =>
      hostPath(collection, request.params.name, rest);

    app.post<{ Params: NameParams }>(`${base}/exec`, scoped, async (request, reply) =>
      relayJson(ctx, request, reply, 'POST', path(request, '/exec')),
    );

    app.post<{ Params: NameParams }>(`${base}/console`, scoped, async (request, reply) =>
      relayJson(ctx, request, reply, 'POST', path(request, '/console')),
    );
    app.get<{ Params: NameParams }>(`${base}/console`, unstreamedHead, async (request, reply) =>
      stream(ctx, request, reply, 'GET', path(request, '/console')),
    );
    app.delete<{ Params: NameParams }>(`${base}/console`, scoped, async (request, reply) =>
      relayJson(ctx, request, reply, 'DELETE', path(request, '/console')),
    );

    const files = `${base}/files`;
    const fileQuery = (request: FastifyRequest) => ({ path: queryString(request.query, 'path') });
    for (const method of ['GET', 'HEAD', 'DELETE'] as const) {
      app.route<{ Params: NameParams }>({
        method,
        url: files,
        ...unstreamedHead,
        handler: async (request, reply) =>
          stream(ctx, request, reply, method, path(request, '/files'), fileQuery(request)),
      });
    }
    app.post<{ Params: NameParams }>(
      files,
      { ...scoped, config: { rawBody: true } },
      async (request, reply) =>
        stream(ctx, request, reply, 'POST', path(request, '/files'), fileQuery(request)),
    );

    app.get<{ Params: NameParams }>(`${base}/logs`, scoped, async (request, reply) =>
      relayJson(ctx, request, reply, 'GET', path(request, '/logs')),
    );
    // Newer LXD keeps recorded exec output under `logs/exec-output/`; 5.0.2 uses `logs/exec_ID.stdout`.
    for (const dir of ['', 'exec-output/']) {
      const log = (request: FastifyRequest<{ Params: LogParams }>) =>
        path(request, `/logs/${dir}${encodeURIComponent(request.params.file)}`);
      app.get<{ Params: LogParams }>(`${base}/logs/${dir}:file`, unstreamedHead, async (request, reply) =>
        stream(ctx, request, reply, 'GET', log(request)),
      );
      app.delete<{ Params: LogParams }>(`${base}/logs/${dir}:file`, scoped, async (request, reply) =>
        relayJson(ctx, request, reply, 'DELETE', log(request)),
      );
    }
  }
};
