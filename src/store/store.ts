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

    async close() {
      await db.destroy();
    },
  };
}
