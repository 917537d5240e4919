import { isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { Readable } from 'node:stream';
import { Pool, buildConnector, type Dispatcher } from 'undici';
import WebSocket from 'ws';
import { HostUnavailableError, UpstreamError } from '../errors/index.js';
import { derToPem, fingerprintOfDer, type KeyPair } from '../trust/certificates.js';
import type { LxdOperation, LxdResponse } from './types.js';

/** Where a host is and how to prove who we are to it. */
export interface HostEndpoint {
  name: string;
  /** `https://addr:port` or `unix:///path/unix.socket`. */
  url: string;
  /** The host's pinned certificate (PEM); required for https. */
  certificate?: string;
  /** The manager's client certificate, presented to https hosts (unused over unix sockets). */
  clientCert?: KeyPair;
  /** Default per-request timeout. */
  timeoutMs?: number;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export function isUnixUrl(url: string): boolean {
  return url.startsWith('unix://');
}

export function unixSocketPath(url: string): string {
  return url.replace(/^unix:\/\//, '');
}

function withQuery(path: string, query: RequestOptions['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
  const qs = params.toString();
  if (qs === '') return path;
  return `${path}${path.includes('?') ? '&' : '?'}${qs}`;
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ENOENT') return 'socket not found';
    if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') return 'timed out';
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
    return err.message;
  }
  return String(err);
}

/**
 * A connector that completes the TLS handshake, then checks that the host presents exactly its pinned
 * certificate before a single request byte is written. LXD certificates are self-signed and rarely name
 * the address they are reached at, so the pin, not a CA chain or a hostname, is the identity.
 */
function pinnedConnector(endpoint: HostEndpoint): buildConnector.connector {
  const pinned = endpoint.certificate;
  if (pinned === undefined) throw new Error(`host ${endpoint.name}: https requires a pinned certificate`);
  const expected = fingerprintOfDer(Buffer.from(pinned.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
  const base = buildConnector({
    cert: endpoint.clientCert?.cert,
    key: endpoint.clientCert?.key,
    rejectUnauthorized: false,
    timeout: endpoint.timeoutMs ?? 10_000,
    // A resumed TLS session shows no peer certificate, so the pin could not be checked: never resume.
    maxCachedSessions: 0,
  });
  return (opts, callback) => {
    base(opts, (err, socket) => {
      if (err !== null) {
        callback(err, null);
        return;
      }
      const der = (socket as TLSSocket).getPeerCertificate().raw as Buffer | undefined;
      if (der === undefined || fingerprintOfDer(der) !== expected) {
        socket.destroy();
        callback(new Error('Host certificate does not match the pinned certificate'), null);
        return;
      }
      callback(null, socket);
    });
  };
}

/** One host's connection pool and typed calls. */
export class HostClient {
  readonly name: string;
  readonly url: string;
  private readonly pool: Pool;
  private readonly timeoutMs: number;
  /** The last TLS session of a websocket to this host, resumed by the next one. */
  private tlsSession: Buffer | undefined;

  constructor(private readonly endpoint: HostEndpoint) {
    this.name = endpoint.name;
    this.url = endpoint.url;
    this.timeoutMs = endpoint.timeoutMs ?? 30_000;
    this.pool = isUnixUrl(endpoint.url)
      ? new Pool('http://lxd', { socketPath: unixSocketPath(endpoint.url), connections: 32 })
      : new Pool(endpoint.url, { connect: pinnedConnector(endpoint), connections: 32 });
  }

  /** Sends a request and hands back the raw response, for streaming proxies. Network failures become HostUnavailableError. */
  async raw(
    method: Dispatcher.HttpMethod,
    path: string,
    body?: string | Buffer | Readable | null,
    opts: RequestOptions = {},
  ): Promise<RawResponse> {
    const timeout = opts.timeoutMs ?? this.timeoutMs;
    // A timeout of 0 means none: the caller's signal (e.g. the client going away) ends the wait.
    const signals = timeout > 0 ? [AbortSignal.timeout(timeout)] : [];
    if (opts.signal) signals.push(opts.signal);
    try {
      const res = await this.pool.request({
        method,
        path: withQuery(path, opts.query),
        headers: opts.headers,
        body: body ?? undefined,
        signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
        headersTimeout: timeout,
        bodyTimeout: 0,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    } catch (err) {
      throw new HostUnavailableError(this.name, describeNetworkError(err), { cause: err });
    }
  }

  /** A JSON request; returns LXD's envelope and the HTTP status. */
  async request<T = unknown>(
    method: Dispatcher.HttpMethod,
    path: string,
    body?: unknown,
    opts: RequestOptions = {},
  ): Promise<{ status: number; headers: RawResponse['headers']; envelope: LxdResponse<T> }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers =
      payload === undefined ? opts.headers : { 'content-type': 'application/json', ...opts.headers };
    const res = await this.raw(method, path, payload, { ...opts, headers });
    let envelope: LxdResponse<T>;
    try {
      envelope = (await res.body.json()) as LxdResponse<T>;
    } catch (err) {
      throw new HostUnavailableError(this.name, `invalid response to ${method} ${path}`, { cause: err });
    }
    return { status: res.status, headers: res.headers, envelope };
  }

  /** A request whose answer must be a sync or async success; LXD errors become UpstreamError. */
  async call<T = unknown>(
    method: Dispatcher.HttpMethod,
    path: string,
    body?: unknown,
    opts: RequestOptions = {},
  ): Promise<{ metadata: T; operation: string; headers: RawResponse['headers'] }> {
    const { status, headers, envelope } = await this.request<T>(method, path, body, opts);
    if (envelope.type === 'error' || status >= 400) {
      const message = envelope.type === 'error' ? envelope.error : `HTTP ${status}`;
      throw new UpstreamError(this.name, method, path, status, message);
    }
    if (envelope.type === 'async') {
      return { metadata: envelope.metadata as T, operation: envelope.operation, headers };
    }
    return { metadata: envelope.metadata, operation: '', headers };
  }

  async get<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
    return (await this.call<T>('GET', path, undefined, opts)).metadata;
  }

  /** Waits for one of this host's operations to finish and returns its final state. */
  async waitOperation(id: string, timeoutSeconds = -1, signal?: AbortSignal): Promise<LxdOperation> {
    const timeoutMs = timeoutSeconds < 0 ? 24 * 3600 * 1000 : timeoutSeconds * 1000 + 5000;
    return this.get<LxdOperation>(`/1.0/operations/${encodeURIComponent(id)}/wait`, {
      query: { timeout: String(timeoutSeconds) },
      timeoutMs,
      signal,
    });
  }

  /** Waits for an operation and throws UpstreamError if it failed. */
  async expectSuccess(id: string, what: string): Promise<LxdOperation> {
    const op = await this.waitOperation(id);
    if (op.status !== 'Success') {
      throw new UpstreamError(
        this.name,
        'OPERATION',
        what,
        400,
        op.err !== '' ? op.err : `Operation ${op.status}`,
      );
    }
    return op;
  }

  /** Opens a websocket to the host, authenticated like every other request. */
  websocket(path: string): WebSocket {
    if (isUnixUrl(this.url)) {
      return new WebSocket(`ws+unix://${unixSocketPath(this.url)}:${path}`, { perMessageDeflate: false });
    }
    const target = new URL(path, this.url.replace(/^https:/, 'wss:'));
    return new WebSocket(target, {
      perMessageDeflate: false,
      cert: this.endpoint.clientCert?.cert,
      key: this.endpoint.clientCert?.key,
      ca: this.endpoint.certificate,
      // The pinned certificate is the only trust anchor; its names need not match the address.
      // (Node's contract is "return an Error or undefined"; ws declares it as boolean.)
      checkServerIdentity: acceptAnyName as unknown as () => boolean,
      // Every websocket is a new TLS connection (an exec opens up to four in a row, within the host's
      // five-second window): resuming the last session skips certificate signing and checking.
      createConnection: (opts: ConnectionOptions) => {
        const host = opts.host ?? '';
        const servername = isIP(host) === 0 ? host : '';
        const socket = tlsConnect({ ...opts, path: undefined, servername, session: this.tlsSession });
        socket.once('session', (session: Buffer) => {
          this.tlsSession = session;
        });
        return socket;
      },
    } as WebSocket.ClientOptions);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

function acceptAnyName(): undefined {
  return undefined;
}

/** Reads the certificate a TLS server presents, without trusting it (the first step of pairing). */
export async function fetchServerCertificate(url: string, timeoutMs = 10_000): Promise<string> {
  const u = new URL(url);
  const port = u.port === '' ? 8443 : Number(u.port);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host,
      port,
      rejectUnauthorized: false,
      servername: undefined,
      timeout: timeoutMs,
    });
    socket.once('secureConnect', () => {
      const der = socket.getPeerCertificate().raw as Buffer | undefined;
      socket.end();
      if (der === undefined) reject(new Error('no certificate presented'));
      else resolve(derToPem(der));
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error('timed out'));
    });
    socket.once('error', reject);
  });
}
