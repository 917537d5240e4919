import { setTimeout as wait } from 'node:timers/promises';
import type { Fleet } from '../fleet/index.js';
import type { OperationRegistry } from '../operations/index.js';
import type { FleetTaskRunner } from './runner.js';

/** One difference between what a host holds and what the fleet defines. */
export interface DriftItem {
  host: string;
  kind: 'image' | 'alias' | 'profile';
  name: string;
  /**
   * `missing` / `different`: the host lacks or differs from the fleet's definition (repaired);
   * `deleted-in-fleet`: deleted through the manager while the host was away (removed from the host);
   * `unmanaged`: made directly on the host (reported, left alone).
   */
  problem: 'missing' | 'different' | 'deleted-in-fleet' | 'unmanaged';
}

/** Finds drift on some hosts and knows how to repair each item. */
export interface Reconciler {
  drift(hosts: string[]): Promise<{ items: DriftItem[]; repair: (item: DriftItem) => Promise<void> }>;
}

export interface FleetSyncOptions {
  fleet: Fleet;
  tasks: FleetTaskRunner;
  operations: OperationRegistry;
  /** Run in order (profiles before images). */
  reconcilers: Reconciler[];
  intervalMs?: number;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface SyncReport {
  host: string;
  drift: DriftItem[];
  repaired: DriftItem[];
  failed: (DriftItem & { error: string })[];
}

const isRepairable = (d: DriftItem) => d.problem !== 'unmanaged';

/**
 * Keeps every host in line with the fleet: a host that comes (back) online is synchronised at once,
 * and a periodic rescan of all online hosts reports drift and repairs it. Repairs of a host run as one
 * manager operation ("Synchronising …") whose metadata lists what was repaired. Passes never overlap.
 */
export class FleetSync {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private lastReports = new Map<string, SyncReport>();

  constructor(private readonly opts: FleetSyncOptions) {}

  start(): void {
    if (this.loop) return;
    this.unsubscribe = this.opts.fleet.onStatus((host) => {
      if (host.status !== 'Online') return;
      void this.enqueue(async () => {
        await this.opts.tasks.retryPending();
        await this.pass([host.name]);
      });
    });
    const signal = this.abort.signal;
    this.loop = (async () => {
      for (;;) {
        await wait(this.opts.intervalMs ?? 60_000, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) break;
        await this.syncNow();
      }
    })();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.abort.abort();
    await this.loop;
    await this.chain;
  }

  /** One pass over the given hosts (default: every online host), after the passes already queued. */
  async syncNow(hosts?: string[]): Promise<SyncReport[]> {
    return this.enqueue(async () => {
      await this.opts.tasks.retryPending();
      await this.opts.tasks.prune();
      return this.pass(hosts ?? this.opts.fleet.onlineNames());
    });
  }

  /** What the last pass found on each host. */
  reports(): SyncReport[] {
    return [...this.lastReports.values()];
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch((err: unknown) => {
      this.opts.log?.warn({ err }, 'fleet sync pass failed');
    });
    return next;
  }

  private async pass(hosts: string[]): Promise<SyncReport[]> {
    if (this.abort.signal.aborted || hosts.length === 0) return [];
    const reports = new Map<string, SyncReport>(
      hosts.map((h) => [h, { host: h, drift: [], repaired: [], failed: [] }]),
    );
    const plans: { item: DriftItem; repair: (item: DriftItem) => Promise<void> }[] = [];
    for (const reconciler of this.opts.reconcilers) {
      const { items, repair } = await reconciler.drift(hosts);
      for (const item of items) {
        reports.get(item.host)?.drift.push(item);
        if (isRepairable(item)) plans.push({ item, repair });
      }
    }
    for (const report of reports.values()) {
      const repairable = report.drift.filter(isRepairable);
      if (repairable.length > 0) this.opts.log?.warn({ host: report.host, drift: repairable }, 'drift found');
      // Things made directly on a host are reported once, not on every pass.
      const unmanaged = report.drift.filter((d) => !isRepairable(d));
      const before = this.lastReports.get(report.host)?.drift.filter((d) => !isRepairable(d)) ?? [];
      if (unmanaged.length > 0 && JSON.stringify(unmanaged) !== JSON.stringify(before)) {
        this.opts.log?.info({ host: report.host, unmanaged }, 'unmanaged images or profiles on a host');
      }
    }
    const byHost = new Map<string, typeof plans>();
    for (const plan of plans) byHost.set(plan.item.host, [...(byHost.get(plan.item.host) ?? []), plan]);
    await Promise.all(
      [...byHost.entries()].map(async ([host, list]) => {
        const report = reports.get(host);
        if (report === undefined) return;
        let work!: Promise<void>;
        this.opts.operations.create({
          class: 'task',
          description: `Synchronising images and profiles on ${host}`,
          metadata: { host, repairs: list.map((p) => p.item) },
          run: (opctx) => {
            work = (async () => {
              for (const { item, repair } of list) {
                try {
                  await repair(item);
                  report.repaired.push(item);
                } catch (err) {
                  report.failed.push({ ...item, error: err instanceof Error ? err.message : String(err) });
                }
                opctx.progress({ repaired: report.repaired, failed: report.failed });
              }
              if (report.failed.length > 0) {
                throw new Error(
                  `Failed to repair ${report.failed.map((f) => `${f.kind} ${f.name}: ${f.error}`).join('; ')}`,
                );
              }
            })();
            return work.then(() => ({ repaired: report.repaired }));
          },
        });
        await work.catch(() => undefined);
        this.opts.log?.info(
          { host, repaired: report.repaired.length, failed: report.failed },
          'host synchronised with the fleet',
        );
      }),
    );
    for (const report of reports.values()) this.lastReports.set(report.host, report);
    return [...reports.values()];
  }
}
