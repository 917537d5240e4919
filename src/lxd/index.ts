/**
 * LXD host clients: the transport to one host (HTTPS with the manager's client certificate and the
 * host's pinned certificate, or its unix socket), typed calls, operation waits and websocket dialing.
 * Also the LXD wire types shared by everything else.
 */
export { HostClient, fetchServerCertificate, isUnixUrl, unixSocketPath } from './client.js';
export type { HostEndpoint, RawResponse, RequestOptions } from './client.js';
export type * from './types.js';
