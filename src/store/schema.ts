import type { Generated } from 'kysely';

/** The tables, as Kysely sees them. Changed only through migrations (`migrations.ts`). */
export interface Database {
  config: { key: string; value: string };
  certificates: {
    fingerprint: string;
    name: string;
    type: string;
    restricted: number;
    projects: string;
    certificate: string;
  };
  hosts: {
    name: string;
    url: string;
    /** Pinned PEM certificate of the host; empty for unix-socket hosts. */
    certificate: string;
    created_at: string;
  };
  instances: {
    name: string;
    host: string;
    /** Last known instance object from the host (JSON), served while the host is offline. */
    snapshot: string;
    /** 'reserved' while a create is in flight, 'present' once seen on the host. */
    state: string;
    updated_at: string;
  };
  operations: {
    id: string;
    class: string;
    description: string;
    status: string;
    status_code: number;
    created_at: string;
    updated_at: string;
    resources: string;
    metadata: string;
    err: string;
    seq: Generated<number>;
  };
  /** Browser sessions of the web UI: only the SHA-256 of each session secret is kept. */
  ui_sessions: { hash: string; created_at: string; expires_at: string };
  /** The durable journal of fleet-wide tasks: a restart finishes the rollback of an unfinished one. */
  fleet_tasks: {
    id: string;
    kind: string;
    description: string;
    /** JSON list of the resource keys the task holds (`image:FP`, `profile:NAME`). */
    resources: string;
    /** running | rolling_back | done | rolled_back */
    status: string;
    error: string;
    created_at: string;
    updated_at: string;
  };
  fleet_task_steps: {
    task_id: string;
    seq: number;
    /** A host name, or '' for the manager's own store. */
    target: string;
    action: string;
    /** JSON of how to undo the step (null: nothing to undo). */
    undo: string;
    /** started | done | failed | undone */
    state: string;
    /** JSON facts learned while the step ran (e.g. the host operation id). */
    note: string;
    error: string;
    updated_at: string;
  };
  /** The fleet's profile definitions: every host should hold exactly these. */
  fleet_profiles: { name: string; description: string; config: string; devices: string; updated_at: string };
  /** The fleet's images: every host should hold each one, with these aliases and properties. */
  fleet_images: {
    fingerprint: string;
    aliases: string;
    properties: string;
    public: number;
    auto_update: number;
    updated_at: string;
  };
  /** Images, aliases and profiles deleted (or rolled back) fleet-wide: a host that still has one drops it. */
  fleet_tombstones: { kind: string; name: string; deleted_at: string };
}
