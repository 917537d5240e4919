import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '../errors/index.js';
import type { EventHub } from '../events/index.js';
import type { LxdOperation, LxdOperationClass, LxdOperationStatus } from '../lxd/types.js';
import type { OperationRecord, Store } from '../store/index.js';

const statusCodes: Record<LxdOperationStatus, number> = {
  Created: 100,
  Running: 103,
  Cancelling: 104,
  Pending: 105,
  Success: 200,
  Failure: 400,
  Cancelled: 401,
};

export function isFinal(status: LxdOperationStatus): boolean {
  return status === 'Success' || status === 'Failure' || status === 'Cancelled';
}

export interface OperationSpec {
  class: LxdOperationClass;
  description: string;
  resources?: Record<string, string[]>;
  metadata?: Record<string, unknown>;
  mayCancel?: boolean;
  /** The work. Resolves to the final metadata; rejects to fail the operation with the error's message. */
  run?: (ctx: OperationContext) => Promise<Record<string, unknown> | undefined>;
  /** Called on DELETE of a running operation without `run` (e.g. a pending token). */
  onCancel?: () => void;
}

export interface OperationContext {
  readonly id: string;
  readonly signal: AbortSignal;
  /** Merges progress into the operation's metadata and publishes an operation event. */
  progress(metadata: Record<string, unknown>): void;
}

interface Entry {
  op: LxdOperation;
  waiters: Set<() => void>;
  abort: AbortController;
  onCancel?: () => void;
}

/**
 * The manager's own operations (tokens, fleet tasks). Each change is stored and published as an
 * `operation` event, as LXD does, so `lxc` can follow them through `/1.0/events`.
 */
export class OperationRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly deps: { store: Store; events: EventHub; location: () => string; retentionMs?: number },
  ) {}

  /** Loads stored operations; those that were running when the manager stopped are marked failed. */
  async load(): Promise<void> {
    for (const rec of await this.deps.store.listOperations()) {
      const op = fromRecord(rec, this.deps.location());
      if (!isFinal(op.status)) {
        op.status = 'Failure';
        op.status_code = statusCodes.Failure;
        op.err = 'The manager restarted while this operation was running';
        op.updated_at = new Date().toISOString();
        await this.deps.store.putOperation(toRecord(op));
      }
      this.entries.set(op.id, { op, waiters: new Set(), abort: new AbortController() });
    }
  }

  create(spec: OperationSpec): LxdOperation {
    const now = new Date().toISOString();
    const op: LxdOperation = {
      id: randomUUID(),
      class: spec.class,
      description: spec.description,
      created_at: now,
      updated_at: now,
      status: 'Running',
      status_code: statusCodes.Running,
      resources: spec.resources ?? null,
      metadata: spec.metadata ?? null,
      may_cancel: spec.mayCancel ?? spec.run === undefined,
      err: '',
      location: this.deps.location(),
    };
    const entry: Entry = { op, waiters: new Set(), abort: new AbortController(), onCancel: spec.onCancel };
    this.entries.set(op.id, entry);
    this.persist(entry);
    if (spec.run) {
      const ctx: OperationContext = {
        id: op.id,
        signal: entry.abort.signal,
        progress: (metadata) => {
          op.metadata = { ...(op.metadata ?? {}), ...metadata };
          this.touch(entry);
        },
      };
      spec.run(ctx).then(
        (metadata) => {
          if (metadata) op.metadata = { ...(op.metadata ?? {}), ...metadata };
          this.finish(entry, 'Success', '');
        },
        (err: unknown) => {
          this.finish(entry, entry.abort.signal.aborted ? 'Cancelled' : 'Failure', errorMessage(err));
        },
      );
    }
    return structuredClone(op);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get(id: string): LxdOperation {
    const entry = this.entries.get(id);
    if (!entry) throw new NotFoundError('Operation not found');
    return structuredClone(entry.op);
  }

  list(): LxdOperation[] {
    return [...this.entries.values()].map((e) => structuredClone(e.op));
  }

  /** Waits until the operation is final or the timeout (seconds, -1 = forever) passes. */
  async wait(id: string, timeoutSeconds: number, signal?: AbortSignal): Promise<LxdOperation> {
    const entry = this.entries.get(id);
    if (!entry) throw new NotFoundError('Operation not found');
    if (!isFinal(entry.op.status)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          entry.waiters.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = timeoutSeconds >= 0 ? setTimeout(done, timeoutSeconds * 1000) : undefined;
        entry.waiters.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
    return structuredClone(entry.op);
  }

  /** DELETE /1.0/operations/ID. */
  cancel(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) throw new NotFoundError('Operation not found');
    if (isFinal(entry.op.status)) throw new ConflictError('Operation is already finished');
    if (!entry.op.may_cancel) throw new ConflictError("This operation can't be cancelled");
    entry.abort.abort();
    entry.onCancel?.();
    this.finish(entry, 'Cancelled', '');
  }

  /** Ends an operation that has no `run` (e.g. a token once used). */
  complete(id: string, status: 'Success' | 'Cancelled' | 'Failure', err = ''): void {
    const entry = this.entries.get(id);
    if (entry && !isFinal(entry.op.status)) this.finish(entry, status, err);
  }

  private finish(entry: Entry, status: LxdOperationStatus, err: string): void {
    if (isFinal(entry.op.status)) return;
    entry.op.status = status;
    entry.op.status_code = statusCodes[status];
    entry.op.err = err;
    this.touch(entry);
    for (const waiter of [...entry.waiters]) waiter();
    const retention = this.deps.retentionMs ?? 5 * 60 * 1000;
    setTimeout(() => this.entries.delete(entry.op.id), retention).unref();
  }

  private touch(entry: Entry): void {
    entry.op.updated_at = new Date().toISOString();
    this.persist(entry);
    this.deps.events.emit('operation', structuredClone(entry.op), entry.op.location);
  }

  private persist(entry: Entry): void {
    // Token secrets never reach the disk.
    if (entry.op.class === 'token') return;
    this.deps.store.putOperation(toRecord(entry.op)).catch(() => undefined);
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function toRecord(op: LxdOperation): OperationRecord {
  return {
    id: op.id,
    class: op.class,
    description: op.description,
    status: op.status,
    statusCode: op.status_code,
    createdAt: op.created_at,
    updatedAt: op.updated_at,
    resources: op.resources ?? {},
    metadata: op.metadata ?? {},
    err: op.err,
  };
}

function fromRecord(rec: OperationRecord, location: string): LxdOperation {
  return {
    id: rec.id,
    class: rec.class as LxdOperationClass,
    description: rec.description,
    created_at: rec.createdAt,
    updated_at: rec.updatedAt,
    status: rec.status as LxdOperationStatus,
    status_code: rec.statusCode,
    resources: rec.resources,
    metadata: rec.metadata,
    may_cancel: false,
    err: rec.err,
    location,
  };
}
