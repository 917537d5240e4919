import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLocalHost, retireHost, type DaemonHost, type LocalHost, type LocalHostInfo } from './host.js';
import { buildBusyboxImage } from './image.js';
import { FLEET_DIR_PREFIX, MARKER_FILE, OWNER_PID_FILE, logFileOf, pidFileOf } from './layout.js';
import { unmountUnder } from './mounts.js';

export interface LocalFleetImage {
  readonly path: string;
  readonly fingerprint: string;
  readonly alias: string;
}

/** JSON description of a fleet: what a test worker needs to reach it (see attachLocalHost). */
export interface LocalFleetInfo {
  readonly root: string;
  readonly hosts: readonly LocalHostInfo[];
  readonly image: LocalFleetImage;
}

export interface LocalFleet {
  readonly root: string;
  readonly hosts: readonly LocalHost[];
  /** The busybox image, imported on every host under `alias` unless importImage was false. */
  readonly image: LocalFleetImage;
  /** Deletes containers, stops daemons, unmounts and removes root. Safe to call more than once. */
  teardown(): Promise<void>;
  /**
   * Watches the daemons until teardown: one that exits although nobody stopped it (a crash, a kill
   * from outside) is reported with its last words and started again on the same directory and address,
   * so one crash does not fail every later test. Returns a function that stops watching.
   */
  supervise(onUnaskedExit: (report: DaemonExitReport) => void, intervalMs?: number): () => void;
}

export interface DaemonExitReport {
  host: string;
  pid: number;
  /** The end of the daemon's output and log (see DaemonHost.lastWords). */
  lastWords: string;
  /** How the restart went: 'restarted' or the error. */
  restart: string;
}

export interface LocalFleetOptions {
  count: number;
  /** Host i (0-based; h1 is i = 0) listens on 127.0.0.1:(basePort + i). Default 18440. */
  basePort?: number;
  /** core.trust_password on every host. Default 'lxdpm-test'. */
  password?: string;
  /**
   * Where to put the fleet. Default: a new `${os.tmpdir()}/lxdpm-fleet-XXXXXX`. The fleet owns this
   * directory and removes it on teardown; its parents must be traversable (o+x) for containers.
   * Only roots under os.tmpdir() named lxdpm-fleet-* are found by cleanupStaleFleets().
   */
  root?: string;
  log?: (msg: string) => void;
  /** Import the busybox image on every host. Default true. */
  importImage?: boolean;
}

const IMAGE_ALIAS = 'busybox';

function hostInfoOf({ name, dir, socket, address, url, password }: LocalHostInfo): LocalHostInfo {
  return { name, dir, socket, address, url, password };
}

/** The fleet as plain JSON, e.g. for Vitest's provide() or for attachLocalHost in another process. */
export function fleetInfo(fleet: LocalFleet): LocalFleetInfo {
  return { root: fleet.root, hosts: fleet.hosts.map(hostInfoOf), image: { ...fleet.image } };
}

/** Waits for every task, then fails with the first error: nothing is left running when we tear down. */
async function allOrThrow(tasks: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(tasks);
  const errors = results.filter((r) => r.status === 'rejected').map((r) => r.reason as unknown);
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} fleet steps failed`);
}

/** A taken port would make `core.https_address` fail later with a less helpful message. */
async function assertPortFree(port: number): Promise<void> {
  const server = createServer();
  server.listen(port, '127.0.0.1');
  try {
    await once(server, 'listening');
  } catch (err) {
    throw new Error(`127.0.0.1:${port} is in use (a stale fleet? cleanupStaleFleets() removes those)`, {
      cause: err,
    });
  }
  server.close();
  await once(server, 'close');
}

async function configureHost(host: DaemonHost, password: string): Promise<void> {
  await Promise.all([
    (async () => {
      await host.lxcChecked(['storage', 'create', 'default', 'dir']);
      await host.lxcChecked([
        'profile',
        'device',
        'add',
        'default',
        'root',
        'disk',
        'path=/',
        'pool=default',
      ]);
    })(),
    // `lxc config set` is a GET then a PUT with the ETag: two at once on one server conflict.
    (async () => {
      await host.lxcChecked(['config', 'set', 'core.https_address', host.address]);
      await host.lxcChecked(['config', 'set', 'core.trust_password', password]);
    })(),
  ]);
}

async function importImage(host: DaemonHost, image: LocalFleetImage): Promise<void> {
  const { stdout } = await host.lxcChecked(['image', 'import', image.path, '--alias', image.alias]);
  // For a unified tarball LXD's fingerprint is the file's sha256; a mismatch means a wrong file.
  if (!stdout.includes(image.fingerprint)) {
    throw new Error(`${host.name}: imported image is not ${image.fingerprint}: ${stdout.trim()}`);
  }
}

/** Retires every host, then unmounts and removes the root (shared with cleanupStaleFleets). */
export async function teardownFleet(
  root: string,
  hosts: readonly DaemonHost[],
  log: (msg: string) => void,
): Promise<void> {
  const retired = await Promise.allSettled(hosts.map((host) => retireHost(host, log)));
  retired.forEach((result, i) => {
    if (result.status === 'rejected')
      log(`${hosts[i]?.name ?? '?'}: teardown failed: ${String(result.reason)}`);
  });
  const alive = (
    await Promise.all(hosts.map(async (host) => ((await host.refresh()) === undefined ? [] : [host.name])))
  ).flat();
  if (alive.length > 0) {
    // Removing the directory of a running daemon would only make it harder to stop later.
    throw new Error(`lxd still runs for ${alive.join(', ')}; left ${root} in place`);
  }
  await unmountUnder(root, log);
  await rm(root, { recursive: true, force: true });
}

/**
 * Signals and exit still tear the fleet down. 'exit' handlers cannot wait, so there we only send
 * SIGPWR to the recorded daemons (LXD then stops its containers and exits by itself); the next
 * cleanupStaleFleets() removes the directory.
 */
function installProcessHooks(
  hostDirs: readonly string[],
  teardown: () => Promise<void>,
  log: (msg: string) => void,
): () => void {
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: tearing the local fleet down`);
    void teardown()
      .catch((err: unknown) => {
        log(`teardown after ${sig} failed: ${String(err)}`);
      })
      .then(() => {
        // Our handler replaced the default action; if nobody else handles the signal, die by it.
        if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
      });
  };
  const onExit = (): void => {
    for (const dir of hostDirs) {
      try {
        const pid = Number.parseInt(readFileSync(pidFileOf(dir), 'utf8'), 10);
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        if (argv.includes(logFileOf(dir))) process.kill(pid, 'SIGPWR');
      } catch {
        // No pidfile or no such process: this daemon is already down.
      }
    }
  };
  // Prepended: Vitest's own handlers call process.exit(), and a process.exit() inside an 'exit'
  // listener exits at once, so listeners added after Vitest's would never run.
  process.prependListener('SIGINT', onSignal);
  process.prependListener('SIGTERM', onSignal);
  process.prependListener('exit', onExit);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  };
}

async function writeMarker(
  root: string,
  info: Omit<LocalFleetInfo, 'image'> & { image?: LocalFleetImage },
): Promise<void> {
  await writeFile(join(root, MARKER_FILE), `${JSON.stringify(info, null, 2)}\n`);
}

/**
 * Starts `count` LXD daemons side by side, each with its own LXD_DIR, storage pool, loopback HTTPS
 * address and trust password, and imports a locally built busybox image on each. On any failure
 * everything started so far is torn down before the error is thrown.
 */
export async function startLocalFleet(opts: LocalFleetOptions): Promise<LocalFleet> {
  const started = performance.now();
  const log = opts.log ?? (() => undefined);
  if (!Number.isInteger(opts.count) || opts.count < 1)
    throw new RangeError(`count must be ≥ 1, got ${opts.count}`);
  const basePort = opts.basePort ?? 18440;
  const password = opts.password ?? 'lxdpm-test';

  const root = opts.root ?? (await mkdtemp(join(tmpdir(), FLEET_DIR_PREFIX)));
  await mkdir(root, { recursive: true });
  // mkdtemp makes 0700, but unprivileged containers (root mapped to uid 1000000) must traverse it.
  await chmod(root, 0o711);
  await writeFile(join(root, OWNER_PID_FILE), `${process.pid}\n`);

  const hosts = Array.from({ length: opts.count }, (_, i) => {
    const name = `h${i + 1}`;
    const dir = join(root, name);
    const address = `127.0.0.1:${basePort + i}`;
    return createLocalHost(
      { name, dir, socket: join(dir, 'unix.socket'), address, url: `https://${address}`, password },
      { log },
    );
  });
  // Written before any daemon starts, so a crash at any later point leaves something to clean up.
  await writeMarker(root, { root, hosts: hosts.map(hostInfoOf) });

  let removeHooks = (): void => undefined;
  let tornDown: Promise<void> | undefined;
  const watchers = new Map<AbortController, Promise<void>>();
  const teardown = (): Promise<void> => {
    tornDown ??= (async () => {
      const begun = performance.now();
      // Watching ends first (and any restart it began finishes), so nothing starts a daemon behind teardown.
      for (const watcher of watchers.keys()) watcher.abort();
      await Promise.all(watchers.values());
      try {
        await teardownFleet(root, hosts, log);
        log(`fleet ${root} torn down in ${Math.round(performance.now() - begun)} ms`);
      } finally {
        removeHooks();
      }
    })();
    return tornDown;
  };
  removeHooks = installProcessHooks(
    hosts.map((host) => host.dir),
    teardown,
    log,
  );

  try {
    await allOrThrow(hosts.map((_, i) => assertPortFree(basePort + i)));
    // The image is built while the daemons boot; neither needs the other until the import.
    const building = buildBusyboxImage(join(root, 'image'));
    await allOrThrow([
      building,
      ...hosts.map(async (host) => {
        await host.start();
        await configureHost(host, password);
      }),
    ]);
    const image: LocalFleetImage = { ...(await building), alias: IMAGE_ALIAS };
    if (opts.importImage ?? true) await allOrThrow(hosts.map((host) => importImage(host, image)));

    const supervise = (onUnaskedExit: (report: DaemonExitReport) => void, intervalMs = 1000) => {
      const watcher = new AbortController();
      watchers.set(watcher, superviseHosts(hosts, onUnaskedExit, intervalMs, watcher.signal));
      return () => {
        watcher.abort();
      };
    };
    const fleet: LocalFleet = { root, hosts, image, teardown, supervise };
    await writeMarker(root, fleetInfo(fleet));
    log(`fleet of ${opts.count} ready in ${Math.round(performance.now() - started)} ms at ${root}`);
    return fleet;
  } catch (err) {
    log(`fleet start failed, tearing down: ${String(err)}`);
    await teardown().catch((teardownErr: unknown) => {
      log(`teardown after failed start failed too: ${String(teardownErr)}`);
    });
    throw err;
  }
}

async function superviseHosts(
  hosts: readonly DaemonHost[],
  report: (report: DaemonExitReport) => void,
  intervalMs: number,
  signal: AbortSignal,
): Promise<void> {
  const stopped = () => signal.aborted;
  while (!stopped()) {
    await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
    for (const host of hosts) {
      if (stopped()) return;
      const pid = await host.exitedUnasked().catch(() => undefined);
      if (pid === undefined) continue;
      const lastWords = await host.lastWords();
      const restart = await host.start().then(
        () => 'restarted',
        (err: unknown) => `restart failed: ${String(err)}`,
      );
      report({ host: host.name, pid, lastWords, restart });
    }
  }
}

export async function readMarker(root: string): Promise<Pick<LocalFleetInfo, 'root' | 'hosts'> | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(join(root, MARKER_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || !('hosts' in parsed) || !Array.isArray(parsed.hosts)) {
    return undefined;
  }
  const hosts = (parsed.hosts as unknown[]).filter(isHostInfo);
  return { root, hosts };
}

function isHostInfo(value: unknown): value is LocalHostInfo {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return ['name', 'dir', 'socket', 'address', 'url', 'password'].every(
    (key) => typeof record[key] === 'string',
  );
}
