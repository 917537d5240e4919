import { Migrator, type Kysely, type MigrationProvider } from 'kysely';
import { ConflictError } from '../errors/index.js';
import { migrations } from './migrations.js';
import type { Database } from './schema.js';
import { openSqlite } from './sqlite.js';

export interface CertificateRecord {
  fingerprint: string;
  name: string;
  type: string;
  restricted: boolean;
  projects: string[];
  certificate: string;
}

export interface HostRecord {
  name: string;
  url: string;
  certificate: string;
  createdAt: string;
}

export interface InstanceRecord {
  name: string;
  host: string;
  state: 'reserved' | 'present';
  snapshot: Record<string, unknown>;
}

export interface OperationRecord {
  id: string;
  class: string;
  description: string;
  status: string;
  statusCode: number;
  createdAt: string;
  updatedAt: string;
  resources: Record<string, string[]>;
  metadata: Record<string, unknown>;
  err: string;
}

export interface UiSessionRecord {
  /** SHA-256 (hex) of the session secret. */
  hash: string;
  createdAt: string;
  expiresAt: string;
}

export type FleetTaskStatus = 'running' | 'rolling_back' | 'done' | 'rolled_back';

/** One fleet-wide task in the journal. */
export interface FleetTaskRecord {
  id: string;
  kind: string;
  description: string;
  /** Resource keys the task holds (`image:FP`, `alias:NAME`, `profile:NAME`). */
  resources: string[];
  status: FleetTaskStatus;
  error: string;
  createdAt: string;
  updatedAt: string;
}

export type FleetTaskStepState = 'started' | 'done' | 'failed' | 'undone';

/** One step of a fleet task: written before it runs, updated when it ends or is undone. */
export interface FleetTaskStepRecord {
  taskId: string;
  seq: number;
  /** Host name, or '' for the manager's own store. */
  target: string;
  action: string;
  /** How to undo the step; null when there is nothing to undo. */
  undo: { type: string; [key: string]: unknown } | null;
  state: FleetTaskStepState;
  note: Record<string, unknown>;
  error: string;
}

/** A profile as the fleet defines it. */
export interface ProfileRecord {
  name: string;
  description: string;
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
}

/** An image the whole fleet holds, with its fleet-wide aliases and writable properties. */
export interface FleetImageRecord {
  fingerprint: string;
  aliases: { name: string; description: string }[];
  properties: Record<string, string>;
  public: boolean;
  autoUpdate: boolean;
}

export type TombstoneKind = 'image' | 'alias' | 'profile';

/** Everything the manager persists, behind one interface. Dialect differences stay in the dialect module. */
export interface Store {
  getConfig(key: string): Promise<string | undefined>;
  setConfig(key: string, value: string | undefined): Promise<void>;

  listCertificates(): Promise<CertificateRecord[]>;
  getCertificate(fingerprint: string): Promise<CertificateRecord | undefined>;
  /** Throws ConflictError when the fingerprint is already trusted. */
  addCertificate(cert: CertificateRecord): Promise<void>;
  deleteCertificate(fingerprint: string): Promise<boolean>;

  listHosts(): Promise<HostRecord[]>;
  getHost(name: string): Promise<HostRecord | undefined>;
  /** Throws ConflictError when the name is taken. */
  addHost(host: HostRecord): Promise<void>;
  deleteHost(name: string): Promise<boolean>;

  listInstances(): Promise<InstanceRecord[]>;
  getInstance(name: string): Promise<InstanceRecord | undefined>;
  /** Reserves a name for a create in flight. Throws ConflictError when the name is known anywhere. */
  reserveInstance(name: string, host: string): Promise<void>;
  putInstance(rec: InstanceRecord): Promise<void>;
  renameInstance(from: string, to: string): Promise<void>;
  deleteInstance(name: string): Promise<void>;

  listOperations(): Promise<OperationRecord[]>;
  putOperation(op: OperationRecord): Promise<void>;
  deleteOperationsBefore(updatedAt: string): Promise<void>;

  listUiSessions(): Promise<UiSessionRecord[]>;
  putUiSession(rec: UiSessionRecord): Promise<void>;
  deleteUiSessions(hashes: string[]): Promise<void>;

  listFleetTasks(filter?: { unfinished?: boolean }): Promise<FleetTaskRecord[]>;
  putFleetTask(task: FleetTaskRecord): Promise<void>;
  listFleetTaskSteps(taskId: string): Promise<FleetTaskStepRecord[]>;
  putFleetTaskStep(step: FleetTaskStepRecord): Promise<void>;
  /** Removes finished tasks (and their steps) last updated before the given time. */
  deleteFleetTasksBefore(updatedAt: string): Promise<void>;

  listProfiles(): Promise<ProfileRecord[]>;
  getProfile(name: string): Promise<ProfileRecord | undefined>;
  putProfile(rec: ProfileRecord): Promise<void>;
  deleteProfile(name: string): Promise<void>;

  listFleetImages(): Promise<FleetImageRecord[]>;
  getFleetImage(fingerprint: string): Promise<FleetImageRecord | undefined>;
  putFleetImage(rec: FleetImageRecord): Promise<void>;
  deleteFleetImage(fingerprint: string): Promise<void>;

  listTombstones(kind: TombstoneKind): Promise<string[]>;
  putTombstone(kind: TombstoneKind, name: string): Promise<void>;
  deleteTombstone(kind: TombstoneKind, name: string): Promise<void>;

  close(): Promise<void>;
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };

export async function migrate(db: Kysely<Database>): Promise<void> {
  const { error } = await new Migrator({ db, provider }).migrateToLatest();
  if (error !== undefined)
    throw error instanceof Error ? error : new Error('migration failed', { cause: error });
}

export async function openStore(path: string): Promise<Store> {
  const db = openSqlite(path);
  await migrate(db);
  return createKyselyStore(db);
}

export function createKyselyStore(db: Kysely<Database>): Store {
  const now = () => new Date().toISOString();
  const toCert = (r: Database['certificates']): CertificateRecord => ({
    fingerprint: r.fingerprint,
    name: r.name,
    type: r.type,
    restricted: r.restricted !== 0,
    projects: JSON.parse(r.projects) as string[],
    certificate: r.certificate,
  });
  const toHost = (r: Database['hosts']): HostRecord => ({
    name: r.name,
    url: r.url,
    certificate: r.certificate,
    createdAt: r.created_at,
  });
  const toInstance = (r: Database['instances']): InstanceRecord => ({
    name: r.name,
    host: r.host,
    state: r.state === 'reserved' ? 'reserved' : 'present',
    snapshot: JSON.parse(r.snapshot) as Record<string, unknown>,
  });

  const toProfile = (r: Database['fleet_profiles']): ProfileRecord => ({
    name: r.name,
    description: r.description,
    config: JSON.parse(r.config) as ProfileRecord['config'],
    devices: JSON.parse(r.devices) as ProfileRecord['devices'],
  });
  const toFleetImage = (r: Database['fleet_images']): FleetImageRecord => ({
    fingerprint: r.fingerprint,
    aliases: JSON.parse(r.aliases) as FleetImageRecord['aliases'],
    properties: JSON.parse(r.properties) as FleetImageRecord['properties'],
    public: r.public !== 0,
    autoUpdate: r.auto_update !== 0,
  });

  return {
    async getConfig(key) {
      const row = await db.selectFrom('config').select('value').where('key', '=', key).executeTakeFirst();
      return row?.value;
    },
    async setConfig(key, value) {
      if (value === undefined) {
        await db.deleteFrom('config').where('key', '=', key).execute();
        return;
      }
      await db
        .insertInto('config')
        .values({ key, value })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
        .execute();
    },

    async listCertificates() {
      const rows = await db.selectFrom('certificates').selectAll().orderBy('name').execute();
      return rows.map(toCert);
    },
    async getCertificate(fingerprint) {
      const row = await db
        .selectFrom('certificates')
        .selectAll()
        .where('fingerprint', '=', fingerprint)
        .executeTakeFirst();
      return row && toCert(row);
    },
    async addCertificate(cert) {
      try {
        await db
          .insertInto('certificates')
          .values({
            fingerprint: cert.fingerprint,
            name: cert.name,
            type: cert.type,
            restricted: cert.restricted ? 1 : 0,
            projects: JSON.stringify(cert.projects),
            certificate: cert.certificate,
          })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError('Certificate already in trust store');
        throw err;
      }
    },
    async deleteCertificate(fingerprint) {
      const res = await db
        .deleteFrom('certificates')
        .where('fingerprint', '=', fingerprint)
        .executeTakeFirst();
      return res.numDeletedRows > 0n;
    },

    async listHosts() {
      const rows = await db.selectFrom('hosts').selectAll().orderBy('name').execute();
      return rows.map(toHost);
    },
    async getHost(name) {
      const row = await db.selectFrom('hosts').selectAll().where('name', '=', name).executeTakeFirst();
      return row && toHost(row);
    },
    async addHost(host) {
      try {
        await db
          .insertInto('hosts')
          .values({
            name: host.name,
            url: host.url,
            certificate: host.certificate,
            created_at: host.createdAt,
          })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`Host "${host.name}" already exists`);
        throw err;
      }
    },
    async deleteHost(name) {
      return db.transaction().execute(async (trx) => {
        await trx.deleteFrom('instances').where('host', '=', name).execute();
        const res = await trx.deleteFrom('hosts').where('name', '=', name).executeTakeFirst();
        return res.numDeletedRows > 0n;
      });
    },

    async listInstances() {
      const rows = await db.selectFrom('instances').selectAll().orderBy('name').execute();
      return rows.map(toInstance);
    },
    async getInstance(name) {
      const row = await db.selectFrom('instances').selectAll().where('name', '=', name).executeTakeFirst();
      return row && toInstance(row);
    },
    async reserveInstance(name, host) {
      try {
        await db
          .insertInto('instances')
          .values({ name, host, state: 'reserved', snapshot: '{}', updated_at: now() })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError('Instance already exists');
        throw err;
      }
    },
    async putInstance(rec) {
      const values = {
        name: rec.name,
        host: rec.host,
        state: rec.state,
        snapshot: JSON.stringify(rec.snapshot),
        updated_at: now(),
      };
      await db
        .insertInto('instances')
        .values(values)
        .onConflict((oc) =>
          oc.column('name').doUpdateSet({
            host: values.host,
            state: values.state,
            snapshot: values.snapshot,
            updated_at: values.updated_at,
          }),
        )
        .execute();
    },
    async renameInstance(from, to) {
      try {
        await db
          .updateTable('instances')
          .set({ name: to, updated_at: now() })
          .where('name', '=', from)
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError('Instance already exists');
        throw err;
      }
    },
    async deleteInstance(name) {
      await db.deleteFrom('instances').where('name', '=', name).execute();
    },

    async listOperations() {
      const rows = await db.selectFrom('operations').selectAll().orderBy('seq').execute();
      return rows.map((r) => ({
        id: r.id,
        class: r.class,
        description: r.description,
        status: r.status,
        statusCode: r.status_code,
        createdAt: r.created_at,
        updatedAt: r.updated_at,
        resources: JSON.parse(r.resources) as Record<string, string[]>,
        metadata: JSON.parse(r.metadata) as Record<string, unknown>,
        err: r.err,
      }));
    },
    async putOperation(op) {
      const values = {
        id: op.id,
        class: op.class,
        description: op.description,
        status: op.status,
        status_code: op.statusCode,
        created_at: op.createdAt,
        updated_at: op.updatedAt,
        resources: JSON.stringify(op.resources),
        metadata: JSON.stringify(op.metadata),
        err: op.err,
      };
      const { id: _id, created_at: _c, ...update } = values;
      await db
        .insertInto('operations')
        .values(values)
        .onConflict((oc) => oc.column('id').doUpdateSet(update))
        .execute();
    },
    async deleteOperationsBefore(updatedAt) {
      await db.deleteFrom('operations').where('updated_at', '<', updatedAt).execute();
    },

    async listUiSessions() {
      const rows = await db.selectFrom('ui_sessions').selectAll().orderBy('created_at').execute();
      return rows.map((r) => ({ hash: r.hash, createdAt: r.created_at, expiresAt: r.expires_at }));
    },
    async putUiSession(rec) {
      await db
        .insertInto('ui_sessions')
        .values({ hash: rec.hash, created_at: rec.createdAt, expires_at: rec.expiresAt })
        .execute();
    },
    async deleteUiSessions(hashes) {
      if (hashes.length === 0) return;
      await db.deleteFrom('ui_sessions').where('hash', 'in', hashes).execute();
    },

    async listFleetTasks(filter) {
      let q = db.selectFrom('fleet_tasks').selectAll().orderBy('created_at');
      if (filter?.unfinished === true) q = q.where('status', 'in', ['running', 'rolling_back']);
      const rows = await q.execute();
      return rows.map((r) => ({
        id: r.id,
        kind: r.kind,
        description: r.description,
        resources: JSON.parse(r.resources) as string[],
        status: r.status as FleetTaskRecord['status'],
        error: r.error,
        createdAt: r.created_at,
        updatedAt: r.updated_at,
      }));
    },
    async putFleetTask(task) {
      const values = {
        id: task.id,
        kind: task.kind,
        description: task.description,
        resources: JSON.stringify(task.resources),
        status: task.status,
        error: task.error,
        created_at: task.createdAt,
        updated_at: task.updatedAt,
      };
      const { id: _id, created_at: _c, ...update } = values;
      await db
        .insertInto('fleet_tasks')
        .values(values)
        .onConflict((oc) => oc.column('id').doUpdateSet(update))
        .execute();
    },
    async listFleetTaskSteps(taskId) {
      const rows = await db
        .selectFrom('fleet_task_steps')
        .selectAll()
        .where('task_id', '=', taskId)
        .orderBy('seq')
        .execute();
      return rows.map((r) => ({
        taskId: r.task_id,
        seq: r.seq,
        target: r.target,
        action: r.action,
        undo: JSON.parse(r.undo) as FleetTaskStepRecord['undo'],
        state: r.state as FleetTaskStepRecord['state'],
        note: JSON.parse(r.note) as Record<string, unknown>,
        error: r.error,
      }));
    },
    async putFleetTaskStep(step) {
      const values = {
        task_id: step.taskId,
        seq: step.seq,
        target: step.target,
        action: step.action,
        undo: JSON.stringify(step.undo),
        state: step.state,
        note: JSON.stringify(step.note),
        error: step.error,
        updated_at: now(),
      };
      const { task_id: _t, seq: _s, ...update } = values;
      await db
        .insertInto('fleet_task_steps')
        .values(values)
        .onConflict((oc) => oc.columns(['task_id', 'seq']).doUpdateSet(update))
        .execute();
    },
    async deleteFleetTasksBefore(updatedAt) {
      await db.transaction().execute(async (trx) => {
        const old = trx
          .selectFrom('fleet_tasks')
          .select('id')
          .where('updated_at', '<', updatedAt)
          .where('status', 'in', ['done', 'rolled_back']);
        await trx.deleteFrom('fleet_task_steps').where('task_id', 'in', old).execute();
        await trx
          .deleteFrom('fleet_tasks')
          .where('updated_at', '<', updatedAt)
          .where('status', 'in', ['done', 'rolled_back'])
          .execute();
      });
    },

    async listProfiles() {
      const rows = await db.selectFrom('fleet_profiles').selectAll().orderBy('name').execute();
      return rows.map(toProfile);
    },
    async getProfile(name) {
      const row = await db
        .selectFrom('fleet_profiles')
        .selectAll()
        .where('name', '=', name)
        .executeTakeFirst();
      return row && toProfile(row);
    },
    async putProfile(rec) {
      const values = {
        name: rec.name,
        description: rec.description,
        config: JSON.stringify(rec.config),
        devices: JSON.stringify(rec.devices),
        updated_at: now(),
      };
      const { name: _n, ...update } = values;
      await db
        .insertInto('fleet_profiles')
        .values(values)
        .onConflict((oc) => oc.column('name').doUpdateSet(update))
        .execute();
    },
    async deleteProfile(name) {
      await db.deleteFrom('fleet_profiles').where('name', '=', name).execute();
    },

    async listFleetImages() {
      const rows = await db.selectFrom('fleet_images').selectAll().orderBy('fingerprint').execute();
      return rows.map(toFleetImage);
    },
    async getFleetImage(fingerprint) {
      const row = await db
        .selectFrom('fleet_images')
        .selectAll()
        .where('fingerprint', '=', fingerprint)
        .executeTakeFirst();
      return row && toFleetImage(row);
    },
    async putFleetImage(rec) {
      const values = {
        fingerprint: rec.fingerprint,
        aliases: JSON.stringify(rec.aliases),
        properties: JSON.stringify(rec.properties),
        public: rec.public ? 1 : 0,
        auto_update: rec.autoUpdate ? 1 : 0,
        updated_at: now(),
      };
      const { fingerprint: _f, ...update } = values;
      await db
        .insertInto('fleet_images')
        .values(values)
        .onConflict((oc) => oc.column('fingerprint').doUpdateSet(update))
        .execute();
    },
    async deleteFleetImage(fingerprint) {
      await db.deleteFrom('fleet_images').where('fingerprint', '=', fingerprint).execute();
    },

    async listTombstones(kind) {
      const rows = await db
        .selectFrom('fleet_tombstones')
        .select('name')
        .where('kind', '=', kind)
        .orderBy('name')
        .execute();
      return rows.map((r) => r.name);
    },
    async putTombstone(kind, name) {
      await db
        .insertInto('fleet_tombstones')
        .values({ kind, name, deleted_at: now() })
        .onConflict((oc) => oc.columns(['kind', 'name']).doUpdateSet({ deleted_at: now() }))
        .execute();
    },
    async deleteTombstone(kind, name) {
      await db.deleteFrom('fleet_tombstones').where('kind', '=', kind).where('name', '=', name).execute();
    },

    async close() {
      await db.destroy();
    },
  };
}
