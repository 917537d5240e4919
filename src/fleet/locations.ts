import { setTimeout as wait } from 'node:timers/promises';
import { ConflictError, NotFoundError } from '../errors/index.js';
import type { LxdInstance } from '../lxd/index.js';
import type { InstanceRecord, Store } from '../store/index.js';
import type { Fleet } from './fleet.js';

export interface NameConflict {
  name: string;
  hosts: string[];
}

export interface LocationIndexOptions {
  store: Store;
  fleet: Fleet;
  rescanIntervalMs?: number;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/**
 * The location index: which host holds each instance. Names are unique across the fleet: a create
 * reserves its name before it is placed, so of N concurrent creates of one name exactly one proceeds.
 * Kept live from the hosts' lifecycle events and corrected by periodic full rescans, which also find
 * instances made or removed directly on a host and names present on two hosts (reported, never hidden).
 */
export class LocationIndex {
  private readonly entries = new Map<string, InstanceRecord>();
  private conflictList: NameConflict[] = [];
  /** Reservations found at start: creates of a manager that stopped mid-way, settled by the first rescan. */
  private readonly orphans = new Set<string>();
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  /** Serialises store writes so reservations decide in memory first, then persist in order. */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: LocationIndexOptions) {}

  async load(): Promise<void> {
    for (const rec of await this.opts.store.listInstances()) {
      this.entries.set(rec.name, rec);
      if (rec.state === 'reserved') this.orphans.add(rec.name);
    }
  }

  start(): void {
    if (this.loop) return;
    const signal = this.abort.signal;
    this.loop = (async () => {
      for (;;) {
        await wait(this.opts.rescanIntervalMs ?? 30_000, undefined, { signal }).catch(() => undefined);
        if (this.stopping()) break;
        await this.rescan().catch((err: unknown) => {
          this.opts.log?.warn({ err }, 'rescan failed');
        });
      }
    })();
  }

  private stopping(): boolean {
    return this.abort.signal.aborted;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await this.writes;
  }

  hostOf(name: string): string | undefined {
    return this.entries.get(name)?.host;
  }

  /** The host of an instance, or LXD's 404. */
  locate(name: string): string {
    const host = this.hostOf(name);
    if (host === undefined) throw new NotFoundError('Instance not found');
    return host;
  }

  get(name: string): InstanceRecord | undefined {
    const rec = this.entries.get(name);
    return rec && { ...rec };
  }

  list(): InstanceRecord[] {
    return [...this.entries.values()].map((r) => ({ ...r })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Instances per host, reservations (placements in flight) included. */
  countByHost(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const rec of this.entries.values()) counts.set(rec.host, (counts.get(rec.host) ?? 0) + 1);
    return counts;
  }

  conflicts(): NameConflict[] {
    return this.conflictList.map((c) => ({ ...c, hosts: [...c.hosts] }));
  }

  /** Claims a name for a create in flight. Throws ConflictError if the name is taken anywhere. */
  async reserve(name: string, host: string): Promise<void> {
    if (this.entries.has(name)) throw new ConflictError(`Instance "${name}" already exists`);
    const rec: InstanceRecord = { name, host, state: 'reserved', snapshot: {} };
    this.entries.set(name, rec);
    await this.persist(() => this.opts.store.putInstance(rec));
  }

  /** Moves a reservation to another host (the planner chose after the name was claimed). */
  async move(name: string, host: string): Promise<void> {
    const rec = this.entries.get(name);
    if (!rec) throw new NotFoundError('Instance not found');
    rec.host = host;
    await this.persist(() => this.opts.store.putInstance(rec));
  }

  /** Records an instance as present on a host (after a create, or when seen there). */
  async confirm(name: string, host: string, instance?: LxdInstance | Record<string, unknown>): Promise<void> {
    const rec: InstanceRecord = {
      name,
      host,
      state: 'present',
      snapshot: instance ? { ...instance, location: host } : (this.entries.get(name)?.snapshot ?? {}),
    };
    this.entries.set(name, rec);
    await this.persist(() => this.opts.store.putInstance(rec));
  }

  /** Refreshes the last known state of an instance, served while its host is offline. */
  remember(name: string, instance: Record<string, unknown>): void {
    const rec = this.entries.get(name);
    if (rec?.state !== 'present') return;
    rec.snapshot = { ...instance, location: rec.host };
    void this.persist(() => this.opts.store.putInstance(rec));
  }

  /** Forgets a name: a failed create's reservation, or a deleted instance. */
  async release(name: string): Promise<void> {
    if (!this.entries.delete(name)) return;
    await this.persist(() => this.opts.store.deleteInstance(name));
  }

  async rename(from: string, to: string): Promise<void> {
    const rec = this.entries.get(from);
    if (!rec) throw new NotFoundError('Instance not found');
    if (this.entries.has(to)) throw new ConflictError(`Instance "${to}" already exists`);
    this.entries.delete(from);
    const next = { ...rec, name: to, snapshot: { ...rec.snapshot, name: to } };
    this.entries.set(to, next);
    await this.persist(async () => {
      await this.opts.store.deleteInstance(from);
      await this.opts.store.putInstance(next);
    });
  }

  /**
   * Compares the index with what the hosts report. Only hosts that answered are corrected: an offline
   * host keeps its last known instances.
   */
  async rescan(): Promise<void> {
    const online = this.opts.fleet.online();
    const seen = new Map<string, { host: string; instance: LxdInstance }[]>();
    const answered = new Set<string>();
    await Promise.all(
      online.map(async (h) => {
        try {
          const list = await this.opts.fleet.client(h.name).get<LxdInstance[]>('/1.0/instances', {
            query: { recursion: '1' },
            timeoutMs: 15_000,
          });
          answered.add(h.name);
          for (const inst of list) {
            const at = seen.get(inst.name) ?? [];
            at.push({ host: h.name, instance: inst });
            seen.set(inst.name, at);
          }
        } catch (err) {
          this.opts.log?.warn({ host: h.name, err }, 'rescan: host did not answer');
        }
      }),
    );

    const conflicts: NameConflict[] = [];
    for (const [name, places] of seen) {
      const current = this.entries.get(name);
      if (places.length > 1) {
        conflicts.push({ name, hosts: places.map((p) => p.host).sort() });
      }
      // Keep the host the index already knows when a name is on several; otherwise take the first.
      const chosen = places.find((p) => p.host === current?.host) ?? places[0];
      if (!chosen) continue;
      // A create in flight confirms its own reservation; an orphaned one is settled here.
      if (current?.state === 'reserved' && !this.orphans.has(name)) continue;
      this.orphans.delete(name);
      if (current?.host !== chosen.host || current.state !== 'present') {
        if (!current) this.opts.log?.info({ name, host: chosen.host }, 'instance found on host');
        await this.confirm(name, chosen.host, chosen.instance);
      } else {
        this.remember(name, chosen.instance);
      }
    }
    for (const rec of [...this.entries.values()]) {
      if (this.orphans.has(rec.name) && answered.has(rec.host) && !seen.has(rec.name)) {
        // The interrupted create never reached the host: free the name.
        this.orphans.delete(rec.name);
        this.opts.log?.info(
          { name: rec.name, host: rec.host },
          'releasing reservation of an interrupted create',
        );
        await this.release(rec.name);
        continue;
      }
      if (rec.state !== 'present' || !answered.has(rec.host)) continue;
      const places = seen.get(rec.name);
      if (!places?.some((p) => p.host === rec.host)) {
        this.opts.log?.info({ name: rec.name, host: rec.host }, 'instance gone from host');
        await this.release(rec.name);
      }
    }
    for (const c of conflicts) {
      if (!this.conflictList.some((k) => k.name === c.name && k.hosts.join() === c.hosts.join())) {
        this.opts.log?.warn({ name: c.name, hosts: c.hosts }, 'instance name present on several hosts');
      }
    }
    this.conflictList = conflicts;
  }

  /** Applies a host's lifecycle event at once, between rescans. */
  async applyLifecycle(
    host: string,
    action: string,
    source: string,
    context: Record<string, unknown>,
  ): Promise<void> {
    const m = /^\/1\.0\/(?:instances|containers)\/([^/?]+)$/.exec(source);
    if (!m?.[1]) return;
    const name = decodeURIComponent(m[1]);
    const current = this.entries.get(name);
    switch (action) {
      case 'instance-created':
        if (!current) await this.confirm(name, host);
        break;
      case 'instance-deleted':
        if (current?.host === host && current.state === 'present') await this.release(name);
        break;
      case 'instance-renamed': {
        const oldName = typeof context.old_name === 'string' ? context.old_name : undefined;
        if (oldName !== undefined && this.entries.get(oldName)?.host === host && !this.entries.has(name)) {
          await this.rename(oldName, name);
        }
        break;
      }
      default:
        break;
    }
  }

  private async persist(write: () => Promise<void>): Promise<void> {
    const next = this.writes.then(write);
    this.writes = next.catch(() => undefined);
    await next;
  }
}
