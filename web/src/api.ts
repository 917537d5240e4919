import type { LxdOperation, LxdResponse } from './types';

/** An error the API answered with, or a failed operation: `message` is what LXD said, ready to show. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Fired when the session is gone (expired or revoked), so the app can show the sign-in page. */
export const UNAUTHORIZED_EVENT = 'lxdpm:unauthorized';

export interface ApiResult<T> {
  metadata: T;
  etag?: string;
  /** Set for async responses: the operation to wait on. */
  operation?: LxdOperation;
}

function messageOf(status: number, body: unknown): string {
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error === 'string' && error !== '') return error;
  return status === 0 ? 'The manager cannot be reached' : `The manager answered HTTP ${status}`;
}

async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResult<T>> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError('The manager cannot be reached. Check that it is running.', 0);
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    if (res.status === 403 && !path.startsWith('/ui/')) window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
    throw new ApiError(messageOf(res.status, parsed), res.status);
  }
  const envelope = parsed as LxdResponse<T> | undefined;
  if (envelope === undefined) return { metadata: undefined as T };
  if (envelope.type === 'error')
    throw new ApiError(messageOf(envelope.error_code, envelope), envelope.error_code);
  const etag = res.headers.get('ETag') ?? undefined;
  if (envelope.type === 'async') return { metadata: undefined as T, etag, operation: envelope.metadata };
  return { metadata: envelope.metadata, etag };
}

export function isFinal(op: LxdOperation): boolean {
  return op.status_code >= 200;
}

/** Waits for an operation to end; a failed or cancelled one throws its error text. */
export async function waitOperation(op: LxdOperation): Promise<LxdOperation> {
  let current = op;
  while (!isFinal(current)) {
    const { metadata } = await request<LxdOperation>(
      'GET',
      `/1.0/operations/${encodeURIComponent(current.id)}/wait?timeout=30`,
    );
    current = metadata;
  }
  if (current.status !== 'Success') {
    throw new ApiError(current.err !== '' ? current.err : `Operation ${current.status.toLowerCase()}`, 400);
  }
  return current;
}

export const api = {
  async get<T>(path: string): Promise<T> {
    return (await request<T>('GET', path)).metadata;
  },
  async getWithEtag<T>(path: string): Promise<{ value: T; etag?: string }> {
    const r = await request<T>('GET', path);
    return { value: r.metadata, etag: r.etag };
  },
  /** Sends a request; an async answer is waited for, so the promise settles when the work is done. */
  async run<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>) {
    const r = await request<T>(method, path, body, headers);
    if (r.operation !== undefined) await waitOperation(r.operation);
    return r.metadata;
  },
  /** Sends a request and returns the operation of an async answer without waiting for it. */
  async start(method: string, path: string, body?: unknown): Promise<LxdOperation | undefined> {
    return (await request(method, path, body)).operation;
  },
  request,
};

/** Turns anything thrown into a sentence for the page. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Uploads a file as a raw body with upload progress (fetch cannot report it). Resolves to the envelope. */
export function upload(
  path: string,
  file: Blob,
  headers: Record<string, string>,
  onProgress: (fraction: number) => void,
): Promise<ApiResult<unknown>> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onerror = () => {
      reject(new ApiError('The upload was interrupted: the manager cannot be reached', 0));
    };
    xhr.onload = () => {
      let body: LxdResponse | undefined;
      try {
        body = JSON.parse(xhr.responseText) as LxdResponse;
      } catch {
        body = undefined;
      }
      if (xhr.status >= 400 || body === undefined || body.type === 'error') {
        reject(new ApiError(messageOf(xhr.status, body), xhr.status));
        return;
      }
      onProgress(1);
      resolve(
        body.type === 'async'
          ? { metadata: undefined, operation: body.metadata }
          : { metadata: body.metadata },
      );
    };
    xhr.send(file);
  });
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '0 B';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  const i = Math.min(units.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
  const v = n / 1024 ** i;
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i] ?? 'B'}`;
}

export function formatDate(iso: string | undefined): string {
  if (iso === undefined || iso === '' || iso.startsWith('0001-')) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/**
 * Orders two RFC 3339 times as instants, to the nanosecond. Text order is not enough: LXD trims trailing
 * zeros of the fraction (so `.4268451` follows `.426845` but sorts before it) and may use any offset.
 */
export function compareTimes(a: string, b: string): number {
  const [msA, nsA] = instant(a);
  const [msB, nsB] = instant(b);
  return msA !== msB ? msA - msB : nsA - nsB;
}

/** Whole milliseconds since the epoch, and the nanoseconds below them. */
function instant(time: string): [number, number] {
  const match = /^([^.]*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$/i.exec(time);
  const digits = (match?.[2] ?? '').padEnd(9, '0').slice(0, 9);
  const ms = Date.parse(`${match?.[1] ?? time}.${digits.slice(0, 3)}${match?.[3] ?? 'Z'}`);
  return [Number.isNaN(ms) ? 0 : ms, Number(digits.slice(3))];
}

export function instancePath(name: string, sub = ''): string {
  return `/1.0/instances/${encodeURIComponent(name)}${sub}`;
}
