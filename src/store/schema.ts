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
}
