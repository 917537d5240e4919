import { isDeepStrictEqual } from 'node:util';
import {
  BadRequestError,
  ForbiddenError,
  InternalError,
  NotFoundError,
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
} from '../fleettasks/index.js';
import type { LxdProfile } from '../lxd/index.js';
import type { OperationRegistry } from '../operations/index.js';
import type { ProfileRecord, Store } from '../store/index.js';

export interface FleetProfilesOptions {
  store: Store;
  fleet: Fleet;
  tasks: FleetTaskRunner;
  operations: OperationRegistry;
  /** Instances the location index knows (with their last seen object), for hosts that are offline. */
  instances?: () => { name: string; host: string; snapshot: Record<string, unknown> }[];
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** The writable part of a profile, as PUT takes it. */
export interface ProfileDefinition {
  description: string;
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
}

export interface ProfileScan {
  /** host → its profiles by name. */
  byHost: Map<string, Map<string, LxdProfile>>;
  failed: { host: string; error: string }[];
}

const profileKey = (name: string) => `profile:${name}`;
const profilePath = (name: string) => `/1.0/profiles/${encodeURIComponent(name)}`;

function definitionOf(p: { description?: string; config?: unknown; devices?: unknown }): ProfileDefinition {
  return {
    description: typeof p.description === 'string' ? p.description : '',
    config: (p.config ?? {}) as Record<string, string>,
    devices: (p.devices ?? {}) as Record<string, Record<string, string>>,
  };
}

const sameDefinition = (a: ProfileDefinition, b: ProfileDefinition) =>
  isDeepStrictEqual(definitionOf(a), definitionOf(b));

/** LXD's checks of a profile name, with its messages. */
export function validateProfileName(name: string): void {
  if (name === '') throw new BadRequestError('No name provided');
  if (name.includes('/')) throw new BadRequestError('Profile names may not contain slashes');
  if (name === '.' || name === '..') throw new BadRequestError(`Invalid profile name "${name}"`);
}

/**
 * The fleet's profiles: the store holds each definition, every change is applied to every online host
 * as one all-or-nothing fleet task (hosts already changed get their previous definition back if one
 * fails), and hosts that are missing or differ are repaired by the fleet sync.
 */
export class FleetProfiles {
  constructor(private readonly opts: FleetProfilesOptions) {
    const { tasks, fleet, store } = opts;
    tasks.registerUndo('profile.delete', async (host, undo) => {
      await fleet
        .client(host)
        .call('DELETE', profilePath(String(undo.name)))
        .catch(ignoreNotFound);
    });
    tasks.registerUndo('profile.put', async (host, undo) => {
      const name = String(undo.name);
      const def = undo.definition as ProfileDefinition;
      const client = fleet.client(host);
      await client.call('PUT', profilePath(name), def).catch(async (err: unknown) => {
        if (!isUpstreamNotFound(err)) throw err;
        await client.call('POST', '/1.0/profiles', { name, ...def });
      });
    });
    tasks.registerUndo('profile.rename', async (host, undo) => {
      await fleet
        .client(host)
        .call('POST', profilePath(String(undo.from)), { name: undo.to })
        .catch(ignoreNotFound);
    });
    tasks.registerUndo('store.profile', async (_target, undo) => {
      const previous = undo.previous as ProfileRecord | null;
      if (previous === null) await store.deleteProfile(String(undo.name));
      else await store.putProfile(previous);
    });
  }

  /** Every online host's profiles, in parallel. */
  async scan(hosts = this.opts.fleet.onlineNames()): Promise<ProfileScan> {
    const results = await Promise.allSettled(
      hosts.map((h) =>
        this.opts.fleet
          .client(h)
          .get<LxdProfile[]>('/1.0/profiles', { query: { recursion: '1' }, timeoutMs: 10_000 }),
      ),
    );
    const scan: ProfileScan = { byHost: new Map(), failed: [] };
    results.forEach((r, i) => {
      const host = hosts[i] ?? '';
      if (r.status === 'fulfilled') scan.byHost.set(host, new Map(r.value.map((p) => [p.name, p])));
      else scan.failed.push({ host, error: r.reason instanceof Error ? r.reason.message : String(r.reason) });
    });
    return scan;
  }

  /** Instances using a profile, gathered from every host (and the index for hosts that are down). */
  private usedBy(name: string, scan: ProfileScan): string[] {
    const used = new Set<string>();
    for (const profiles of scan.byHost.values())
      for (const u of profiles.get(name)?.used_by ?? []) used.add(u);
    for (const inst of this.opts.instances?.() ?? []) {
      if (scan.byHost.has(inst.host)) continue;
      const profiles = inst.snapshot.profiles;
      if (Array.isArray(profiles) && profiles.includes(name)) used.add(`/1.0/instances/${inst.name}`);
    }
    return [...used].sort();
  }

  /** The fleet's definitions, plus profiles that exist only on hosts (made there directly). */
  private async definitions(scan: ProfileScan): Promise<Map<string, ProfileDefinition>> {
    const defs = new Map<string, ProfileDefinition>();
    for (const rec of await this.opts.store.listProfiles()) defs.set(rec.name, definitionOf(rec));
    const hosts = [...scan.byHost.keys()].sort();
    for (const host of hosts) {
      for (const p of scan.byHost.get(host)?.values() ?? [])
        if (!defs.has(p.name)) defs.set(p.name, definitionOf(p));
    }
    return defs;
  }

  private present(name: string, def: ProfileDefinition, scan: ProfileScan): LxdProfile {
    return {
      config: def.config,
      description: def.description,
      devices: def.devices,
      name,
      used_by: this.usedBy(name, scan),
    };
  }

  async list(): Promise<LxdProfile[]> {
    const scan = await this.scan();
    const defs = await this.definitions(scan);
    return [...defs.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, def]) => this.present(name, def, scan));
  }

  /** One profile; `notFound` is LXD's message for the endpoint asking (it differs between them). */
  async get(name: string, notFound = 'Fetch profile: Profile not found'): Promise<LxdProfile> {
    const scan = await this.scan();
    const def = (await this.definitions(scan)).get(name);
    if (def === undefined) throw new NotFoundError(notFound);
    return this.present(name, def, scan);
  }

  /** Runs a profile change as a manager operation and fleet task, and waits for it (LXD answers sync). */
  private async run(description: string, resources: string[], body: (task: FleetTask) => Promise<void>) {
    let done!: Promise<void>;
    this.opts.operations.create({
      class: 'task',
      description,
      resources: { profiles: resources.map((r) => `/1.0/profiles/${r.replace(/^profile:/, '')}`) },
      run: (opctx) => {
        done = this.opts.tasks.run({ id: opctx.id, kind: description, description, resources }, body);
        return done.then(() => ({}));
      },
    });
    await done;
  }

  /** `POST /1.0/profiles`. */
  async create(name: string, def: ProfileDefinition): Promise<void> {
    validateProfileName(name);
    if ((await this.opts.store.getProfile(name)) !== undefined) {
      throw new InternalError(`Error inserting "${name}" into database: The profile already exists`);
    }
    const hosts = this.opts.fleet.onlineNames();
    await this.run('Creating profile', [profileKey(name)], async (task) => {
      await task.parallel(
        hosts,
        'profile.create',
        () => ({ type: 'profile.delete', name }),
        async (host, step) => {
          await step.atomic(() =>
            this.opts.fleet.client(host).call('POST', '/1.0/profiles', { name, ...def }),
          );
        },
      );
      await task.step(
        MANAGER_TARGET,
        'store.profile',
        { type: 'store.profile', name, previous: null },
        async () => {
          await this.opts.store.putProfile({ name, ...def });
          await this.opts.store.deleteTombstone('profile', name);
        },
      );
    });
  }

  /** `PUT`/`PATCH /1.0/profiles/NAME`: the new definition on every host, or the old one everywhere. */
  async update(name: string, def: ProfileDefinition): Promise<void> {
    const scan = await this.scan();
    const current = (await this.definitions(scan)).get(name);
    if (current === undefined) throw new NotFoundError('Profile not found');
    const previous = (await this.opts.store.getProfile(name)) ?? null;
    const hosts = [...scan.byHost.keys()];
    await this.run('Updating profile', [profileKey(name)], async (task) => {
      await task.parallel(
        hosts,
        'profile.update',
        (host) => {
          const old = scan.byHost.get(host)?.get(name);
          return old === undefined
            ? { type: 'profile.delete', name }
            : { type: 'profile.put', name, definition: definitionOf(old) };
        },
        async (host, step) => {
          const client = this.opts.fleet.client(host);
          // A PUT that fails can still have saved the profile (LXD: "profile change still saved").
          if (scan.byHost.get(host)?.has(name) === true) await client.call('PUT', profilePath(name), def);
          else await step.atomic(() => client.call('POST', '/1.0/profiles', { name, ...def }));
        },
      );
      await task.step(
        MANAGER_TARGET,
        'store.profile',
        { type: 'store.profile', name, previous },
        async () => {
          await this.opts.store.putProfile({ name, ...def });
        },
      );
    });
  }

  /** `POST /1.0/profiles/NAME`: rename on every host. */
  async rename(name: string, newName: string): Promise<void> {
    if (name === 'default') throw new ForbiddenError('The "default" profile cannot be renamed');
    validateProfileName(newName);
    const scan = await this.scan();
    const defs = await this.definitions(scan);
    const def = defs.get(name);
    if (def === undefined) throw new NotFoundError('Profile not found');
    if (defs.has(newName)) throw new InternalError(`Name "${newName}" already in use`);
    const previous = (await this.opts.store.getProfile(name)) ?? null;
    const hosts = [...scan.byHost.entries()].filter(([, p]) => p.has(name)).map(([h]) => h);
    await this.run('Renaming profile', [profileKey(name), profileKey(newName)], async (task) => {
      await task.parallel(
        hosts,
        'profile.rename',
        () => ({ type: 'profile.rename', from: newName, to: name }),
        async (host, step) => {
          await step.atomic(() =>
            this.opts.fleet.client(host).call('POST', profilePath(name), { name: newName }),
          );
        },
      );
      await task.step(
        MANAGER_TARGET,
        'store.profile',
        { type: 'store.profile', name, previous },
        async () => {
          await this.opts.store.deleteProfile(name);
        },
      );
      await task.step(
        MANAGER_TARGET,
        'store.profile',
        { type: 'store.profile', name: newName, previous: null },
        async () => {
          await this.opts.store.putProfile({ name: newName, ...def });
          await this.opts.store.deleteTombstone('profile', newName);
          await this.opts.store.putTombstone('profile', name);
        },
      );
    });
  }

  /** `DELETE /1.0/profiles/NAME`: refused while any instance anywhere uses it, as LXD does. */
  async delete(name: string): Promise<void> {
    if (name === 'default') throw new ForbiddenError('The "default" profile cannot be deleted');
    const scan = await this.scan();
    if (!(await this.definitions(scan)).has(name)) throw new NotFoundError('Profile not found');
    if (this.usedBy(name, scan).length > 0) throw new InternalError('Profile is currently in use');
    const previous = (await this.opts.store.getProfile(name)) ?? null;
    const holders = [...scan.byHost.entries()].filter(([, p]) => p.has(name));
    await this.run('Deleting profile', [profileKey(name)], async (task) => {
      await task.parallel(
        holders.map(([h]) => h),
        'profile.delete',
        (host) => {
          const old = scan.byHost.get(host)?.get(name);
          return old === undefined ? null : { type: 'profile.put', name, definition: definitionOf(old) };
        },
        async (host) => {
          await this.opts.fleet.client(host).call('DELETE', profilePath(name)).catch(ignoreNotFound);
        },
      );
      await task.step(
        MANAGER_TARGET,
        'store.profile',
        { type: 'store.profile', name, previous },
        async () => {
          await this.opts.store.deleteProfile(name);
          await this.opts.store.putTombstone('profile', name);
        },
      );
    });
  }

  /** The profile side of the fleet sync (see FleetImages.reconciler for the adoption rule). */
  readonly reconciler: Reconciler = {
    drift: async (hosts) => {
      const online = this.opts.fleet.onlineNames();
      const targets = hosts.filter((h) => online.includes(h));
      const scan = await this.scan(online);
      const busy = this.opts.tasks.busy();
      await this.adopt(targets, scan, busy);
      const records = await this.opts.store.listProfiles();
      const dead = new Set(await this.opts.store.listTombstones('profile'));
      await this.clearTombstones(scan, dead, busy);
      const items: DriftItem[] = [];
      for (const [host, profiles] of scan.byHost) {
        if (!targets.includes(host)) continue;
        for (const rec of records) {
          if (busy.has(profileKey(rec.name))) continue;
          const have = profiles.get(rec.name);
          if (have === undefined) items.push({ host, kind: 'profile', name: rec.name, problem: 'missing' });
          else if (!sameDefinition(definitionOf(have), definitionOf(rec)))
            items.push({ host, kind: 'profile', name: rec.name, problem: 'different' });
        }
        for (const p of profiles.values()) {
          if (records.some((r) => r.name === p.name) || busy.has(profileKey(p.name))) continue;
          items.push({
            host,
            kind: 'profile',
            name: p.name,
            problem: dead.has(p.name) ? 'deleted-in-fleet' : 'unmanaged',
          });
        }
      }
      return { items, repair: (item) => this.repair(item, scan) };
    },
  };

  /** Forgets a deleted profile once every host of the fleet was seen without it (see FleetImages). */
  private async clearTombstones(scan: ProfileScan, dead: Set<string>, busy: Set<string>): Promise<void> {
    const everyone = this.opts.fleet.list();
    if (scan.failed.length > 0 || !everyone.every((h) => h.status === 'Online' && scan.byHost.has(h.name)))
      return;
    for (const name of dead) {
      if (busy.has(profileKey(name))) continue;
      if ([...scan.byHost.values()].some((profiles) => profiles.has(name))) continue;
      await this.opts.store.deleteTombstone('profile', name);
      dead.delete(name);
    }
  }

  private async repair(item: DriftItem, scan: ProfileScan): Promise<void> {
    const client = this.opts.fleet.client(item.host);
    const have = scan.byHost.get(item.host)?.get(item.name);
    if (item.problem === 'deleted-in-fleet') {
      if ((have?.used_by ?? []).length > 0) throw new InternalError('Profile is currently in use');
      // Checked again under the lock: the profile may have been created again since the scan.
      await this.opts.tasks.exclusive([profileKey(item.name)], async () => {
        if (!(await this.opts.store.listTombstones('profile')).includes(item.name)) return;
        if ((await this.opts.store.getProfile(item.name)) !== undefined) return;
        await client.call('DELETE', profilePath(item.name)).catch(ignoreNotFound);
      });
      return;
    }
    await this.opts.tasks.run(
      {
        kind: 'profile.repair',
        description: `Repairing profile ${item.name} on ${item.host}`,
        resources: [profileKey(item.name)],
      },
      async (task) => {
        // Read again under the lock: a fleet change of this profile may have run since the scan.
        const rec = await this.opts.store.getProfile(item.name);
        if (rec === undefined) return;
        const def = definitionOf(rec);
        const current = await client.get<LxdProfile>(profilePath(item.name)).catch((err: unknown) => {
          if (isUpstreamNotFound(err)) return undefined;
          throw err;
        });
        if (current === undefined) {
          await task.step(item.host, 'profile.create', { type: 'profile.delete', name: item.name }, (step) =>
            step.atomic(() => client.call('POST', '/1.0/profiles', { name: item.name, ...def })),
          );
        } else if (!sameDefinition(definitionOf(current), def)) {
          await task.step(
            item.host,
            'profile.update',
            { type: 'profile.put', name: item.name, definition: definitionOf(current) },
            () => client.call('PUT', profilePath(item.name), def),
          );
        }
      },
    );
  }

  /** Records the profiles of hosts seen for the first time (the first host's definition wins). */
  private async adopt(hosts: string[], scan: ProfileScan, busy: Set<string>): Promise<void> {
    for (const host of [...hosts].sort()) {
      const flag = `fleet.profiles.adopted.${host}`;
      const profiles = scan.byHost.get(host);
      if (profiles === undefined || (await this.opts.store.getConfig(flag)) !== undefined) continue;
      const dead = new Set(await this.opts.store.listTombstones('profile'));
      for (const p of profiles.values()) {
        if (dead.has(p.name) || busy.has(profileKey(p.name))) continue;
        if ((await this.opts.store.getProfile(p.name)) !== undefined) continue;
        await this.opts.store.putProfile({ name: p.name, ...definitionOf(p) });
      }
      await this.opts.store.setConfig(flag, new Date().toISOString());
      this.opts.log?.info({ host }, 'adopted the profiles of a new host');
    }
  }
}
