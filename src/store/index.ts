/**
 * The store: everything lxdpm persists (config, trusted certificates, hosts, the location index,
 * operations), behind the `Store` interface, with migrations. SQLite is the embedded default.
 */
export { openStore, createKyselyStore, migrate } from './store.js';
export type {
  Store,
  CertificateRecord,
  HostRecord,
  InstanceRecord,
  OperationRecord,
  UiSessionRecord,
  FleetTaskRecord,
  FleetTaskStatus,
  FleetTaskStepRecord,
  FleetTaskStepState,
  ProfileRecord,
  FleetImageRecord,
  TombstoneKind,
} from './store.js';
export { openSqlite } from './sqlite.js';
