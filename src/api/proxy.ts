import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import type { LxdOperation, LxdResponse } from '../lxd/index.js';
import type { ApiContext } from './context.js';
import { HOST_HEADER } from './routes/hosts.js';

export interface ForwardOptions {
  /** JSON body to send (default: none). */
  body?: unknown;
  /** Query to send; `target` and `project` from the client are never forwarded as-is. */
  query?: Record<string, string | undefined>;
  /** Rewrites a sync response's metadata before it is sent (e.g. set `location`). */
  transform?: (metadata: unknown) => unknown;
  /** Upstream timeout; 0 waits as long as the client does (e.g. `/wait` with no timeout). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Headers of a client request that a host must see too. */
export function forwardedHeaders(request: FastifyRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  const ifMatch = request.headers['if-match'];
  if (typeof ifMatch === 'string') headers['if-match'] = ifMatch;
  return headers;
}

/** Marks a host operation as the host's and remembers where it lives, so `/operations/ID` finds it. */
export function adoptOperation(ctx: ApiContext, host: string, op: LxdOperation): LxdOperation {
  ctx.opRouter.remember(op.id, host);
  return { ...op, location: host };
}

/**
 * Sends one request to a host and relays its answer to the client: status, envelope, ETag, and an async
 * operation (remembered in the operation router, location set to the host, `Location` header). Adds
 * `X-LXDPM-Host`. Returns the relayed envelope, so a caller can follow an operation it started.
 */
export async function relay(
  ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply,
  host: string,
  method: Dispatcher.HttpMethod,
  path: string,
  opts: ForwardOptions = {},
): Promise<LxdResponse> {
  const client = ctx.fleet.client(host);
  const { status, headers, envelope } = await client.request(method, path, opts.body, {
    query: opts.query,
    headers: forwardedHeaders(request),
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
  });
  const relayed = relayEnvelope(ctx, host, envelope, opts.transform);
  void reply.header(HOST_HEADER, host);
  if (typeof headers.etag === 'string') void reply.header('ETag', headers.etag);
  if (relayed.type === 'async') void reply.header('Location', relayed.operation);
  await reply.code(status).send(relayed);
  return relayed;
}

/** Rewrites a host's envelope for the client. */
export function relayEnvelope(
  ctx: ApiContext,
  host: string,
  envelope: LxdResponse,
  transform?: (metadata: unknown) => unknown,
): LxdResponse {
  if (envelope.type === 'async') {
    const op = adoptOperation(ctx, host, envelope.metadata);
    return { ...envelope, operation: `/1.0/operations/${op.id}`, metadata: op };
  }
  if (envelope.type === 'sync' && transform) return { ...envelope, metadata: transform(envelope.metadata) };
  return envelope;
}

/** Sets an object's LXD `location` to its host (instances, members, operations). */
export function located<T>(value: T, host: string): T {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return { ...value, location: host };
  }
  return value;
}
