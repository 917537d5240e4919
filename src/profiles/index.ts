/**
 * Profiles across the fleet: the store holds each profile's definition; creates, updates, renames and
 * deletes reach every online host as one all-or-nothing fleet task; the fleet sync repairs hosts that
 * are missing a profile or hold a different definition.
 */
export { FleetProfiles, validateProfileName } from './service.js';
export type { FleetProfilesOptions, ProfileDefinition, ProfileScan } from './service.js';
