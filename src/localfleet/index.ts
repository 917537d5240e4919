// localfleet owns real LXD daemons on this machine for integration tests and `lxdpm demo`: it
// starts N of them side by side (own LXD_DIR, dir storage pool, loopback HTTPS address, trust
// password), builds and imports a busybox image offline, reattaches to them from other processes
// through their JSON description, and removes every trace again (containers, daemons, mounts,
// directories), including the leftovers of a run that crashed.

export {
  startLocalFleet,
  fleetInfo,
  type DaemonExitReport,
  type LocalFleet,
  type LocalFleetImage,
  type LocalFleetInfo,
  type LocalFleetOptions,
} from './fleet.js';
export {
  attachLocalHost,
  DaemonStartError,
  type HostOptions,
  type LocalHost,
  type LocalHostInfo,
} from './host.js';
export { buildBusyboxImage } from './image.js';
export { cleanupStaleFleets, type CleanupOptions } from './stale.js';
export { CommandFailedError, type CommandResult } from './command.js';
