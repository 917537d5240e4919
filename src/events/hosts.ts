import { setTimeout as wait } from 'node:timers/promises';
import type WebSocket from 'ws';
import type { Fleet, LocationIndex } from '../fleet/index.js';
import type { LxdEvent, LxdOperation } from '../lxd/index.js';
import type { OperationRouter } from '../operations/index.js';
import type { EventHub } from './hub.js';

export interface HostEventStreamsOptions {
  fleet: Fleet;
  hub: EventHub;
  opRouter: OperationRouter;
  locations: LocationIndex;
  /** Delay before reconnecting a dropped stream. */
  reconnectMs?: number;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/**
 * Keeps one `/1.0/events` subscription per host and feeds the hub: every host event is re-published
 * with `location` set to the host's name. Operation events teach the operation router where each
 * operation lives; lifecycle events update the location index between rescans.
 */
export class HostEventStreams {
  private readonly streams = new Map<
    string,
    { socket?: WebSocket; loop: Promise<void>; abort: AbortController }
  >();
  private readonly abort = new AbortController();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: HostEventStreamsOptions) {}

  start(): void {
    this.unsubscribe = this.opts.fleet.onStatus((host) => {
      if (host.status === 'Online') this.ensure(host.name);
    });
    for (const h of this.opts.fleet.list()) this.ensure(h.name);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.unsubscribe?.();
    for (const s of this.streams.values()) {
      s.abort.abort();
      s.socket?.terminate();
    }
    await Promise.all([...this.streams.values()].map((s) => s.loop));
  }

  /** Makes sure a host's stream runs (idempotent). */
  ensure(host: string): void {
    if (this.abort.signal.aborted) return;
    const existing = this.streams.get(host);
    if (existing && !existing.abort.signal.aborted) return;
    const abort = new AbortController();
    const entry: { socket?: WebSocket; loop: Promise<void>; abort: AbortController } = {
      abort,
      loop: Promise.resolve(),
    };
    this.streams.set(host, entry);
    entry.loop = this.run(host, entry, abort.signal);
  }

  private async run(host: string, entry: { socket?: WebSocket }, signal: AbortSignal): Promise<void> {
    const stopped = () => signal.aborted || this.abort.signal.aborted || !this.opts.fleet.has(host);
    while (!stopped()) {
      await this.connectOnce(host, entry).catch((err: unknown) => {
        this.opts.log?.warn(
          { host, err: err instanceof Error ? err.message : String(err) },
          'event stream dropped',
        );
      });
      entry.socket = undefined;
      if (stopped()) break;
      await wait(this.opts.reconnectMs ?? 1000, undefined, { signal }).catch(() => undefined);
    }
    if (this.streams.get(host)?.socket === undefined) this.streams.delete(host);
  }

  private async connectOnce(host: string, entry: { socket?: WebSocket }): Promise<void> {
    const socket = this.opts.fleet.client(host).websocket('/1.0/events?type=operation,lifecycle');
    entry.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => {
        this.opts.log?.info({ host }, 'event stream connected');
      });
      socket.on('message', (data: Buffer) => {
        this.handle(host, data);
      });
      socket.once('error', reject);
      socket.once('close', () => {
        resolve();
      });
    });
  }

  private handle(host: string, data: Buffer): void {
    let event: LxdEvent;
    try {
      event = JSON.parse(data.toString('utf8')) as LxdEvent;
    } catch {
      return;
    }
    event.location = host;
    if (event.type === 'operation') {
      const op = event.metadata as LxdOperation | null;
      if (op && typeof op.id === 'string') {
        this.opts.opRouter.remember(op.id, host);
        event.metadata = { ...op, location: host };
      }
    } else if (event.type === 'lifecycle') {
      const meta = event.metadata as {
        action?: string;
        source?: string;
        context?: Record<string, unknown>;
      } | null;
      if (meta && typeof meta.action === 'string' && typeof meta.source === 'string') {
        this.opts.locations
          .applyLifecycle(host, meta.action, meta.source, meta.context ?? {})
          .catch(() => undefined);
      }
    }
    this.opts.hub.publish(event);
  }
}
