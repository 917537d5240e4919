/**
 * Instances across the fleet: fleet-wide lists (with unreachable hosts served from the location index),
 * and creation — name reserved fleet-wide, host chosen by the planner, image or source instance brought
 * to that host (host-to-host pulls), create forwarded — plus the bookkeeping of renames and deletes.
 */
export { InstanceService } from './service.js';
export type { CreateOutcome, CreateRequest, InstanceServiceOptions } from './service.js';
export { UNREACHABLE_STATUS } from './listing.js';
export type { InstancePrefix, ListRequest, ListResult } from './listing.js';
