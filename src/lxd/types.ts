/**
 * LXD's wire types, named as LXD names them. Shared by the server, the host clients, the CLI and the UI.
 * Only the fields lxdpm reads or writes are spelled out; objects from hosts pass through unchanged.
 */

export type LxdStatusCode =
  100 | 101 | 102 | 103 | 104 | 105 | 106 | 107 | 108 | 109 | 110 | 111 | 112 | 200 | 400 | 401;

export interface LxdSyncResponse<T = unknown> {
  type: 'sync';
  status: 'Success';
  status_code: 200;
  operation: '';
  error_code: 0;
  error: '';
  metadata: T;
}

export interface LxdAsyncResponse {
  type: 'async';
  status: 'Operation created';
  status_code: 100;
  operation: string;
  error_code: 0;
  error: '';
  metadata: LxdOperation;
}

export interface LxdErrorResponse {
  type: 'error';
  status: '';
  status_code: 0;
  operation: '';
  error_code: number;
  error: string;
  metadata: null;
}

export type LxdResponse<T = unknown> = LxdSyncResponse<T> | LxdAsyncResponse | LxdErrorResponse;

export type LxdOperationClass = 'task' | 'websocket' | 'token';

export type LxdOperationStatus =
  'Created' | 'Running' | 'Cancelling' | 'Pending' | 'Success' | 'Failure' | 'Cancelled';

export interface LxdOperation {
  id: string;
  class: LxdOperationClass;
  description: string;
  created_at: string;
  updated_at: string;
  status: LxdOperationStatus;
  status_code: number;
  resources: Record<string, string[]> | null;
  metadata: Record<string, unknown> | null;
  may_cancel: boolean;
  err: string;
  location: string;
}

export interface LxdEvent {
  /** `operation`, `lifecycle`, `logging`, or newer kinds passed through unchanged. */
  type: string;
  timestamp: string;
  metadata: unknown;
  location: string;
  project: string;
}

export interface LxdCertificate {
  name: string;
  /** `client` or `metrics`. */
  type: string;
  restricted: boolean;
  projects: string[];
  certificate: string;
  fingerprint: string;
}

export interface LxdCertificatesPost {
  name?: string;
  type?: string;
  restricted?: boolean;
  projects?: string[] | null;
  certificate?: string;
  password?: string;
  trust_token?: string;
  token?: boolean;
}

export interface LxdServerEnvironment {
  addresses: string[];
  architectures: string[];
  certificate: string;
  certificate_fingerprint: string;
  driver: string;
  driver_version: string;
  firewall: string;
  kernel: string;
  kernel_architecture: string;
  kernel_features: Record<string, string> | null;
  kernel_version: string;
  lxc_features: Record<string, string> | null;
  os_name: string;
  os_version: string;
  project: string;
  server: string;
  server_clustered: boolean;
  server_event_mode: string;
  server_name: string;
  server_pid: number;
  server_version: string;
  storage: string;
  storage_version: string;
  storage_supported_drivers: { Name: string; Version: string; Remote: boolean }[] | null;
}

export interface LxdServer {
  config: Record<string, unknown> | null;
  api_extensions: string[];
  api_status: string;
  api_version: string;
  auth: 'trusted' | 'untrusted';
  public: boolean;
  auth_methods: string[];
  environment: LxdServerEnvironment;
}

/** `GET /1.0/resources`, reduced to what placement and the fleet view read. */
export interface LxdResources {
  cpu: { architecture: string; total: number };
  memory: { used: number; total: number };
  storage?: unknown;
}

export type LxdMemberStatus = 'Online' | 'Offline' | 'Evacuated';

export interface LxdClusterMember {
  server_name: string;
  url: string;
  database: boolean;
  status: LxdMemberStatus;
  message: string;
  architecture: string;
  failure_domain: string;
  description: string;
  config: Record<string, string>;
  groups: string[];
  roles: string[];
}

export interface LxdCluster {
  server_name: string;
  enabled: boolean;
  member_config: unknown[];
}

export interface LxdInstance {
  name: string;
  status: string;
  status_code: number;
  location: string;
  project?: string;
  type?: string;
  config?: Record<string, string>;
  [key: string]: unknown;
}

export interface LxdImageAlias {
  name: string;
  description: string;
}

/** `GET /1.0/images/FP`. */
export interface LxdImage {
  fingerprint: string;
  aliases: LxdImageAlias[] | null;
  architecture: string;
  auto_update: boolean;
  cached: boolean;
  filename: string;
  properties: Record<string, string> | null;
  public: boolean;
  expires_at: string;
  profiles: string[] | null;
  size: number;
  type: string;
  created_at: string;
  last_used_at: string;
  uploaded_at: string;
  update_source?: {
    alias: string;
    certificate: string;
    protocol: string;
    server: string;
    image_type: string;
  };
  [key: string]: unknown;
}

/** `GET /1.0/images/aliases/NAME`. */
export interface LxdImageAliasEntry {
  name: string;
  description: string;
  target: string;
  type: string;
}

/** `GET /1.0/profiles/NAME`. */
export interface LxdProfile {
  name: string;
  description: string;
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
  used_by: string[] | null;
  [key: string]: unknown;
}

/** A host behind the manager, as `GET /1.0/hosts/NAME` (lxdpm's extension) shows it. */
export interface HostView {
  name: string;
  url: string;
  status: LxdMemberStatus;
  message: string;
  /** SHA-256 of the host's pinned certificate ('' for unix-socket hosts). */
  fingerprint: string;
  server_name: string;
  server_version: string;
  architecture: string;
  architectures: string[];
  cpus: number;
  memory: { total: number; used: number };
  last_seen: string;
  created_at: string;
}
