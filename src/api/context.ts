import type { FastifyBaseLogger } from 'fastify';
import type { EventHub } from '../events/index.js';
import type { Fleet, LocationIndex } from '../fleet/index.js';
import type { OperationRegistry, OperationRouter } from '../operations/index.js';
import type { ServerConfig } from '../serverconfig/index.js';
import type { Store } from '../store/index.js';
import type { KeyPair, TrustStore } from '../trust/index.js';
import type { UiSessions } from '../ui/index.js';

/** What the HTTP layer needs from the rest of the manager. Built once in the composition root. */
export interface ApiContext {
  store: Store;
  trust: TrustStore;
  fleet: Fleet;
  /** The manager's own operations. */
  operations: OperationRegistry;
  /** Which host owns each host operation. */
  opRouter: OperationRouter;
  /** Which host holds each instance. */
  locations: LocationIndex;
  events: EventHub;
  config: ServerConfig;
  /** The manager's server certificate. */
  identity: KeyPair & { fingerprint: string };
  serverName: string;
  /** The addresses clients reach the manager at (`environment.addresses`, tokens). */
  addresses(): string[];
  log: FastifyBaseLogger;
  /** Web UI browser sessions; without it no session cookie is accepted. */
  uiSessions?: UiSessions;
}

/** Who is calling. */
export interface CallerIdentity {
  protocol: 'unix' | 'tls' | 'session';
  trusted: boolean;
  /** SHA-256 of the TLS client certificate, when one was presented. */
  fingerprint?: string;
  /** PEM of the TLS client certificate, when one was presented. */
  certificate?: string;
  /** Public id of the web UI session, when the caller is trusted through one. */
  session?: string;
}
