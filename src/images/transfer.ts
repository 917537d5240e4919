import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { UpstreamError } from '../errors/index.js';
import type { HostClient } from '../lxd/index.js';
import type { LxdOperation, LxdResponse, LxdServer } from '../lxd/index.js';
import type { SpooledImage } from './spool.js';

/** A transfer may take long; the per-request timeout of a host client is for small requests. */
const TRANSFER_TIMEOUT_MS = 6 * 3600 * 1000;

/** The `X-LXD-*` headers of an image upload that every host must see. */
export interface UploadHeaders {
  filename?: string;
  public?: boolean;
  /** Already URL-encoded, as the client sent it. */
  properties?: string;
  /** Already URL-encoded, as the client sent it. */
  profiles?: string;
}

export interface TransferHooks {
  /** The host accepted the transfer and runs it as this operation. */
  onOperation?: (id: string) => Promise<void>;
  /** Bytes sent so far (uploads and relays). */
  onProgress?: (sent: number, total: number | undefined) => void;
  signal?: AbortSignal;
}

function uploadHeaderMap(headers: UploadHeaders, contentType: string): Record<string, string> {
  const out: Record<string, string> = { 'content-type': contentType };
  if (headers.filename !== undefined && headers.filename !== '') out['x-lxd-filename'] = headers.filename;
  if (headers.public === true) out['x-lxd-public'] = 'true';
  if (headers.properties !== undefined && headers.properties !== '')
    out['x-lxd-properties'] = headers.properties;
  if (headers.profiles !== undefined && headers.profiles !== '') out['x-lxd-profiles'] = headers.profiles;
  return out;
}

/** Reads a host's answer to an image POST and waits for the import operation; returns its metadata. */
async function awaitImport(
  client: HostClient,
  res: { status: number; body: { json(): Promise<unknown> } },
  what: string,
  hooks: TransferHooks,
): Promise<Record<string, unknown>> {
  const envelope = (await res.body.json()) as LxdResponse;
  if (envelope.type === 'error' || res.status >= 400) {
    const message = envelope.type === 'error' ? envelope.error : `HTTP ${res.status}`;
    throw new UpstreamError(client.name, 'POST', '/1.0/images', res.status, message);
  }
  if (envelope.type !== 'async') return {};
  const id = envelope.metadata.id;
  await hooks.onOperation?.(id);
  const op = await client.expectSuccess(id, what);
  return op.metadata ?? {};
}

/**
 * Passes a stream through while counting bytes for progress. (A `data` listener on the source would
 * start it flowing before the HTTP client reads it, and the first chunks would be lost.)
 */
function counted(source: Readable, total: number | undefined, hooks: TransferHooks): Readable {
  let sent = 0;
  let last = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent += chunk.length;
      const now = Date.now();
      if (now - last > 500 || (total !== undefined && sent === total)) {
        last = now;
        hooks.onProgress?.(sent, total);
      }
      callback(null, chunk);
    },
  });
  source.once('error', (err) => counter.destroy(err));
  return source.pipe(counter);
}

/** Streams a spooled upload to one host and waits until the host has imported it. */
export async function uploadToHost(
  client: HostClient,
  spool: SpooledImage,
  headers: UploadHeaders,
  hooks: TransferHooks = {},
): Promise<Record<string, unknown>> {
  const body = counted(createReadStream(spool.path), spool.size, hooks);
  const res = await client.raw('POST', '/1.0/images', body, {
    headers: uploadHeaderMap(headers, spool.contentType),
    timeoutMs: TRANSFER_TIMEOUT_MS,
    signal: hooks.signal,
  });
  return awaitImport(client, res, 'image upload', hooks);
}

/** Where other LXD servers can reach a host, and the certificate they must expect. */
export interface HostEndpointInfo {
  /** `https://addr:port`, or undefined when the host listens on no usable network address. */
  server?: string;
  certificate: string;
}

/** Finds how a host can be reached by its peers: its fleet URL if https, else its own advertised address. */
export async function endpointOf(client: HostClient): Promise<HostEndpointInfo> {
  const info = await client.get<LxdServer>('/1.0');
  const certificate = info.environment.certificate;
  if (client.url.startsWith('https://')) return { server: client.url, certificate };
  const usable = info.environment.addresses.find(
    (a) => !/^(0\.0\.0\.0|\[::\]|::)(:|$)/.test(a) && a !== '' && !a.startsWith(':'),
  );
  return { server: usable === undefined ? undefined : `https://${usable}`, certificate };
}

export interface CopyOptions {
  public: boolean;
  /** `pull`: the target downloads from the holder with a one-time secret; `relay`: the manager streams it. */
  mode: 'pull' | 'relay';
  /** Image file name, for a relayed upload. */
  filename?: string;
}

/**
 * Copies an image from one host to another. Pull mode has the target download from the holder (as
 * `lxc image copy` does between two servers) and falls back to relaying through the manager when the
 * holder has no network address (hosts paired over their unix socket).
 */
export async function copyBetweenHosts(
  holder: HostClient,
  target: HostClient,
  fingerprint: string,
  opts: CopyOptions,
  hooks: TransferHooks = {},
): Promise<Record<string, unknown>> {
  if (opts.mode === 'pull') {
    const endpoint = await endpointOf(holder);
    if (endpoint.server !== undefined) {
      const token = await holder.call<LxdOperation>('POST', `/1.0/images/${fingerprint}/secret`, {});
      const secret = token.metadata.metadata?.secret;
      if (typeof secret !== 'string') {
        throw new UpstreamError(holder.name, 'POST', `/1.0/images/${fingerprint}/secret`, 500, 'No secret');
      }
      const res = await target.raw(
        'POST',
        '/1.0/images',
        JSON.stringify({
          source: {
            type: 'image',
            mode: 'pull',
            server: endpoint.server,
            protocol: 'lxd',
            certificate: endpoint.certificate,
            fingerprint,
            secret,
          },
          public: opts.public,
          auto_update: false,
        }),
        {
          headers: { 'content-type': 'application/json' },
          timeoutMs: TRANSFER_TIMEOUT_MS,
          signal: hooks.signal,
        },
      );
      return awaitImport(target, res, 'image download', hooks);
    }
  }
  const exported = await holder.raw('GET', `/1.0/images/${fingerprint}/export`, undefined, {
    timeoutMs: TRANSFER_TIMEOUT_MS,
    signal: hooks.signal,
  });
  if (exported.status >= 400) {
    const envelope = (await exported.body.json().catch(() => undefined)) as LxdResponse | undefined;
    const message = envelope?.type === 'error' ? envelope.error : `HTTP ${exported.status}`;
    throw new UpstreamError(
      holder.name,
      'GET',
      `/1.0/images/${fingerprint}/export`,
      exported.status,
      message,
    );
  }
  const contentType = String(exported.headers['content-type'] ?? 'application/octet-stream');
  const length = Number(exported.headers['content-length'] ?? Number.NaN);
  const body = counted(exported.body, Number.isFinite(length) ? length : undefined, hooks);
  const res = await target.raw('POST', '/1.0/images', body, {
    headers: uploadHeaderMap({ filename: opts.filename, public: opts.public }, contentType),
    timeoutMs: TRANSFER_TIMEOUT_MS,
    signal: hooks.signal,
  });
  return awaitImport(target, res, 'image upload', hooks);
}
