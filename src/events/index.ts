/**
 * Events: the hub every `/1.0/events` subscriber listens to, fed by the hosts' streams and the manager.
 */
export { EventHub } from './hub.js';
export type { EventListener } from './hub.js';
export { HostEventStreams } from './hosts.js';
export type { HostEventStreamsOptions } from './hosts.js';
