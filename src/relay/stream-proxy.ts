import type { IncomingHttpHeaders } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import type { HostClient } from '../lxd/index.js';
import { Coalescer } from './coalesce.js';

type HeaderValue = string | string[] | undefined;

/**
 * Request headers a host must see for a streamed body: LXD's `X-LXD-*` file headers (uid, gid, mode,
 * type, write), what describes the body, and conditional/range headers for file downloads. Everything
 * else (auth, connection handling, the client's Host) belongs to the client's hop only.
 * `Transfer-Encoding` is never copied: the upstream client chunks a body of unknown length itself.
 */
const FORWARDED_REQUEST_HEADERS = new Set([
  'content-type',
  'content-length',
  'range',
  'if-range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
]);

/** Hop-by-hop response headers (RFC 9110 §7.6.1) that describe the host's connection, not the content. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

function first(value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The headers of a client request to send on to the host. */
export function hostRequestHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    const v = first(value);
    if (v === undefined) continue;
    if (key.startsWith('x-lxd-') || FORWARDED_REQUEST_HEADERS.has(key)) out[key] = v;
  }
  // A chunked body has no length; a stale length next to it would make the host read the wrong amount.
  if (headers['transfer-encoding'] !== undefined) delete out['content-length'];
  return out;
}

/**
 * The headers of a host's response to send on to the client: all but hop-by-hop ones (and those the
 * host's `Connection` header names). `Content-Length` stays, so clients can show progress and detect a
 * truncated body.
 */
export function clientResponseHeaders(
  headers: Record<string, HeaderValue>,
): Record<string, string | string[]> {
  const named = new Set(
    (first(headers.connection) ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== ''),
  );
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(key) || named.has(key)) continue;
    out[key] = value;
  }
  return out;
}

/** Whether a request carries a body (chunked, or a non-zero length). */
export function hasRequestBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = Number.parseInt(first(headers['content-length']) ?? '0', 10);
  return Number.isFinite(length) && length > 0;
}

export interface StreamProxyOptions {
  query?: Record<string, string | undefined>;
  /** The client's request body as a stream (a `rawBody` route's `request.body`), sent on unbuffered. */
  body?: Readable;
  /** Response headers added for the client (e.g. which host answered). */
  headers?: Record<string, string>;
}

/**
 * Sends one request to a host with the client's body streamed through, and streams the host's answer
 * back: status, headers (hop-by-hop ones dropped) and body, whatever it is (file bytes, a JSON listing
 * or an LXD error envelope). Nothing is buffered whole; both directions run at the pace of the slower
 * side. A client that disconnects aborts the host request.
 */
export async function proxyStream(
  client: HostClient,
  request: FastifyRequest,
  reply: FastifyReply,
  method: Dispatcher.HttpMethod,
  path: string,
  opts: StreamProxyOptions = {},
): Promise<FastifyReply> {
  const abort = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  const body =
    opts.body === undefined ? null : pipeline(opts.body, new Coalescer({ bytes: 1024 * 1024 }), ignore);
  const res = await client.raw(method, path, body, {
    query: opts.query,
    headers: hostRequestHeaders(request.headers),
    signal: abort.signal,
    // No deadline: a transfer runs as long as it moves; only a client that goes away ends it early.
    timeoutMs: 0,
  });
  void reply.code(res.status).headers({ ...clientResponseHeaders(res.headers), ...opts.headers });
  if (method === 'HEAD') {
    await res.body.dump();
    return reply.send();
  }
  return reply.send(pipeline(res.body, new Coalescer(), ignore));
}

/** Errors end both streams of a pipeline; whoever reads the last one sees them. */
function ignore(): void {
  // Nothing to do: the failure reaches the HTTP client or the host request through the destroyed stream.
}
