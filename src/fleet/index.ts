/**
 * The fleet: the LXD hosts behind the manager, how they are paired, and their health.
 */
export { Fleet } from './fleet.js';
export type { AddHostRequest, FleetOptions, HostStatusListener, HostView } from './fleet.js';
export { LocationIndex } from './locations.js';
export type { LocationIndexOptions, NameConflict } from './locations.js';
