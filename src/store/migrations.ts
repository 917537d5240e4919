import type { Kysely, Migration } from 'kysely';

/** Every schema change, in order. Never edit a migration that has shipped: add one. */
export const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('config')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('certificates')
        .addColumn('fingerprint', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('restricted', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('projects', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('certificate', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('hosts')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('certificate', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('instances')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('snapshot', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('operations')
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('class', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_code', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('resources', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('err', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
    },
  },
  '0002_ui_sessions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('ui_sessions')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0003_fleet_state': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('fleet_tasks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('resources', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('error', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('fleet_task_steps')
        .addColumn('task_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('undo', 'text', (c) => c.notNull().defaultTo('null'))
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('note', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('error', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('fleet_task_steps_pk', ['task_id', 'seq'])
        .execute();
      await db.schema
        .createTable('fleet_profiles')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('config', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('devices', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('fleet_images')
        .addColumn('fingerprint', 'text', (c) => c.primaryKey())
        .addColumn('aliases', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('properties', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('public', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('auto_update', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('fleet_tombstones')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('fleet_tombstones_pk', ['kind', 'name'])
        .execute();
    },
  },
};
