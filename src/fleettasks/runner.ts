import { randomUUID } from 'node:crypto';
import { ConflictError, HostUnavailableError, UpstreamError } from '../errors/index.js';
import type { FleetTaskRecord, FleetTaskStepRecord, Store } from '../store/index.js';
import { KeyedLock } from './lock.js';

/** How to undo a step, as data: it is journaled, so a manager started later can still run it. */
export interface UndoAction {
  type: string;
  [key: string]: unknown;
}

/**
 * Runs one kind of undo. Must be idempotent (an undo may run again after a crash) and treat "already
 * gone" as done. `target` is the step's host, or '' for the manager's own store.
 */
export type UndoHandler = (target: string, undo: UndoAction, note: Record<string, unknown>) => Promise<void>;

export interface FleetTaskSpec {
  /** Defaults to a new UUID; pass the operation id to tie the journal to the operation. */
  id?: string;
  kind: string;
  description: string;
  /** Resource keys (`image:FP`, `profile:NAME`): tasks on the same key run one after the other. */
  resources: string[];
}

/** What a running step can tell the journal. */
export interface StepHandle {
  /** Records facts needed by the undo (e.g. the host operation id), before going on. */
  note(data: Record<string, unknown>): Promise<void>;
  /** Replaces the undo, e.g. with null when the step found its work already done by someone else. */
  setUndo(undo: UndoAction | null): Promise<void>;
  /**
   * Runs a change the host applies entirely or not at all: if the host answers with an error, nothing
   * changed, so there is nothing to undo (and undoing could remove what was there before, e.g. an
   * alias of the same name). A host that could not be reached keeps the undo: the outcome is unknown.
   */
  atomic<T>(fn: () => Promise<T>): Promise<T>;
}

/** Manager-side steps (store changes) use this target. */
export const MANAGER_TARGET = '';

export interface FleetTaskRunnerOptions {
  store: Store;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Hosts that can be reached now; undo steps on other hosts wait for them to come back. */
  isOnline?: (host: string) => boolean;
}

/** The failure of one step, with the host it ran on. */
export class FleetStepError extends UpstreamError {
  override name = 'FleetStepError';
  /** The error without the host name. */
  readonly detail: string;
  constructor(
    readonly target: string,
    readonly action: string,
    readonly reason: unknown,
  ) {
    const { status, message } = describe(reason);
    super(target, 'TASK', action, status, target === MANAGER_TARGET ? message : `${target}: ${message}`);
    this.detail = message;
  }
}

function describe(err: unknown): { status: number; message: string } {
  if (err instanceof UpstreamError) return { status: err.status, message: err.lxdError };
  if (err instanceof HostUnavailableError) return { status: 503, message: err.reason };
  if (err instanceof Error) return { status: 500, message: err.message };
  return { status: 500, message: String(err) };
}

/**
 * One fleet task in progress: each step is journaled (with its undo) before it runs, and marked when it
 * ends, so a rollback — now or after a restart — knows exactly what to revert.
 */
export class FleetTask {
  private seq = 0;
  private readonly steps: FleetTaskStepRecord[] = [];

  constructor(
    private readonly store: Store,
    readonly id: string,
    private readonly onClaim: (key: string) => Promise<void> = () => Promise.resolve(),
  ) {}

  /**
   * Adds a resource learned while running (e.g. the fingerprint of a published image): the fleet sync
   * leaves it alone until the task ends, and a recovery after a crash knows the task held it.
   */
  async claim(key: string): Promise<void> {
    await this.onClaim(key);
  }

  /** Runs `fn` as one journaled step on `target`. A failure is rethrown as FleetStepError. */
  async step<T>(
    target: string,
    action: string,
    undo: UndoAction | null,
    fn: (step: StepHandle) => Promise<T>,
  ): Promise<T> {
    const rec: FleetTaskStepRecord = {
      taskId: this.id,
      seq: ++this.seq,
      target,
      action,
      undo,
      state: 'started',
      note: {},
      error: '',
    };
    this.steps.push(rec);
    await this.store.putFleetTaskStep(rec);
    const handle: StepHandle = {
      note: async (data) => {
        rec.note = { ...rec.note, ...data };
        await this.store.putFleetTaskStep(rec);
      },
      setUndo: async (next) => {
        rec.undo = next;
        await this.store.putFleetTaskStep(rec);
      },
      atomic: async (change) => {
        try {
          return await change();
        } catch (err) {
          if (err instanceof UpstreamError) await handle.setUndo(null);
          throw err;
        }
      },
    };
    try {
      const result = await fn(handle);
      rec.state = 'done';
      await this.store.putFleetTaskStep(rec);
      return result;
    } catch (err) {
      const failure = err instanceof FleetStepError ? err : new FleetStepError(target, action, err);
      rec.state = 'failed';
      rec.error = failure.lxdError;
      await this.store.putFleetTaskStep(rec);
      throw failure;
    }
  }

  /**
   * Runs `fn` for every target in parallel and waits for all of them, so nothing is still running when
   * a rollback starts. Throws the first failure (in target order) — or, when every target failed the
   * same way (a request no host accepts), that error as LXD words it, without a host name.
   */
  async forEachTarget<T>(targets: string[], fn: (target: string) => Promise<T>): Promise<Map<string, T>> {
    const results = await Promise.allSettled(targets.map(fn));
    const failures = results.flatMap((r) =>
      r.status === 'rejected' ? [r.reason instanceof Error ? r.reason : new Error(String(r.reason))] : [],
    );
    const first = failures[0];
    if (first !== undefined) {
      const same =
        failures.length === targets.length &&
        targets.length > 1 &&
        failures.every(
          (f) =>
            f instanceof FleetStepError &&
            first instanceof FleetStepError &&
            f.detail === first.detail &&
            f.status === first.status,
        );
      if (same && first instanceof FleetStepError)
        throw new FleetStepError(MANAGER_TARGET, first.action, first.reason);
      throw first;
    }
    const out = new Map<string, T>();
    for (const [i, result] of results.entries()) {
      if (result.status === 'fulfilled') out.set(targets[i] ?? '', result.value);
    }
    return out;
  }

  /** One journaled step per target, in parallel (see forEachTarget). */
  async parallel<T>(
    targets: string[],
    action: string,
    undo: (target: string) => UndoAction | null,
    fn: (target: string, step: StepHandle) => Promise<T>,
  ): Promise<Map<string, T>> {
    return this.forEachTarget(targets, (target) =>
      this.step(target, action, undo(target), (step) => fn(target, step)),
    );
  }
}

/**
 * The all-or-nothing step runner for fleet-wide work. A task's steps run on hosts; if the task body
 * throws, every step that started is undone (store steps first, then each host's steps in reverse
 * order, hosts in parallel) and the error is rethrown. The journal lives in the store: `recover()` on
 * startup rolls back whatever a killed manager left unfinished, and undo steps on hosts that are down
 * are retried when they come back (`retryPending()`).
 */
export class FleetTaskRunner {
  private readonly handlers = new Map<string, UndoHandler>();
  private readonly locks = new KeyedLock();
  /** Tasks of this process that are still running (their journal says `running`, and that is true). */
  private readonly active = new Map<string, string[]>();
  /** Resources of tasks whose rollback is not finished (a host was down). */
  private readonly pending = new Map<string, string[]>();
  private retrying: Promise<void> | undefined;

  constructor(private readonly opts: FleetTaskRunnerOptions) {}

  registerUndo(type: string, handler: UndoHandler): void {
    this.handlers.set(type, handler);
  }

  /** Resource keys held by running tasks or by tasks whose rollback is not finished. */
  busy(): Set<string> {
    const keys = new Set<string>();
    for (const list of [...this.active.values(), ...this.pending.values()]) for (const k of list) keys.add(k);
    return keys;
  }

  async run<T>(spec: FleetTaskSpec, body: (task: FleetTask) => Promise<T>): Promise<T> {
    const resources = [...new Set(spec.resources)].sort();
    return this.locks.with(resources, async () => {
      await this.settlePending(resources);
      const now = new Date().toISOString();
      const record: FleetTaskRecord = {
        id: spec.id ?? randomUUID(),
        kind: spec.kind,
        description: spec.description,
        resources,
        status: 'running',
        error: '',
        createdAt: now,
        updatedAt: now,
      };
      await this.opts.store.putFleetTask(record);
      this.active.set(record.id, resources);
      const task = new FleetTask(this.opts.store, record.id, async (key) => {
        if (record.resources.includes(key)) return;
        record.resources = [...record.resources, key];
        this.active.set(record.id, record.resources);
        await this.opts.store.putFleetTask(record);
      });
      try {
        const result = await body(task);
        await this.save(record, 'done', '');
        return result;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        await this.save(record, 'rolling_back', message);
        await this.rollback(record);
        throw err;
      } finally {
        this.active.delete(record.id);
      }
    });
  }

  /** Startup: every task the journal shows unfinished was cut off by a stop; roll each back. */
  async recover(): Promise<void> {
    for (const record of await this.opts.store.listFleetTasks({ unfinished: true })) {
      if (this.active.has(record.id)) continue;
      if (record.status === 'running') {
        await this.save(
          record,
          'rolling_back',
          record.error || 'The manager stopped while this task was running',
        );
      }
      this.opts.log?.warn({ task: record.id, kind: record.kind }, 'rolling back an unfinished fleet task');
      await this.locks.with(record.resources, () => this.rollback(record));
    }
  }

  /** Retries unfinished rollbacks (e.g. when a host is back online). Runs one pass at a time. */
  async retryPending(): Promise<void> {
    this.retrying ??= (async () => {
      try {
        await this.recover();
      } finally {
        this.retrying = undefined;
      }
    })();
    return this.retrying;
  }

  /**
   * Runs `fn` while no task holds any of `keys` (waiting for running ones), or skips it and returns
   * undefined when a task still has one claimed — for repairs that must not race fleet tasks.
   */
  async exclusive<T>(keys: string[], fn: () => Promise<T>): Promise<T | undefined> {
    return this.locks.with(keys, async () => {
      const busy = this.busy();
      if (keys.some((k) => busy.has(k))) return undefined;
      return fn();
    });
  }

  /** Forgets finished tasks older than `retentionMs` (the journal only matters until a task ends). */
  async prune(retentionMs = 24 * 3600 * 1000): Promise<void> {
    await this.opts.store.deleteFleetTasksBefore(new Date(Date.now() - retentionMs).toISOString());
  }

  /** A new task on a resource whose last rollback is unfinished must not start before it is. */
  private async settlePending(resources: string[]): Promise<void> {
    const blocked = [...this.pending.entries()].filter(([, keys]) => keys.some((k) => resources.includes(k)));
    if (blocked.length === 0) return;
    for (const record of await this.opts.store.listFleetTasks({ unfinished: true })) {
      if (blocked.some(([id]) => id === record.id)) await this.rollback(record);
    }
    const still = [...this.pending.values()].flat().filter((k) => resources.includes(k));
    if (still.length > 0) {
      throw new ConflictError(
        `A previous fleet task on ${still.join(', ')} is still being rolled back (a host is unreachable)`,
      );
    }
  }

  private async save(record: FleetTaskRecord, status: FleetTaskRecord['status'], error: string) {
    record.status = status;
    record.error = error;
    record.updatedAt = new Date().toISOString();
    await this.opts.store.putFleetTask(record);
  }

  /** Undoes every step that may have changed something. Leaves the task pending if an undo failed. */
  private async rollback(record: FleetTaskRecord): Promise<void> {
    const steps = (await this.opts.store.listFleetTaskSteps(record.id)).filter(
      (s) => s.state !== 'undone' && s.undo !== null,
    );
    const byTarget = new Map<string, FleetTaskStepRecord[]>();
    for (const s of steps) {
      const list = byTarget.get(s.target) ?? [];
      list.push(s);
      byTarget.set(s.target, list);
    }
    const undoAll = async (list: FleetTaskStepRecord[]) => {
      for (const s of [...list].reverse()) {
        await this.undo(s);
      }
    };
    const failures: string[] = [];
    const collect = async (list: FleetTaskStepRecord[]) => {
      try {
        await undoAll(list);
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
    };
    const managerSteps = byTarget.get(MANAGER_TARGET);
    if (managerSteps) await collect(managerSteps);
    byTarget.delete(MANAGER_TARGET);
    await Promise.all([...byTarget.values()].map(collect));

    if (failures.length > 0) {
      this.pending.set(record.id, record.resources);
      this.opts.log?.warn({ task: record.id, failures }, 'fleet task rollback unfinished; will retry');
      return;
    }
    this.pending.delete(record.id);
    record.status = 'rolled_back';
    record.updatedAt = new Date().toISOString();
    await this.opts.store.putFleetTask(record);
  }

  private async undo(step: FleetTaskStepRecord): Promise<void> {
    const undo = step.undo;
    if (undo === null) return;
    const handler = this.handlers.get(undo.type);
    if (!handler) throw new Error(`No undo handler for "${undo.type}"`);
    if (step.target !== MANAGER_TARGET && this.opts.isOnline && !this.opts.isOnline(step.target)) {
      throw new HostUnavailableError(step.target, 'offline; the undo waits for it');
    }
    await handler(step.target, undo, step.note);
    step.state = 'undone';
    await this.opts.store.putFleetTaskStep(step);
  }
}
