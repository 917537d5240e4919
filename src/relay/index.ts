/**
 * Relays between clients and hosts for the byte streams LXD does not wrap in JSON: operation websockets
 * (exec, console, migration) relayed frame by frame, and streamed HTTP bodies (files, logs) that are
 * never held whole in memory.
 */
export {
  DEFAULT_BACKPRESSURE,
  HeldFrames,
  closeLike,
  holdFrames,
  isSendableCloseCode,
  openUpstream,
  relayWebSockets,
} from './websocket-relay.js';
export type { Backpressure, RelayEnd, RelayOptions } from './websocket-relay.js';
export { clientResponseHeaders, hasRequestBody, hostRequestHeaders, proxyStream } from './stream-proxy.js';
export type { StreamProxyOptions } from './stream-proxy.js';
