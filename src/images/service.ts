import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import {
  BadRequestError,
  ConflictError,
  InternalError,
  NotFoundError,
  UpstreamError,
  ignoreNotFound,
  isUpstreamNotFound,
} from '../errors/index.js';
import type { Fleet } from '../fleet/index.js';
import {
  MANAGER_TARGET,
  type DriftItem,
  type FleetTask,
  type FleetTaskRunner,
  type Reconciler,
  type StepHandle,
} from '../fleettasks/index.js';
import type { HostClient, LxdImage, LxdImageAliasEntry, LxdOperation } from '../lxd/index.js';
import type { OperationContext, OperationRegistry } from '../operations/index.js';
import type { FleetImageRecord, Store } from '../store/index.js';
import { ImageCatalog, resolveImage, type FleetImage, type FleetImageScan } from './catalog.js';
import type { SpooledImage } from './spool.js';
import { copyBetweenHosts, uploadToHost, type UploadHeaders } from './transfer.js';

export interface ImageAliasRequest {
  name: string;
  description: string;
}

export interface ImagePutRequest {
  public?: boolean;
  auto_update?: boolean;
  properties?: Record<string, string>;
  expires_at?: string;
  profiles?: string[] | null;
}

export interface FleetImagesOptions {
  store: Store;
  fleet: Fleet;
  tasks: FleetTaskRunner;
  operations: OperationRegistry;
  /** Host of an instance (publish runs there). */
  instanceHost: (name: string) => string;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** How images move between hosts (default `pull`: hosts download from each other). */
  transfer?: 'pull' | 'relay';
}

const imageKey = (fp: string) => `image:${fp}`;
const aliasKey = (name: string) => `alias:${name}`;
const aliasPath = (name: string) => `/1.0/images/aliases/${encodeURIComponent(name)}`;

/** Writable image fields as one host shows them. */
function writable(img: LxdImage): Pick<FleetImageRecord, 'properties' | 'public' | 'autoUpdate'> {
  return { properties: img.properties ?? {}, public: img.public, autoUpdate: img.auto_update };
}

function recordOf(img: LxdImage): FleetImageRecord {
  return {
    fingerprint: img.fingerprint,
    aliases: (img.aliases ?? []).map((a) => ({ name: a.name, description: a.description })),
    ...writable(img),
  };
}

/** Waits for a host operation noted by a step (it may still run after the manager was killed). */
async function settleNotedOperation(client: HostClient, note: Record<string, unknown>): Promise<unknown> {
  const id = note.hostOperation;
  if (typeof id !== 'string') return undefined;
  try {
    const op = await client.waitOperation(id, 600);
    return op.metadata?.fingerprint;
  } catch {
    return undefined;
  }
}

/** Deletes an image from one host and waits for it; an image already gone counts as deleted. */
export async function deleteImageOnHost(client: HostClient, fingerprint: string): Promise<void> {
  try {
    const { operation } = await client.call('DELETE', `/1.0/images/${fingerprint}`);
    if (operation !== '')
      await client.expectSuccess(operation.replace(/^\/1\.0\/operations\//, ''), 'image delete');
  } catch (err) {
    if (isUpstreamNotFound(err)) return;
    throw err;
  }
}

/** Per-host progress of a fleet operation, kept in the operation's metadata. */
class HostProgress {
  private readonly states: Record<string, string> = {};
  constructor(
    private readonly opctx: OperationContext | undefined,
    private readonly extra: Record<string, unknown> = {},
  ) {}

  set(host: string, state: string): void {
    this.states[host] = state;
    const summary = Object.entries(this.states)
      .map(([h, s]) => `${h}: ${s}`)
      .join(', ');
    this.opctx?.progress({ ...this.extra, hosts: { ...this.states }, distribute_progress: summary });
  }

  merge(extra: Record<string, unknown>): void {
    Object.assign(this.extra, extra);
    this.opctx?.progress(extra);
  }
}

type ImageSource =
  { kind: 'file'; spool: SpooledImage; headers: UploadHeaders } | { kind: 'host'; holder: string };

/**
 * The fleet's images: every create (upload, publish, pull from a remote) ends with the image on every
 * online host, as one operation that is rolled back everywhere if any host fails; deletes, property
 * and alias changes apply to every host; hosts that are missing something are repaired.
 */
export class FleetImages {
  readonly catalog: ImageCatalog;
  private readonly secrets = new Map<string, { fingerprint: string; operation: string }>();

  constructor(private readonly opts: FleetImagesOptions) {
    this.catalog = new ImageCatalog({ fleet: opts.fleet });
    const { tasks, fleet, store } = opts;
    tasks.registerUndo('image.delete', async (host, undo, note) => {
      const client = fleet.client(host);
      const fromOp = await settleNotedOperation(client, note);
      const fp =
        typeof undo.fingerprint === 'string'
          ? undo.fingerprint
          : typeof note.fingerprint === 'string'
            ? note.fingerprint
            : fromOp;
      if (typeof fp === 'string' && fp !== '') await deleteImageOnHost(client, fp);
    });
    tasks.registerUndo('image.put', async (host, undo) => {
      await fleet
        .client(host)
        .call('PUT', `/1.0/images/${String(undo.fingerprint)}`, undo.put)
        .catch(ignoreNotFound);
    });
    tasks.registerUndo('alias.delete', async (host, undo) => {
      await fleet
        .client(host)
        .call('DELETE', aliasPath(String(undo.name)))
        .catch(ignoreNotFound);
    });
    tasks.registerUndo('alias.restore', async (host, undo) => {
      const client = fleet.client(host);
      const entry = undo.entry as LxdImageAliasEntry;
      const current = await client.get<LxdImageAliasEntry>(aliasPath(entry.name)).catch((err: unknown) => {
        if (isUpstreamNotFound(err)) return undefined;
        throw err;
      });
      if (current === undefined) {
        await client.call('POST', '/1.0/images/aliases', {
          name: entry.name,
          target: entry.target,
          description: entry.description,
        });
      } else if (current.target !== entry.target || current.description !== entry.description) {
        await client.call('PUT', aliasPath(entry.name), {
          target: entry.target,
          description: entry.description,
        });
      }
    });
    tasks.registerUndo('alias.rename', async (host, undo) => {
      await fleet
        .client(host)
        .call('POST', aliasPath(String(undo.from)), { name: undo.to })
        .catch(ignoreNotFound);
    });
    tasks.registerUndo('store.image', async (_target, undo) => {
      const previous = undo.previous as FleetImageRecord | null;
      if (previous === null) await store.deleteFleetImage(String(undo.fingerprint));
      else await store.putFleetImage(previous);
    });
  }

  /** Runs `body` as a manager operation and as a journaled fleet task with the operation's id. */
  private operation(
    description: string,
    resources: string[],
    urls: Record<string, string[]>,
    body: (task: FleetTask, opctx: OperationContext) => Promise<Record<string, unknown>>,
    cleanup?: () => Promise<void>,
  ): { op: LxdOperation; done: Promise<Record<string, unknown>> } {
    let done!: Promise<Record<string, unknown>>;
    const op = this.opts.operations.create({
      class: 'task',
      description,
      resources: urls,
      run: (opctx) => {
        done = this.opts.tasks
          .run({ id: opctx.id, kind: description, description, resources }, (task) => body(task, opctx))
          .catch((err: unknown) => {
            // The runner has undone every step by now: say so next to the per-host progress.
            opctx.progress({ rolled_back: true });
            throw err;
          })
          .finally(cleanup);
        return done;
      },
    });
    return { op, done };
  }

  // ---- creating images --------------------------------------------------------------------------

  /** `POST /1.0/images` with an upload: the spooled file goes to every online host in parallel. */
  importUpload(spool: SpooledImage, headers: UploadHeaders, aliases: ImageAliasRequest[]): LxdOperation {
    const fp = spool.fingerprint;
    return this.operation(
      'Downloading image',
      [imageKey(fp), ...aliases.map((a) => aliasKey(a.name))],
      {},
      async (task, opctx) => {
        const record: FleetImageRecord = {
          fingerprint: fp,
          aliases: [],
          properties: {},
          public: headers.public === true,
          autoUpdate: false,
        };
        return this.distribute(task, opctx, record, aliases, { kind: 'file', spool, headers }, true);
      },
      () => spool.remove(),
    ).op;
  }

  /**
   * `POST /1.0/images` from an instance or snapshot (`lxc publish`) or from a remote server: one host
   * creates the image (the instance's host, or the first online host for a pull), then it is copied to
   * every other online host from there.
   */
  createFrom(body: Record<string, unknown>, aliases: ImageAliasRequest[], target?: string): LxdOperation {
    const source = (body.source ?? {}) as Record<string, unknown>;
    const type = typeof source.type === 'string' ? source.type : '';
    let origin: string;
    let description = 'Downloading image';
    if (type === 'instance' || type === 'container' || type === 'virtual-machine' || type === 'snapshot') {
      const name = typeof source.name === 'string' ? source.name : '';
      if (name === '') throw new BadRequestError('No source instance name provided');
      origin = this.opts.instanceHost(name.split('/')[0] ?? name);
      description = 'Creating image from instance';
    } else if (type === 'image' || type === 'url') {
      if (type === 'image' && source.mode === 'push') {
        throw new BadRequestError('Push mode image transfers are not supported');
      }
      const online = this.opts.fleet.onlineNames();
      origin = target !== undefined && online.includes(target) ? target : (online[0] ?? '');
      if (origin === '') throw new InternalError('No host is online');
    } else {
      throw new BadRequestError(`Invalid images JSON: unsupported source type "${type}"`);
    }
    const forwarded = { ...body, aliases: [] };
    // A pull names its image up front; a publish learns it at the end (and claims it then).
    const known =
      typeof source.fingerprint === 'string' && source.fingerprint !== '' ? [source.fingerprint] : [];
    return this.operation(
      description,
      [...known.map(imageKey), ...aliases.map((a) => aliasKey(a.name))],
      {},
      async (task, opctx) => {
        const progress = new HostProgress(opctx);
        progress.set(origin, 'creating');
        const created = await task.step(origin, 'image.create', { type: 'image.delete' }, async (step) => {
          const client = this.opts.fleet.client(origin);
          // A pull of an image the host already has succeeds without a copy: never undo that one.
          const before = new Set(
            (await client.get<string[]>('/1.0/images')).map((url) => url.replace(/^\/1\.0\/images\//, '')),
          );
          const { operation } = await step.atomic(() =>
            client.call('POST', '/1.0/images', forwarded, { timeoutMs: 6 * 3600_000 }),
          );
          const id = operation.replace(/^\/1\.0\/operations\//, '');
          await step.note({ hostOperation: id });
          const op = await client.expectSuccess(id, description);
          const fp = op.metadata?.fingerprint;
          if (typeof fp !== 'string') throw new InternalError('The host did not report the new fingerprint');
          await task.claim(imageKey(fp));
          await step.note({ fingerprint: fp });
          if (before.has(fp)) await step.setUndo(null);
          return { fingerprint: fp };
        });
        progress.set(origin, 'done');
        const fp = created.fingerprint;
        const img = await this.opts.fleet.client(origin).get<LxdImage>(`/1.0/images/${fp}`);
        const record: FleetImageRecord = { ...recordOf(img), aliases: [] };
        return this.distribute(
          task,
          opctx,
          record,
          aliases,
          { kind: 'host', holder: origin },
          false,
          progress,
        );
      },
    ).op;
  }

  /**
   * Puts an image on every online host (steps journaled with their undo), then its aliases, then the
   * fleet record. Any failure rolls all of it back (the runner does, from the journal).
   */
  private async distribute(
    task: FleetTask,
    opctx: OperationContext,
    record: FleetImageRecord,
    aliases: ImageAliasRequest[],
    source: ImageSource,
    failIfEverywhere: boolean,
    progress = new HostProgress(opctx),
  ): Promise<Record<string, unknown>> {
    const fp = record.fingerprint;
    progress.merge({ fingerprint: fp });
    const hosts = this.opts.fleet.onlineNames();
    if (hosts.length === 0) throw new InternalError('No host is online');
    const scan = await this.catalog.scan(hosts);
    const holders = new Set(scan.images.get(fp)?.lxdpm_hosts ?? []);
    if (source.kind === 'host') holders.add(source.holder);
    const previous = (await this.opts.store.getFleetImage(fp)) ?? null;
    if (failIfEverywhere && hosts.every((h) => holders.has(h))) {
      throw new ConflictError('Image with same fingerprint already exists');
    }
    // A copy that a killed manager left behind must not be adopted later: mark the image deleted
    // until the task commits (only when no host held it before).
    if (previous === null && holders.size === (source.kind === 'host' ? 1 : 0)) {
      await this.opts.store.putTombstone('image', fp);
    }

    const targets = hosts.filter((h) => !holders.has(h));
    for (const h of hosts) {
      if (holders.has(h) && !(source.kind === 'host' && source.holder === h)) progress.set(h, 'present');
    }
    await task.parallel(
      targets,
      'image.install',
      () => ({ type: 'image.delete', fingerprint: fp }),
      async (host, step) => {
        progress.set(host, 'transferring');
        await this.install(host, record, source, step, (sent, total) => {
          if (total !== undefined && total > 0) progress.set(host, `${Math.floor((sent / total) * 100)}%`);
        });
        progress.set(host, 'done');
      },
    );

    if (aliases.length > 0) {
      await task.forEachTarget(hosts, async (host) => {
        for (const alias of aliases) {
          await task.step(host, 'alias.create', { type: 'alias.delete', name: alias.name }, (step) =>
            step.atomic(() =>
              this.opts.fleet.client(host).call('POST', '/1.0/images/aliases', {
                name: alias.name,
                target: fp,
                description: alias.description,
              }),
            ),
          );
        }
      });
    }

    // The fleet's record takes what the hosts made of the upload (tarball properties, headers).
    const installed = await this.opts.fleet.client(hosts[0] ?? '').get<LxdImage>(`/1.0/images/${fp}`);
    const merged: FleetImageRecord = {
      ...(previous ?? { ...record, ...writable(installed) }),
      aliases: [
        ...(previous?.aliases ?? []).filter((a) => !aliases.some((n) => n.name === a.name)),
        ...aliases,
      ],
    };
    await task.step(
      MANAGER_TARGET,
      'store.image',
      { type: 'store.image', fingerprint: fp, previous },
      async () => {
        await this.opts.store.putFleetImage(merged);
        await this.opts.store.deleteTombstone('image', fp);
        for (const a of aliases) await this.opts.store.deleteTombstone('alias', a.name);
      },
    );
    const size = scan.images.get(fp)?.size ?? (source.kind === 'file' ? source.spool.size : undefined);
    return { fingerprint: fp, ...(size === undefined ? {} : { size }) };
  }

  /** Gets one image onto one host, from the upload or from a host that holds it. */
  private async install(
    host: string,
    record: FleetImageRecord,
    source: ImageSource,
    step: StepHandle,
    onProgress: (sent: number, total: number | undefined) => void,
  ): Promise<void> {
    const client = this.opts.fleet.client(host);
    const hooks = { onOperation: (id: string) => step.note({ hostOperation: id }), onProgress };
    const meta = await step.atomic(() =>
      source.kind === 'file'
        ? uploadToHost(client, source.spool, source.headers, hooks)
        : copyBetweenHosts(
            this.opts.fleet.client(source.holder),
            client,
            record.fingerprint,
            { public: record.public, mode: this.opts.transfer ?? 'pull' },
            hooks,
          ),
    );
    const got = meta.fingerprint;
    if (typeof got === 'string' && got !== record.fingerprint) {
      await step.setUndo({ type: 'image.delete', fingerprint: got });
      throw new InternalError(`Image fingerprint mismatch: got ${got}, expected ${record.fingerprint}`);
    }
    // A copy from another host carries the tarball's properties; the fleet's may have changed since.
    if (source.kind === 'host') await this.applyWritable(client, record);
  }

  private async applyWritable(client: HostClient, record: FleetImageRecord): Promise<void> {
    const img = await client.get<LxdImage>(`/1.0/images/${record.fingerprint}`);
    const want = { properties: record.properties, public: record.public, autoUpdate: record.autoUpdate };
    if (isDeepStrictEqual(writable(img), want)) return;
    await client.call('PUT', `/1.0/images/${record.fingerprint}`, {
      properties: record.properties,
      public: record.public,
      auto_update: record.autoUpdate,
      expires_at: img.expires_at,
    });
  }

  // ---- deleting and updating -------------------------------------------------------------------

  /** `DELETE /1.0/images/FP`: from every host that holds it; each host's failure is reported. */
  async delete(fingerprintOrPrefix: string): Promise<LxdOperation> {
    const img = resolveImage(await this.catalog.scan(), fingerprintOrPrefix);
    const fp = img.fingerprint;
    const hosts = img.lxdpm_hosts;
    const previous = await this.opts.store.getFleetImage(fp);
    return this.operation(
      'Deleting image',
      [imageKey(fp)],
      { images: [`/1.0/images/${fp}`] },
      async (_task, opctx) => {
        const progress = new HostProgress(opctx, { fingerprint: fp });
        // Recorded first: a host that is offline now (or fails) drops the image when it is repaired.
        await this.opts.store.deleteFleetImage(fp);
        await this.opts.store.putTombstone('image', fp);
        for (const a of previous?.aliases ?? []) await this.opts.store.putTombstone('alias', a.name);
        const results = await Promise.allSettled(
          hosts.map(async (host) => {
            progress.set(host, 'deleting');
            await deleteImageOnHost(this.opts.fleet.client(host), fp);
            progress.set(host, 'deleted');
          }),
        );
        const failures = results.flatMap((r, i) => {
          if (r.status === 'fulfilled') return [];
          const err = r.reason as unknown;
          const message =
            err instanceof UpstreamError ? err.lxdError : err instanceof Error ? err.message : String(err);
          progress.set(hosts[i] ?? '', `failed: ${message}`);
          return [`${hosts[i] ?? ''}: ${message}`];
        });
        if (failures.length > 0) {
          throw new InternalError(`Failed to delete the image on ${failures.join('; ')}`);
        }
        return {};
      },
    ).op;
  }

  /** `PUT`/`PATCH /1.0/images/FP` on every host that holds it, all or nothing. */
  async update(img: FleetImage, req: ImagePutRequest, patch: boolean): Promise<void> {
    const fp = img.fingerprint;
    const next = {
      public: req.public ?? (patch ? img.public : false),
      auto_update: req.auto_update ?? (patch ? img.auto_update : false),
      properties:
        req.properties === undefined
          ? patch
            ? (img.properties ?? {})
            : {}
          : patch
            ? { ...(img.properties ?? {}), ...req.properties }
            : req.properties,
      expires_at: req.expires_at ?? img.expires_at,
      ...(req.profiles !== undefined ? { profiles: req.profiles } : {}),
    };
    const previous = (await this.opts.store.getFleetImage(fp)) ?? null;
    const { done } = this.operation(
      'Updating image',
      [imageKey(fp)],
      { images: [`/1.0/images/${fp}`] },
      async (task) => {
        await task.forEachTarget(img.lxdpm_hosts, async (host) => {
          const client = this.opts.fleet.client(host);
          const current = await client.get<LxdImage>(`/1.0/images/${fp}`);
          const old = {
            public: current.public,
            auto_update: current.auto_update,
            properties: current.properties ?? {},
            expires_at: current.expires_at,
            profiles: current.profiles,
          };
          await task.step(host, 'image.put', { type: 'image.put', fingerprint: fp, put: old }, async () => {
            await client.call('PUT', `/1.0/images/${fp}`, next);
          });
        });
        if (previous !== null) {
          await task.step(
            MANAGER_TARGET,
            'store.image',
            { type: 'store.image', fingerprint: fp, previous },
            () =>
              this.opts.store.putFleetImage({
                ...previous,
                properties: next.properties,
                public: next.public,
                autoUpdate: next.auto_update,
              }),
          );
        }
        return {};
      },
    );
    await done;
  }

  // ---- aliases ---------------------------------------------------------------------------------

  /** `POST /1.0/images/aliases`: on every host that holds the target image. */
  async createAlias(req: { name: string; description: string; target: string }): Promise<void> {
    if (req.name === '') throw new BadRequestError('No name provided');
    if (req.name.includes('/')) throw new BadRequestError('Alias names may not contain slashes');
    const scan = await this.catalog.scan();
    const img = resolveImage(scan, req.target);
    if (scan.aliases.has(req.name)) throw new ConflictError(`Alias "${req.name}" already exists`);
    const fp = img.fingerprint;
    const previous = (await this.opts.store.getFleetImage(fp)) ?? null;
    const { done } = this.operation(
      'Creating image alias',
      [aliasKey(req.name), imageKey(fp)],
      {},
      async (task) => {
        await task.parallel(
          img.lxdpm_hosts,
          'alias.create',
          () => ({ type: 'alias.delete', name: req.name }),
          async (host, step) => {
            await step.atomic(() =>
              this.opts.fleet.client(host).call('POST', '/1.0/images/aliases', {
                name: req.name,
                target: fp,
                description: req.description,
              }),
            );
          },
        );
        await task.step(
          MANAGER_TARGET,
          'store.image',
          { type: 'store.image', fingerprint: fp, previous },
          async () => {
            if (previous !== null) {
              await this.opts.store.putFleetImage({
                ...previous,
                aliases: [
                  ...previous.aliases.filter((a) => a.name !== req.name),
                  { name: req.name, description: req.description },
                ],
              });
            }
            await this.opts.store.deleteTombstone('alias', req.name);
          },
        );
        return {};
      },
    );
    await done;
  }

  /** `PUT`/`PATCH /1.0/images/aliases/NAME`: new target and/or description, on every host. */
  async updateAlias(
    name: string,
    req: { target?: string; description?: string },
    patch: boolean,
  ): Promise<void> {
    const scan = await this.catalog.scan();
    const alias = scan.aliases.get(name);
    if (alias === undefined) throw new NotFoundError('Image alias not found');
    const target =
      req.target !== undefined && req.target !== ''
        ? resolveImage(scan, req.target).fingerprint
        : patch
          ? alias.target
          : '';
    if (target === '') throw new BadRequestError('The target field is required');
    const description = req.description ?? (patch ? alias.description : '');
    const targetImage = scan.images.get(target);
    const hosts = [...new Set([...alias.hosts, ...(targetImage?.lxdpm_hosts ?? [])])].filter(
      (h) => targetImage?.lxdpm_hosts.includes(h) === true,
    );
    const { done } = this.operation(
      'Updating image alias',
      [aliasKey(name), imageKey(target)],
      {},
      async (task) => {
        await task.parallel(
          hosts,
          'alias.update',
          (host) => {
            const old = scan.aliasesByHost.get(host)?.get(name);
            return old === undefined ? { type: 'alias.delete', name } : { type: 'alias.restore', entry: old };
          },
          async (host, step) => {
            const client = this.opts.fleet.client(host);
            await step.atomic(() =>
              scan.aliasesByHost.get(host)?.has(name) === true
                ? client.call('PUT', aliasPath(name), { target, description })
                : client.call('POST', '/1.0/images/aliases', { name, target, description }),
            );
          },
        );
        await this.moveAliasInStore(task, name, target, description);
        return {};
      },
    );
    await done;
  }

  private async moveAliasInStore(task: FleetTask, name: string, target: string, description: string) {
    for (const rec of await this.opts.store.listFleetImages()) {
      const has = rec.aliases.some((a) => a.name === name);
      if (rec.fingerprint !== target && !has) continue;
      const aliases = rec.aliases.filter((a) => a.name !== name);
      if (rec.fingerprint === target) aliases.push({ name, description });
      await task.step(
        MANAGER_TARGET,
        'store.image',
        { type: 'store.image', fingerprint: rec.fingerprint, previous: rec },
        () => this.opts.store.putFleetImage({ ...rec, aliases }),
      );
    }
  }

  /** `POST /1.0/images/aliases/NAME`: rename on every host. */
  async renameAlias(name: string, newName: string): Promise<void> {
    if (newName === '') throw new BadRequestError('No name provided');
    const scan = await this.catalog.scan();
    const alias = scan.aliases.get(name);
    if (alias === undefined) throw new NotFoundError('Image alias not found');
    if (scan.aliases.has(newName)) throw new ConflictError(`Alias "${newName}" already exists`);
    const { done } = this.operation(
      'Renaming image alias',
      [aliasKey(name), aliasKey(newName)],
      {},
      async (task) => {
        await task.parallel(
          alias.hosts,
          'alias.rename',
          () => ({ type: 'alias.rename', from: newName, to: name }),
          async (host, step) => {
            await step.atomic(() =>
              this.opts.fleet.client(host).call('POST', aliasPath(name), { name: newName }),
            );
          },
        );
        for (const rec of await this.opts.store.listFleetImages()) {
          if (!rec.aliases.some((a) => a.name === name)) continue;
          await task.step(
            MANAGER_TARGET,
            'store.image',
            { type: 'store.image', fingerprint: rec.fingerprint, previous: rec },
            async () => {
              await this.opts.store.putFleetImage({
                ...rec,
                aliases: rec.aliases.map((a) => (a.name === name ? { ...a, name: newName } : a)),
              });
              await this.opts.store.putTombstone('alias', name);
              await this.opts.store.deleteTombstone('alias', newName);
            },
          );
        }
        return {};
      },
    );
    await done;
  }

  /** `DELETE /1.0/images/aliases/NAME`: from every host; restored everywhere if one host fails. */
  async deleteAlias(name: string): Promise<void> {
    const scan = await this.catalog.scan();
    const alias = scan.aliases.get(name);
    if (alias === undefined) throw new NotFoundError('Image alias not found');
    const { done } = this.operation('Deleting image alias', [aliasKey(name)], {}, async (task) => {
      await task.parallel(
        alias.hosts,
        'alias.delete',
        (host) => {
          const entry = scan.aliasesByHost.get(host)?.get(name);
          return entry === undefined ? null : { type: 'alias.restore', entry };
        },
        async (host) => {
          await this.opts.fleet.client(host).call('DELETE', aliasPath(name)).catch(ignoreNotFound);
        },
      );
      for (const rec of await this.opts.store.listFleetImages()) {
        if (!rec.aliases.some((a) => a.name === name)) continue;
        await task.step(
          MANAGER_TARGET,
          'store.image',
          { type: 'store.image', fingerprint: rec.fingerprint, previous: rec },
          () =>
            this.opts.store.putFleetImage({ ...rec, aliases: rec.aliases.filter((a) => a.name !== name) }),
        );
      }
      await this.opts.store.putTombstone('alias', name);
      return {};
    });
    await done;
  }

  // ---- secrets (image copy from the manager to another server) ----------------------------------

  /** `POST /1.0/images/FP/secret`: a one-time token another server presents to download the image. */
  createSecret(fingerprint: string): LxdOperation {
    const secret = randomBytes(32).toString('hex');
    const op = this.opts.operations.create({
      class: 'token',
      description: 'Image download token',
      resources: { images: [`/1.0/images/${fingerprint}`] },
      metadata: { secret },
      onCancel: () => this.secrets.delete(secret),
    });
    this.secrets.set(secret, { fingerprint, operation: op.id });
    return op;
  }

  /** Whether `secret` is a live token for this image. */
  validSecret(fingerprint: string, secret: string | undefined): boolean {
    if (secret === undefined) return false;
    const entry = this.secrets.get(secret);
    if (entry === undefined || entry.fingerprint !== fingerprint) return false;
    const op = this.opts.operations.has(entry.operation)
      ? this.opts.operations.get(entry.operation)
      : undefined;
    if (op === undefined || op.status !== 'Running') {
      this.secrets.delete(secret);
      return false;
    }
    return true;
  }

  /** A token is spent once the image was downloaded with it (LXD cancels the token operation). */
  spendSecret(secret: string): void {
    const entry = this.secrets.get(secret);
    if (entry === undefined) return;
    this.secrets.delete(secret);
    this.opts.operations.complete(entry.operation, 'Cancelled');
  }

  // ---- repair ----------------------------------------------------------------------------------

  /**
   * The image side of the fleet sync: compares what `hosts` hold with the fleet's records. A host seen
   * for the first time contributes what it already has (adoption); after that, images and aliases made
   * directly on it are reported as unmanaged and left alone.
   */
  readonly reconciler: Reconciler = {
    drift: async (hosts) => {
      const online = this.opts.fleet.onlineNames();
      const targets = hosts.filter((h) => online.includes(h));
      const scan = await this.catalog.scan(online);
      const repair = (item: DriftItem) => this.repair(item, scan);
      if (targets.length === 0) return { items: [], repair };
      const busy = this.opts.tasks.busy();
      await this.adopt(targets, scan, busy);
      const items = await this.findDrift(targets, scan, busy);
      await this.clearTombstones(scan, busy);
      return { items, repair };
    },
  };

  /**
   * A tombstone has done its job once every host of the fleet was seen without the thing: from then
   * on, an image or alias of that name made directly on a host is the host's own business.
   */
  private async clearTombstones(scan: FleetImageScan, busy: Set<string>): Promise<void> {
    const everyone = this.opts.fleet.list();
    if (scan.failed.length > 0 || !everyone.every((h) => h.status === 'Online' && scan.byHost.has(h.name)))
      return;
    for (const fp of await this.opts.store.listTombstones('image')) {
      if (!scan.images.has(fp) && !busy.has(imageKey(fp))) await this.opts.store.deleteTombstone('image', fp);
    }
    for (const name of await this.opts.store.listTombstones('alias')) {
      if (!scan.aliases.has(name) && !busy.has(aliasKey(name)))
        await this.opts.store.deleteTombstone('alias', name);
    }
  }

  private async findDrift(targets: string[], scan: FleetImageScan, busy: Set<string>): Promise<DriftItem[]> {
    const records = await this.opts.store.listFleetImages();
    const deadImages = new Set(await this.opts.store.listTombstones('image'));
    const deadAliases = new Set(await this.opts.store.listTombstones('alias'));
    const managed = new Set(records.map((r) => r.fingerprint));
    const managedAliases = new Set(records.flatMap((r) => r.aliases.map((a) => a.name)));
    const drift: DriftItem[] = [];
    for (const host of targets) {
      const held = scan.byHost.get(host);
      const aliases = scan.aliasesByHost.get(host);
      if (held === undefined || aliases === undefined) continue;
      for (const rec of records) {
        if (busy.has(imageKey(rec.fingerprint))) continue;
        const img = held.get(rec.fingerprint);
        if (img === undefined) {
          drift.push({ host, kind: 'image', name: rec.fingerprint, problem: 'missing' });
          continue;
        }
        const want = { properties: rec.properties, public: rec.public, autoUpdate: rec.autoUpdate };
        if (!isDeepStrictEqual(writable(img), want)) {
          drift.push({ host, kind: 'image', name: rec.fingerprint, problem: 'different' });
        }
        for (const a of rec.aliases) {
          if (busy.has(aliasKey(a.name))) continue;
          const entry = aliases.get(a.name);
          if (entry === undefined) drift.push({ host, kind: 'alias', name: a.name, problem: 'missing' });
          else if (entry.target !== rec.fingerprint || entry.description !== a.description)
            drift.push({ host, kind: 'alias', name: a.name, problem: 'different' });
        }
      }
      for (const img of held.values()) {
        if (managed.has(img.fingerprint) || busy.has(imageKey(img.fingerprint)) || img.cached) continue;
        const problem = deadImages.has(img.fingerprint) ? 'deleted-in-fleet' : 'unmanaged';
        drift.push({ host, kind: 'image', name: img.fingerprint, problem });
      }
      for (const entry of aliases.values()) {
        if (managedAliases.has(entry.name) || busy.has(aliasKey(entry.name))) continue;
        // Aliases of an image deleted fleet-wide go with the image.
        if (deadImages.has(entry.target)) continue;
        const problem = deadAliases.has(entry.name) ? 'deleted-in-fleet' : 'unmanaged';
        drift.push({ host, kind: 'alias', name: entry.name, problem });
      }
    }
    return drift;
  }

  /** Repairs one drift item; installs run as their own fleet task (rolled back on failure). */
  private async repair(item: DriftItem, scan: FleetImageScan): Promise<void> {
    const client = this.opts.fleet.client(item.host);
    if (item.problem === 'deleted-in-fleet') {
      // Checked again under the lock: an import of the same image may have started since the scan.
      const key = item.kind === 'image' ? imageKey(item.name) : aliasKey(item.name);
      await this.opts.tasks.exclusive([key], async () => {
        if (item.kind === 'image') {
          const dead = await this.opts.store.listTombstones('image');
          if (dead.includes(item.name) && !(await this.opts.store.getFleetImage(item.name))) {
            await deleteImageOnHost(client, item.name);
          }
          return;
        }
        if (!(await this.opts.store.listTombstones('alias')).includes(item.name)) return;
        await client.call('DELETE', aliasPath(item.name)).catch(ignoreNotFound);
      });
      return;
    }
    const rec =
      item.kind === 'image'
        ? await this.opts.store.getFleetImage(item.name)
        : (await this.opts.store.listFleetImages()).find((r) => r.aliases.some((a) => a.name === item.name));
    if (rec === undefined) return;
    const fp = rec.fingerprint;
    await this.opts.tasks.run(
      {
        kind: 'image.repair',
        description: `Repairing image ${fp} on ${item.host}`,
        resources: [imageKey(fp), ...rec.aliases.map((a) => aliasKey(a.name))],
      },
      async (task) => {
        // Read again under the lock: a fleet change of this image may have run since the scan.
        const now = await this.opts.store.getFleetImage(fp);
        if (now === undefined) return;
        const present = await client.request('GET', `/1.0/images/${fp}`);
        if (present.status === 404) {
          const holder = scan.images.get(fp)?.lxdpm_hosts.find((h) => h !== item.host);
          if (holder === undefined) throw new InternalError('No online host holds the image');
          await task.step(item.host, 'image.install', { type: 'image.delete', fingerprint: fp }, (step) =>
            this.install(item.host, now, { kind: 'host', holder }, step, () => undefined),
          );
        }
        await this.applyWritable(client, now);
        const aliases = new Map(
          (await client.get<LxdImageAliasEntry[]>('/1.0/images/aliases', { query: { recursion: '1' } })).map(
            (a) => [a.name, a],
          ),
        );
        for (const a of now.aliases) {
          const entry = aliases.get(a.name);
          if (entry === undefined) {
            await task.step(item.host, 'alias.create', { type: 'alias.delete', name: a.name }, (step) =>
              step.atomic(() =>
                client.call('POST', '/1.0/images/aliases', {
                  name: a.name,
                  target: fp,
                  description: a.description,
                }),
              ),
            );
          } else if (entry.target !== fp || entry.description !== a.description) {
            await task.step(item.host, 'alias.update', { type: 'alias.restore', entry }, () =>
              client.call('PUT', aliasPath(a.name), { target: fp, description: a.description }),
            );
          }
        }
      },
    );
  }

  /** Records what hosts seen for the first time already hold, so the fleet knows it. */
  private async adopt(hosts: string[], scan: FleetImageScan, busy: Set<string>): Promise<void> {
    for (const host of hosts) {
      const flag = `fleet.images.adopted.${host}`;
      if ((await this.opts.store.getConfig(flag)) !== undefined) continue;
      const held = scan.byHost.get(host);
      if (held === undefined) continue;
      const deadImages = new Set(await this.opts.store.listTombstones('image'));
      const deadAliases = new Set(await this.opts.store.listTombstones('alias'));
      const records = await this.opts.store.listFleetImages();
      const claimed = new Set(records.flatMap((r) => r.aliases.map((a) => a.name)));
      for (const img of held.values()) {
        const fp = img.fingerprint;
        if (img.cached || deadImages.has(fp) || busy.has(imageKey(fp))) continue;
        const rec = records.find((r) => r.fingerprint === fp);
        const fresh = (img.aliases ?? []).filter((a) => !claimed.has(a.name) && !deadAliases.has(a.name));
        if (rec === undefined) {
          await this.opts.store.putFleetImage({ ...recordOf(img), aliases: fresh });
        } else if (fresh.length > 0) {
          await this.opts.store.putFleetImage({ ...rec, aliases: [...rec.aliases, ...fresh] });
        }
        for (const a of fresh) claimed.add(a.name);
      }
      await this.opts.store.setConfig(flag, new Date().toISOString());
      this.opts.log?.info({ host }, 'adopted the images of a new host');
    }
  }
}
