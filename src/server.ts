/**
 * The composition root: config → store → trust → fleet → operations → events → HTTP listeners.
 * Everything with a clock or an interval takes it as an option, so tests can shrink it.
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import pino, { type Logger } from 'pino';
import { buildApi } from './api/app.js';
import type { ApiContext } from './api/context.js';
import { certificateRoutes } from './api/routes/certificates.js';
import { clusterRoutes } from './api/routes/cluster.js';
import { eventRoutes } from './api/routes/events.js';
import { hostRoutes } from './api/routes/hosts.js';
import { imageRoutes } from './api/routes/images.js';
import { profileRoutes } from './api/routes/profiles.js';
import { instanceIoRoutes } from './api/routes/instance-io.js';
import { instanceRoutes } from './api/routes/instances.js';
import { operationRoutes } from './api/routes/operations.js';
import { plannerRoutes } from './api/routes/planner.js';
import { projectRoutes } from './api/routes/projects.js';
import { resourceRoutes } from './api/routes/resources.js';
import { storagePoolRoutes } from './api/routes/storage-pools.js';
import { uiRoutes } from './api/routes/ui.js';
import { serverRoutes } from './api/routes/server.js';
import { websocketRoutes } from './api/routes/websocket.js';
import { InternalError } from './errors/index.js';
import { EventHub, HostEventStreams } from './events/index.js';
import { Fleet, LocationIndex } from './fleet/index.js';
import { FleetSync, FleetTaskRunner } from './fleettasks/index.js';
import { FleetImages } from './images/index.js';
import { FleetProfiles } from './profiles/index.js';
import { OperationRegistry, OperationRouter } from './operations/index.js';
import { ServerConfig } from './serverconfig/index.js';
import { openStore, type Store } from './store/index.js';
import { certificateFingerprint, loadOrCreateKeyPair, TrustStore } from './trust/index.js';
import { UiSessions } from './ui/index.js';

export const DEFAULT_LISTEN = '127.0.0.1:8443';

/**
 * Node ends any request not fully received within 5 minutes by default; file pushes and image uploads
 * stream for as long as they take, as on LXD. Headers still have to arrive in time.
 */
const STREAMING_SERVER_OPTIONS = { requestTimeout: 0 } as const;

export interface ManagerOptions {
  dataDir: string;
  /** HTTPS address; when given it wins over the stored `core.https_address`. */
  listen?: string;
  healthIntervalMs?: number;
  healthTimeoutMs?: number;
  /** Interval of the full instance rescan that corrects the location index. */
  rescanIntervalMs?: number;
  eventPingIntervalMs?: number;
  logger?: Logger;
}

export interface Manager {
  readonly dataDir: string;
  readonly socketPath: string;
  readonly fingerprint: string;
  readonly certificate: string;
  httpsAddress(): string;
  readonly store: Store;
  readonly fleet: Fleet;
  readonly locations: LocationIndex;
  /** The merged event stream (its `size` is the number of subscribers). */
  readonly events: EventHub;
  /** Keeps every host's images and profiles in line with the fleet (`syncNow()` forces a pass). */
  readonly fleetSync: FleetSync;
  stop(): Promise<void>;
}

/** Splits `host:port` / `[v6]:port`. */
export function parseAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(address.trim());
  const host = m?.[1] ?? '';
  const port = Number(m?.[2] ?? 8443);
  if (host === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InternalError(`Invalid address "${address}"`);
  }
  return { host, port };
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A listener that remembers its open sockets, so stop() never waits on idle keep-alives or event streams. */
class Listener {
  private readonly sockets = new Set<Socket>();
  constructor(readonly server: Server) {
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    server.on('secureConnection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
  }

  async listen(opts: { host: string; port: number } | { path: string }): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(opts, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

async function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      resolve(false);
    });
  });
}

export async function startManager(opts: ManagerOptions): Promise<Manager> {
  const log = opts.logger ?? pino({ level: process.env.LXDPM_LOG_LEVEL ?? 'info' }, pino.destination(2));
  await mkdir(opts.dataDir, { recursive: true, mode: 0o711 });
  const socketPath = join(opts.dataDir, 'unix.socket');
  if (await socketInUse(socketPath))
    throw new InternalError(`Another manager is already serving ${socketPath}`);

  const store = await openStore(join(opts.dataDir, 'lxdpm.db'));
  const serverCert = await loadOrCreateKeyPair(opts.dataDir, 'server', `lxdpm@${hostname()}`);
  const clientCert = await loadOrCreateKeyPair(opts.dataDir, 'client', `lxdpm-client@${hostname()}`);
  const fingerprint = certificateFingerprint(serverCert.cert);
  let serverName = await store.getConfig('server_name');
  if (serverName === undefined) {
    serverName = hostname();
    await store.setConfig('server_name', serverName);
  }

  const trust = new TrustStore(store);
  await trust.load();
  const uiSessions = new UiSessions({ store });
  await uiSessions.load();
  const events = new EventHub();
  const operations = new OperationRegistry({ store, events, location: () => serverName });
  await operations.load();
  const fleet = new Fleet({
    store,
    clientCert,
    managerName: `lxdpm-${serverName}`,
    healthIntervalMs: opts.healthIntervalMs,
    healthTimeoutMs: opts.healthTimeoutMs,
    log,
  });

  const locations = new LocationIndex({ store, fleet, rescanIntervalMs: opts.rescanIntervalMs, log });
  await locations.load();
  const opRouter = new OperationRouter(fleet);
  const hostEvents = new HostEventStreams({ fleet, hub: events, opRouter, locations, log });
  // Fleet-wide images and profiles: journaled all-or-nothing tasks, and a sync that repairs drift.
  const fleetTasks = new FleetTaskRunner({
    store,
    log,
    isOnline: (host) => fleet.has(host) && fleet.get(host).status === 'Online',
  });
  const images = new FleetImages({
    store,
    fleet,
    tasks: fleetTasks,
    operations,
    instanceHost: (name) => locations.locate(name),
    log,
  });
  const profiles = new FleetProfiles({
    store,
    fleet,
    tasks: fleetTasks,
    operations,
    instances: () => locations.list(),
    log,
  });
  const fleetSync = new FleetSync({
    fleet,
    tasks: fleetTasks,
    operations,
    reconcilers: [profiles.reconciler, images.reconciler],
    intervalMs: opts.rescanIntervalMs,
    log,
  });

  let https: Listener | undefined;
  let currentAddress = '';

  const bindHttps = async (address: string) => {
    const { host, port } = parseAddress(address);
    const server = createHttpsServer(
      {
        cert: serverCert.cert,
        key: serverCert.key,
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
        ...STREAMING_SERVER_OPTIONS,
      },
      api.handler,
    );
    server.on('upgrade', api.upgrade);
    server.keepAliveTimeout = 60_000;
    const next = new Listener(server);
    await next.listen({ host, port });
    const bound = server.address();
    const previous = https;
    https = next;
    // Port 0 asks for any free port: advertise the one actually bound.
    currentAddress = typeof bound === 'object' && bound !== null ? formatAddress(host, bound.port) : address;
    await previous?.close();
    log.info({ address }, 'listening on https');
  };

  const config = new ServerConfig(store, {
    applyHttpsAddress: async (address) => bindHttps(address ?? opts.listen ?? DEFAULT_LISTEN),
  });

  const ctx: ApiContext = {
    store,
    trust,
    fleet,
    operations,
    opRouter,
    locations,
    events,
    config,
    identity: { ...serverCert, fingerprint },
    serverName,
    addresses: () => (currentAddress === '' ? [] : [currentAddress]),
    log,
    uiSessions,
  };
  // bindHttps (above) runs only after this point, so it may use `api`.
  const api = await buildApi(ctx, [
    serverRoutes,
    certificateRoutes,
    projectRoutes,
    resourceRoutes,
    hostRoutes,
    clusterRoutes,
    operationRoutes,
    eventRoutes({ pingIntervalMs: opts.eventPingIntervalMs }),
    storagePoolRoutes,
    uiRoutes(),
    imageRoutes({ images, spoolDir: join(opts.dataDir, 'images-tmp') }),
    profileRoutes(profiles),
    instanceIoRoutes,
    instanceRoutes(),
    plannerRoutes,
    websocketRoutes,
  ]);

  await fleet.load();
  fleet.start();
  await locations.rescan();
  locations.start();
  hostEvents.start();
  await fleetTasks.recover();
  fleetSync.start();
  void fleetSync.syncNow();

  if (opts.listen !== undefined) await store.setConfig('core.https_address', opts.listen);
  await bindHttps(opts.listen ?? (await config.httpsAddress()) ?? DEFAULT_LISTEN);

  await rm(socketPath, { force: true });
  const unixServer = createHttpServer(STREAMING_SERVER_OPTIONS, api.handler);
  unixServer.on('upgrade', api.upgrade);
  const unix = new Listener(unixServer);
  await unix.listen({ path: socketPath });
  await chmod(socketPath, 0o660);
  log.info({ socket: socketPath }, 'listening on unix socket');

  let stopped = false;
  return {
    dataDir: opts.dataDir,
    socketPath,
    fingerprint,
    certificate: serverCert.cert,
    httpsAddress: () => currentAddress,
    store,
    fleet,
    locations,
    events,
    fleetSync,
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all([unix.close(), https?.close()]);
      await hostEvents.stop();
      await locations.stop();
      await fleetSync.stop();
      await fleet.stop();
      await api.app.close();
      await store.close();
      await rm(socketPath, { force: true });
    },
  };
}
