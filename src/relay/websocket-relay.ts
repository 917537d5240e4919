import type { ClientRequest, IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { HostUnavailableError, UpstreamError } from '../errors/index.js';

/** Bytes queued towards one side before the other side's reading is paused (and resumed below `low`). */
export interface Backpressure {
  high: number;
  low: number;
}

export const DEFAULT_BACKPRESSURE: Backpressure = { high: 1024 * 1024, low: 256 * 1024 };

/** Largest error body read from a host that refused a websocket upgrade. */
const ERROR_BODY_LIMIT = 64 * 1024;

interface HeldFrame {
  data: Buffer;
  binary: boolean;
}

/**
 * Frames and the close of a socket that arrived before its partner existed (a host may send output the
 * moment the last exec websocket connects, before the client's upgrade completes). Reading stays paused
 * until the relay takes over.
 */
export class HeldFrames {
  readonly frames: HeldFrame[] = [];
  closed: { code: number; reason: Buffer } | undefined;
  private readonly onMessage = (data: WebSocket.RawData, binary: boolean) => {
    this.frames.push({ data: toBuffer(data), binary });
  };
  private readonly onClose = (code: number, reason: Buffer) => {
    this.closed = { code, reason };
  };
  private readonly onError = () => undefined;

  constructor(readonly socket: WebSocket) {
    socket.pause();
    socket.on('message', this.onMessage);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
  }

  /** Stops holding; the caller attaches its own listeners first. */
  release(): void {
    this.socket.off('message', this.onMessage);
    this.socket.off('close', this.onClose);
    this.socket.off('error', this.onError);
  }
}

export function holdFrames(socket: WebSocket): HeldFrames {
  return new HeldFrames(socket);
}

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Close codes a peer may put in a close frame (1005, 1006 and 1015 only describe what happened). */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/**
 * Closes `socket` the way its partner closed: with the same code and reason when that code can be sent,
 * otherwise (the partner sent an empty close frame, or vanished without one, as LXD does on exec data
 * sockets) with an empty close frame, so the client still sees the end of the stream. Frames already
 * queued go out first: a close frame is written after them.
 */
export function closeLike(socket: WebSocket, code: number, reason: Buffer): void {
  if (socket.readyState === WebSocket.CLOSING || socket.readyState === WebSocket.CLOSED) return;
  if (socket.readyState === WebSocket.CONNECTING) {
    socket.terminate();
    return;
  }
  if (isSendableCloseCode(code)) socket.close(code, reason.subarray(0, 123));
  else socket.close();
}

export interface RelayEnd {
  /** Close code seen from each side (1006: dropped without a close frame). */
  codes: { a: number; b: number };
  /** Frames relayed a → b and b → a. */
  frames: { ab: number; ba: number };
}

export interface RelayOptions {
  backpressure?: Backpressure;
  /** Frames `b` sent before the relay started (see holdFrames). */
  heldB?: HeldFrames;
}

/**
 * Relays two open websockets frame by frame in both directions: text stays text (an empty text frame is
 * LXD's end-of-stream marker), binary stays binary, pings are passed on. When the socket being written to
 * has more than `high` bytes queued, the other one stops reading until the queue drains below `low`.
 * When either side closes, the other is closed the same way. Resolves once both sides are closed.
 */
export function relayWebSockets(a: WebSocket, b: WebSocket, opts: RelayOptions = {}): Promise<RelayEnd> {
  const bp = opts.backpressure ?? DEFAULT_BACKPRESSURE;
  const codes = { a: 0, b: 0 };
  const frames = { ab: 0, ba: 0 };

  const pipe = (from: WebSocket, to: WebSocket, count: (n: number) => void) => {
    let paused = false;
    const sent = () => {
      if (paused && to.bufferedAmount <= bp.low) {
        paused = false;
        from.resume();
      }
    };
    return (data: WebSocket.RawData, binary: boolean) => {
      if (to.readyState !== WebSocket.OPEN) return;
      count(1);
      to.send(toBuffer(data), { binary }, sent);
      if (!paused && to.bufferedAmount > bp.high) {
        paused = true;
        from.pause();
      }
    };
  };

  const toB = pipe(a, b, (n) => (frames.ab += n));
  const toA = pipe(b, a, (n) => (frames.ba += n));

  let resolveDone: (end: RelayEnd) => void = () => undefined;
  const done = new Promise<RelayEnd>((resolve) => {
    resolveDone = resolve;
  });
  let open = 2;
  const closed = (side: 'a' | 'b', other: WebSocket) => (code: number, reason: Buffer) => {
    codes[side] = code;
    closeLike(other, code, reason);
    open -= 1;
    if (open === 0) resolveDone({ codes, frames });
  };
  const closedA = closed('a', b);
  const closedB = closed('b', a);

  a.on('message', toB);
  b.on('message', toA);
  // Errors are followed by 'close', which ends the relay; a listener keeps them from being thrown.
  a.on('error', () => undefined);
  b.on('error', () => undefined);
  a.on('ping', (data) => {
    if (b.readyState === WebSocket.OPEN) b.ping(data);
  });
  b.on('ping', (data) => {
    if (a.readyState === WebSocket.OPEN) a.ping(data);
  });

  const held = opts.heldB;
  held?.release();
  for (const f of held?.frames ?? []) toA(f.data, f.binary);
  // A side that closed before the relay began has already fired its 'close': settle it here.
  if (held?.closed) closedB(held.closed.code, held.closed.reason);
  else b.once('close', closedB);
  if (a.readyState === WebSocket.CLOSED) closedA(1006, Buffer.alloc(0));
  else a.once('close', closedA);
  // Held frames may already have filled a's queue; then b stays paused until that queue drains.
  if (a.bufferedAmount <= bp.high) b.resume();
  return done;
}

/**
 * Waits for a websocket dialled to a host to open, and holds its frames from that moment on (a host may
 * send in the same packet as its upgrade answer). A refused upgrade becomes the host's own LXD error
 * (status and message), a network failure HostUnavailableError.
 */
export async function openUpstream(socket: WebSocket, host: string, path: string): Promise<HeldFrames> {
  return new Promise<HeldFrames>((resolve, reject) => {
    const cleanup = () => {
      socket.off('open', onOpen);
      socket.off('error', onError);
      socket.off('unexpected-response', onResponse);
    };
    const onOpen = () => {
      cleanup();
      resolve(holdFrames(socket));
    };
    const onError = (err: Error) => {
      cleanup();
      socket.on('error', () => undefined);
      reject(new HostUnavailableError(host, err.message, { cause: err }));
    };
    const onResponse = (req: ClientRequest, res: IncomingMessage) => {
      cleanup();
      socket.on('error', () => undefined);
      const status = res.statusCode ?? 502;
      const fail = (message: string | undefined) => {
        req.destroy();
        reject(new UpstreamError(host, 'GET', path, status, message ?? `HTTP ${status}`));
      };
      readErrorBody(res).then(fail, () => {
        fail(undefined);
      });
    };
    socket.on('open', onOpen);
    socket.on('error', onError);
    socket.on('unexpected-response', onResponse);
  });
}

async function readErrorBody(res: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > ERROR_BODY_LIMIT) break;
    chunks.push(buf);
  }
  try {
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: unknown };
    return typeof parsed.error === 'string' && parsed.error !== '' ? parsed.error : undefined;
  } catch {
    return undefined;
  }
}
