import { randomBytes } from 'node:crypto';
import {
  BadRequestError,
  ForbiddenError,
  HostUnavailableError,
  NotFoundError,
  UpstreamError,
  ConflictError,
} from '../errors/index.js';
import type { Fleet, LocationIndex } from '../fleet/index.js';
import { ImageCatalog } from '../images/index.js';
import type { LxdOperation } from '../lxd/index.js';
import { isFinal, type OperationRegistry } from '../operations/index.js';
import {
  describeRejection,
  parseMemoryLimit,
  place,
  readStrategy,
  type Candidate,
  type Placement,
  type Strategy,
} from '../planner/index.js';
import type { Store } from '../store/index.js';
import { ImageCopier, resolveSourceImage, type SourceImage } from './images.js';
import { listInstances, refresh, type InstancePrefix, type ListRequest, type ListResult } from './listing.js';
import { coldMove, pullCopy } from './migration.js';
import { TaskSet } from './tasks.js';

export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface InstanceServiceOptions {
  fleet: Fleet;
  locations: LocationIndex;
  operations: OperationRegistry;
  store: Store;
  log: Logger;
  /** The planner's randomness (strategy `random`). */
  random?: () => number;
  /** How long one host may take to answer a fleet-wide list. */
  listTimeoutMs?: number;
}

/** How a create is followed by the client. */
export type CreateOutcome =
  /** The host's own operation: relay it (its id routes to the host). */
  | { kind: 'host'; host: string; operation: LxdOperation }
  /** A manager operation that does preparatory work (image copy, migration) before the create. */
  | { kind: 'manager'; host: string; operation: LxdOperation };

export interface CreateRequest {
  prefix: InstancePrefix;
  body: Record<string, unknown>;
  /** `?target=HOST`. */
  target?: string;
}

interface PlanRequest {
  strategy: Strategy;
  target?: string;
  architecture: string;
  memory?: number;
}

/** What has to happen on the chosen host before (or instead of) forwarding the create. */
type Preparation =
  | { kind: 'none' }
  | { kind: 'image'; image: SourceImage }
  | { kind: 'pull-copy'; from: string; source: string };

/** Seconds of each wait on a watched host operation. */
const WATCH_POLL_SECONDS = 5;

function objectOf(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** A name for a create that has none; LXD makes up one too. */
function generatedName(): string {
  return `instance-${randomBytes(4).toString('hex')}`;
}

function resources(name: string): Record<string, string[]> {
  const url = `/1.0/instances/${encodeURIComponent(name)}`;
  return { instances: [url], containers: [url] };
}

/**
 * Instances across the fleet: fleet-wide lists, and creation — the name reserved fleet-wide first, the
 * host chosen by the planner (placements in flight counted), the image or source instance brought to
 * that host when it is elsewhere, then the create forwarded. Host operations are watched in the
 * background so the location index learns their outcome.
 */
export class InstanceService {
  private readonly tasks: TaskSet;
  private readonly catalog: ImageCatalog;
  private readonly images: ImageCopier;

  constructor(private readonly opts: InstanceServiceOptions) {
    this.tasks = new TaskSet((err) => {
      opts.log.warn({ err }, 'instance operation watcher failed');
    });
    this.catalog = new ImageCatalog({ fleet: opts.fleet });
    this.images = new ImageCopier({ fleet: opts.fleet, store: opts.store });
  }

  async stop(): Promise<void> {
    await this.tasks.stop();
  }

  async list(req: Omit<ListRequest, 'timeoutMs'>): Promise<ListResult> {
    const result = await listInstances(this.opts.fleet, this.opts.locations, {
      ...req,
      timeoutMs: this.opts.listTimeoutMs ?? 10_000,
    });
    if (result.unavailable.length > 0) {
      this.opts.log.warn(
        { hosts: result.unavailable },
        'instance list served from the index for unreachable hosts',
      );
    }
    return result;
  }

  /**
   * The host of an instance. A name the index does not know yet (made directly on a host since the last
   * rescan) is looked up on every online host, so it is routable at once.
   */
  async locate(name: string): Promise<string> {
    const host = this.opts.locations.hostOf(name);
    if (host === '') throw new NotFoundError('Instance not found'); // a create not placed yet
    if (host !== undefined) return host;
    const path = `/1.0/instances/${encodeURIComponent(name)}`;
    const found = await Promise.any(
      this.opts.fleet.online().map(async (h) => {
        const instance = await this.opts.fleet
          .client(h.name)
          .get<Record<string, unknown>>(path, { timeoutMs: 5000 });
        return { host: h.name, instance };
      }),
    ).catch(() => undefined);
    if (found === undefined) throw new NotFoundError('Instance not found');
    if (this.opts.locations.hostOf(name) === undefined) {
      await this.opts.locations.confirm(name, found.host, found.instance);
    }
    return found.host;
  }

  /** Stores a host's answer about one instance as its last known state. */
  remember(host: string, instance: unknown): void {
    if (instance !== null && typeof instance === 'object' && !Array.isArray(instance)) {
      refresh(this.opts.locations, host, instance as Record<string, unknown>);
    }
  }

  async create(req: CreateRequest): Promise<CreateOutcome> {
    const name = text(req.body.name) !== '' ? text(req.body.name) : generatedName();
    const body: Record<string, unknown> = { ...req.body, name };
    await this.reserve(name);
    try {
      const { host, preparation, forwarded } = await this.prepare(name, body, req.target);
      return await this.launch(req.prefix, name, host, preparation, forwarded);
    } catch (err) {
      await this.releaseReservation(name);
      throw err;
    }
  }

  /**
   * Claims the name fleet-wide. An entry the index still holds for an instance its host no longer has
   * (deleted a moment ago, or directly on the host) does not block the name.
   */
  private async reserve(name: string): Promise<void> {
    try {
      await this.opts.locations.reserve(name, '');
    } catch (err) {
      const known = this.opts.locations.get(name);
      if (!(err instanceof ConflictError) || known?.state !== 'present') throw err;
      const probe = await this.opts.fleet
        .client(known.host)
        .request('GET', `/1.0/instances/${encodeURIComponent(name)}`, undefined, { timeoutMs: 5000 })
        .catch(() => undefined);
      if (probe?.status !== 404) throw err;
      if (this.opts.locations.get(name)?.state === 'present') await this.opts.locations.release(name);
      await this.opts.locations.reserve(name, '');
    }
  }

  private async releaseReservation(name: string): Promise<void> {
    if (this.opts.locations.get(name)?.state === 'reserved') await this.opts.locations.release(name);
  }

  /** Resolves the source, chooses the host, and records the choice on the reservation. */
  private async prepare(
    name: string,
    body: Record<string, unknown>,
    target: string | undefined,
  ): Promise<{ host: string; preparation: Preparation; forwarded: Record<string, unknown> }> {
    const source = objectOf(body.source);
    const type = text(source.type);
    const architecture = text(body.architecture);
    const memory = parseMemoryLimit(objectOf(body.config)['limits.memory'] as string | undefined);
    const strategy = await readStrategy(this.opts.store);

    switch (type) {
      case 'image': {
        // An image from another server (`server` set) is fetched by the host itself.
        if (text(source.server) !== '') {
          const host = await this.choose(name, { strategy, target, architecture, memory });
          return { host, preparation: { kind: 'none' }, forwarded: body };
        }
        const image = await resolveSourceImage(this.catalog, source);
        const host = await this.choose(name, {
          strategy,
          target,
          architecture: architecture !== '' ? architecture : image.architecture,
          memory,
        });
        const { alias: _alias, ...rest } = source;
        const forwarded = { ...body, source: { ...rest, type: 'image', fingerprint: image.fingerprint } };
        return { host, preparation: { kind: 'image', image }, forwarded };
      }
      case 'copy': {
        const from = text(source.source);
        if (from === '') throw new BadRequestError('Must specify a source instance');
        const sourceHost = await this.locate(from.split('/', 1)[0] ?? from);
        const host = await this.choose(name, {
          strategy,
          target: target ?? sourceHost,
          architecture,
          memory,
        });
        const preparation: Preparation =
          host === sourceHost ? { kind: 'none' } : { kind: 'pull-copy', from: sourceHost, source: from };
        return { host, preparation, forwarded: body };
      }
      case 'none':
      case 'migration': {
        const host = await this.choose(name, { strategy, target, architecture, memory });
        return { host, preparation: { kind: 'none' }, forwarded: body };
      }
      default:
        throw new BadRequestError(`Unknown source type ${type}`);
    }
  }

  /**
   * Runs the planner and moves the reservation to the chosen host in one synchronous step, so a
   * concurrent create plans with this placement already counted.
   */
  private async choose(name: string, req: PlanRequest): Promise<string> {
    const host = this.plan(req);
    await this.opts.locations.move(name, host);
    return host;
  }

  /** The planner's choice for the fleet as it is now, or the error LXD gives for the same situation. */
  private plan(req: PlanRequest): string {
    const counts = this.opts.locations.countByHost();
    const candidates: Candidate[] = this.opts.fleet.list().map((h) => ({
      name: h.name,
      status: h.status,
      architectures: h.architectures.length > 0 ? h.architectures : [h.architecture],
      cpus: h.cpus,
      memory: h.memory,
      instances: counts.get(h.name) ?? 0,
    }));
    return placedHost(
      place(
        candidates,
        {
          strategy: req.strategy,
          target: req.target,
          architecture: req.architecture !== '' ? req.architecture : undefined,
          memory: req.memory,
        },
        { random: this.opts.random },
      ),
    );
  }

  private async launch(
    prefix: InstancePrefix,
    name: string,
    host: string,
    preparation: Preparation,
    body: Record<string, unknown>,
  ): Promise<CreateOutcome> {
    switch (preparation.kind) {
      case 'none':
        return this.forwardCreate(prefix, name, host, body);
      case 'image':
        if (preparation.image.holders.includes(host)) return this.forwardCreate(prefix, name, host, body);
        return this.managed(name, host, `Copying image to ${host}`, async (signal) => {
          await this.images.ensure(preparation.image, host, signal);
          await this.createAndWait(prefix, name, host, body, signal);
        });
      case 'pull-copy':
        return this.managed(
          name,
          host,
          `Copying ${preparation.source} from ${preparation.from}`,
          async (signal) => {
            await pullCopy(this.opts.fleet, this.opts.store, {
              from: preparation.from,
              to: host,
              source: preparation.source,
              request: body,
              signal,
            });
          },
        );
      default: {
        const never: never = preparation;
        return never;
      }
    }
  }

  /** Sends the create to the host and hands the host's operation back; a watcher settles the index. */
  private async forwardCreate(
    prefix: InstancePrefix,
    name: string,
    host: string,
    body: Record<string, unknown>,
  ): Promise<CreateOutcome> {
    const { metadata } = await this.opts.fleet.client(host).call<LxdOperation>('POST', prefix, body);
    this.watch(host, metadata.id, {
      success: () => this.confirm(name, host),
      failure: () => this.releaseReservation(name),
    });
    return { kind: 'host', host, operation: metadata };
  }

  private async createAndWait(
    prefix: InstancePrefix,
    name: string,
    host: string,
    body: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<void> {
    const client = this.opts.fleet.client(host);
    const { metadata } = await client.call<LxdOperation>('POST', prefix, body, { signal });
    const done = await client.waitOperation(metadata.id, -1, signal);
    if (done.status !== 'Success') {
      throw new UpstreamError(host, 'POST', prefix, 400, done.err !== '' ? done.err : done.status);
    }
  }

  /** A manager operation that prepares the host, creates the instance there, and settles the index. */
  private managed(
    name: string,
    host: string,
    stage: string,
    work: (signal: AbortSignal) => Promise<void>,
  ): CreateOutcome {
    const operation = this.opts.operations.create({
      class: 'task',
      description: 'Creating instance',
      resources: resources(name),
      metadata: { create_instance_progress: stage },
      run: async (opctx) => {
        try {
          await work(opctx.signal);
        } catch (err) {
          await this.releaseReservation(name);
          throw err;
        }
        await this.confirm(name, host);
        return { location: host };
      },
    });
    return { kind: 'manager', host, operation };
  }

  private async confirm(name: string, host: string): Promise<void> {
    const instance = await this.opts.fleet
      .client(host)
      .get<Record<string, unknown>>(`/1.0/instances/${encodeURIComponent(name)}`)
      .catch(() => undefined);
    await this.opts.locations.confirm(name, host, instance);
  }

  /**
   * Follows a host operation in the background and runs the matching outcome once it ends. When the
   * wait itself fails (the host went away), nothing is decided: the index's rescan settles it.
   */
  watch(
    host: string,
    operationId: string,
    outcome: { success?: () => Promise<void>; failure?: () => Promise<void> },
  ): void {
    this.tasks.run(async (signal) => {
      // Short waits in a loop: a stopping manager never holds a host connection for long.
      let op = await this.opts.fleet.client(host).waitOperation(operationId, WATCH_POLL_SECONDS, signal);
      while (!isFinal(op.status) && !signal.aborted) {
        op = await this.opts.fleet.client(host).waitOperation(operationId, WATCH_POLL_SECONDS, signal);
      }
      if (op.status === 'Success') await outcome.success?.();
      else if (isFinal(op.status)) await outcome.failure?.();
    });
  }

  /** Claims a rename's new name fleet-wide before the host renames (409 when it is taken). */
  async reserveRename(from: string, to: string): Promise<void> {
    await this.opts.locations.reserve(to, await this.locate(from));
  }

  /** Gives a rename's new name back when the host refused the rename. */
  async cancelRename(to: string): Promise<void> {
    await this.releaseReservation(to);
  }

  /** Settles a rename once its host operation ended. */
  watchRename(host: string, operationId: string, from: string, to: string): void {
    this.watch(host, operationId, {
      success: async () => {
        const released = this.opts.locations.release(to);
        await this.opts.locations.rename(from, to);
        await released;
      },
      failure: () => this.releaseReservation(to),
    });
  }

  /**
   * `lxc move NAME [NEW] --target HOST`: a cold move to another host, run as a manager operation. The
   * instance keeps its place in the index until the copy on the target exists and the original is gone.
   */
  async move(name: string, target: string, body: Record<string, unknown>): Promise<CreateOutcome> {
    const from = await this.locate(name);
    if (target === from)
      throw new BadRequestError("Target must be different than instance's current location");
    const to = this.plan({ strategy: 'random', target, architecture: '' });
    const newName = text(body.name) !== '' ? text(body.name) : name;
    if (newName !== name) await this.opts.locations.reserve(newName, to);
    const operation = this.opts.operations.create({
      class: 'task',
      description: 'Migrating instance',
      resources: resources(name),
      metadata: { migrate_instance_progress: `Moving ${name} from ${from} to ${to}` },
      run: async (opctx) => {
        let moved: Record<string, unknown>;
        try {
          moved = await coldMove(this.opts.fleet, this.opts.store, {
            from,
            to,
            name,
            newName,
            instanceOnly: body.instance_only === true || body.container_only === true,
            signal: opctx.signal,
          });
        } catch (err) {
          if (newName !== name) await this.releaseReservation(newName);
          throw err;
        }
        if (newName !== name) await this.opts.locations.release(name);
        await this.opts.locations.confirm(newName, to, moved);
        return { location: to };
      },
    });
    return { kind: 'manager', host: to, operation };
  }

  /** Forgets an instance once its host deleted it. */
  watchDelete(host: string, operationId: string, name: string): void {
    this.watch(host, operationId, {
      success: async () => {
        if (this.opts.locations.hostOf(name) === host) await this.opts.locations.release(name);
      },
    });
  }
}

/** The planner's answer as a host, or the error LXD gives for the same situation. */
function placedHost(p: Placement): string {
  switch (p.kind) {
    case 'placed':
      return p.host;
    case 'rejected': {
      const first = p.reasons[0];
      if (p.reasons.length === 1 && first) {
        switch (first.kind) {
          case 'unknown-target':
            throw new NotFoundError('Cluster member not found');
          case 'offline':
            throw new HostUnavailableError(first.host, 'the cluster member is offline');
          case 'evacuated':
            throw new ForbiddenError('Cluster member is evacuated');
          case 'architecture':
          case 'memory':
          case 'no-hosts':
            break;
          default: {
            const never: never = first;
            return never;
          }
        }
      }
      throw new BadRequestError(
        `No suitable cluster member could be found: ${p.reasons.map(describeRejection).join('; ')}`,
      );
    }
    default: {
      const never: never = p;
      return never;
    }
  }
}
