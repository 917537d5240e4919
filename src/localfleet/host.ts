import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecked, runCommand, type CommandResult } from './command.js';
import { clientConfDirOf, logFileOf, outputFileOf, pidFileOf } from './layout.js';
import { isAlive, listProcesses, readCmdline, readPidFile, terminate } from './pids.js';

/** Everything needed to reach and drive one local daemon; plain JSON, so it crosses processes. */
export interface LocalHostInfo {
  readonly name: string;
  readonly dir: string;
  readonly socket: string;
  readonly address: string;
  readonly url: string;
  readonly password: string;
}

export interface LocalHost extends LocalHostInfo {
  /** Pid of the running daemon as this process last saw it (refreshed by start/stop). */
  pid(): number | undefined;
  /** Stops this daemon only (SIGTERM by pid, SIGKILL after a grace period); containers keep running. */
  stop(): Promise<void>;
  /** Starts the daemon again on the same LXD_DIR (and so the same address) and waits until ready. */
  start(): Promise<void>;
  /**
   * Runs `lxc` against this daemon's unix socket (LXD_DIR, with the fleet's own LXD_CONF); a non-zero
   * exit is returned, not thrown. timeoutMs kills a command that hangs.
   */
  lxc(args: string[], opts?: { input?: string | Buffer; timeoutMs?: number }): Promise<CommandResult>;
}

export interface HostOptions {
  log?: (msg: string) => void;
  /** How long `lxd waitready` may take; a loaded 2-core machine is slow. */
  readyTimeoutMs?: number;
  /** How long a stopping daemon gets before SIGKILL. */
  stopGraceMs?: number;
}

/** The daemon exited before it became ready; carries the end of its log so the cause is visible. */
export class DaemonStartError extends Error {
  constructor(
    readonly host: string,
    readonly detail: string,
  ) {
    super(`lxd for ${host} did not become ready: ${detail}`);
    this.name = 'DaemonStartError';
  }
}

// LXD refreshes its instance types from images.linuxcontainers.org at start. Sending that through a
// proxy on a closed loopback port makes it fail at once without any DNS query leaving the machine;
// LXD never proxies loopback destinations, so the fleet's own traffic is unaffected.
const BLACKHOLE_PROXY = 'http://127.0.0.1:1';

function daemonEnv(dir: string): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([key]) => !/^(https?|no)_proxy$/i.test(key));
  // LXD shells out to mount, umount, tar, … which live in sbin on Debian.
  const path = (process.env.PATH ?? '/usr/bin:/bin').split(':');
  for (const dirOnPath of ['/usr/sbin', '/sbin']) if (!path.includes(dirOnPath)) path.push(dirOnPath);
  return {
    ...Object.fromEntries(inherited),
    LXD_DIR: dir,
    HTTPS_PROXY: BLACKHOLE_PROXY,
    HTTP_PROXY: BLACKHOLE_PROXY,
    PATH: path.join(':'),
  };
}

// lxc writes this file on its first run; several lxc processes starting at once on an empty
// LXD_CONF race on it and can read each other's half-written file. Writing it first avoids that.
const CLIENT_CONFIG = `default-remote: local
remotes:
  local:
    addr: unix://
    public: false
aliases: {}
`;

async function writeClientConfig(confDir: string): Promise<void> {
  await mkdir(confDir, { recursive: true, mode: 0o700 });
  try {
    await writeFile(join(confDir, 'config.yml'), CLIENT_CONFIG, { flag: 'wx' });
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'EEXIST')) throw err;
  }
}

async function tail(path: string, lines: number): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export class DaemonHost implements LocalHost {
  readonly name: string;
  readonly dir: string;
  readonly socket: string;
  readonly address: string;
  readonly url: string;
  readonly password: string;
  readonly #log: (msg: string) => void;
  readonly #readyTimeoutMs: number;
  readonly #stopGraceMs: number;
  #pid: number | undefined;

  constructor(info: LocalHostInfo, opts: HostOptions) {
    this.name = info.name;
    this.dir = info.dir;
    this.socket = info.socket;
    this.address = info.address;
    this.url = info.url;
    this.password = info.password;
    this.#log = opts.log ?? (() => undefined);
    this.#readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
    this.#stopGraceMs = opts.stopGraceMs ?? 30_000;
  }

  pid(): number | undefined {
    return this.#pid;
  }

  /**
   * Re-reads the pidfile, which another process (a test worker) may have rewritten, and keeps the
   * pid only if it still is this host's lxd: a pid alone could have been reused by anything.
   */
  async refresh(): Promise<number | undefined> {
    const pid = await readPidFile(pidFileOf(this.dir));
    this.#pid = pid !== undefined && (await this.#isOurDaemon(pid)) ? pid : undefined;
    return this.#pid;
  }

  async #isOurDaemon(pid: number): Promise<boolean> {
    const argv = await readCmdline(pid);
    if (argv === undefined || !(await isAlive(pid))) return false;
    return (argv[0] ?? '').endsWith('lxd') && argv.includes(logFileOf(this.dir));
  }

  async start(): Promise<void> {
    if ((await this.refresh()) !== undefined) return;
    await mkdir(this.dir, { recursive: true, mode: 0o711 });
    await writeClientConfig(clientConfDirOf(this.dir));

    const output = await open(outputFileOf(this.dir), 'a');
    const settled = new AbortController();
    let child: ChildProcess;
    let died: Promise<never>;
    try {
      // Detached: its own process group, so a Ctrl-C on our terminal does not reach it and our
      // exit does not take it down half-way; teardown stops it explicitly by pid.
      child = spawn('lxd', ['--group', 'root', '--logfile', logFileOf(this.dir)], {
        detached: true,
        stdio: ['ignore', output.fd, output.fd],
        env: daemonEnv(this.dir),
      });
      // Listen before the next await: a daemon that fails at once would otherwise exit unseen.
      died = once(child, 'exit', { signal: settled.signal }).then(
        async ([code, sig]) => {
          const log = (await tail(logFileOf(this.dir), 5)) || (await tail(outputFileOf(this.dir), 5));
          throw new DaemonStartError(this.name, `exited (${String(code ?? sig)}) during start\n${log}`);
        },
        (err: unknown) => {
          throw new DaemonStartError(this.name, String(err));
        },
      );
    } finally {
      await output.close();
    }
    died.catch(() => undefined); // it loses the race on every good start and is then aborted
    try {
      const pid = child.pid;
      if (pid === undefined) return await died; // spawn itself failed (no lxd binary): died rejects
      child.unref();
      this.#pid = pid;
      await writeFile(pidFileOf(this.dir), `${pid}\n`);
      this.#log(`${this.name}: lxd started, pid ${pid}`);
      // Wait for readiness, but give up as soon as the daemon dies instead of waiting out the timeout.
      await Promise.race([
        runChecked('lxd', ['waitready', `--timeout=${Math.ceil(this.#readyTimeoutMs / 1000)}`], {
          env: { ...process.env, LXD_DIR: this.dir },
          signal: settled.signal,
        }),
        died,
      ]);
    } finally {
      settled.abort();
    }
    this.#log(`${this.name}: lxd ready`);
  }

  async stop(): Promise<void> {
    await this.#signalAndWait('SIGTERM');
  }

  /**
   * SIGPWR makes LXD shut its instances down cleanly before it exits (SIGTERM leaves them running),
   * which is what teardown wants for anything it could not delete.
   */
  async powerOff(): Promise<void> {
    await this.#signalAndWait('SIGPWR');
  }

  async #signalAndWait(sig: NodeJS.Signals): Promise<void> {
    const pid = await this.refresh();
    // The pidfile goes first: a daemon whose pidfile is gone was stopped on purpose (see exitedUnasked).
    await rm(pidFileOf(this.dir), { force: true });
    if (pid !== undefined) {
      const how = await terminate(pid, sig, this.#stopGraceMs);
      this.#log(`${this.name}: lxd pid ${pid} ${how === 'exited' ? `exited on ${sig}` : 'needed SIGKILL'}`);
    }
    await rm(pidFileOf(this.dir), { force: true });
    this.#pid = undefined;
  }

  /**
   * The pid of a daemon that is gone although nobody stopped it (its pidfile still names it): it crashed
   * or was killed from outside. Undefined while it runs or after a stop.
   */
  async exitedUnasked(): Promise<number | undefined> {
    const pid = await readPidFile(pidFileOf(this.dir));
    return pid !== undefined && !(await this.#isOurDaemon(pid)) ? pid : undefined;
  }

  /** What the daemon said last: a Go panic or fatal signal from its output if there is one, and the end of lxd.log. */
  async lastWords(): Promise<string> {
    const output = await tail(outputFileOf(this.dir), 100_000); // a goroutine dump runs to thousands of lines
    const lines = output.split('\n');
    const panicAt = lines.findLastIndex((line) => /^(panic: |fatal error: |SIG[A-Z]+: )/.test(line));
    const said = panicAt >= 0 ? lines.slice(panicAt, panicAt + 40) : lines.slice(-15);
    return [
      `--- ${outputFileOf(this.dir)}`,
      ...said,
      `--- ${logFileOf(this.dir)}`,
      await tail(logFileOf(this.dir), 15),
    ].join('\n');
  }

  async lxc(
    args: string[],
    opts: { input?: string | Buffer; timeoutMs?: number } = {},
  ): Promise<CommandResult> {
    return runCommand('lxc', args, { env: this.#clientEnv(), ...opts });
  }

  /** lxc that must succeed; used for the fleet's own setup steps. */
  async lxcChecked(
    args: string[],
    opts: { input?: string | Buffer; timeoutMs?: number } = {},
  ): Promise<CommandResult> {
    return runChecked('lxc', args, { env: this.#clientEnv(), ...opts, timeoutMs: opts.timeoutMs ?? 120_000 });
  }

  /** lxc talks to this daemon's unix socket, with a client config kept inside the fleet. */
  #clientEnv(): NodeJS.ProcessEnv {
    return { ...process.env, LXD_DIR: this.dir, LXD_CONF: clientConfDirOf(this.dir) };
  }

  /** `[lxc monitor] DIR/containers NAME` processes: containers of this host that outlived its daemon. */
  async orphanMonitors(): Promise<{ pid: number; children: number[] }[]> {
    const all = await listProcesses();
    const marker = `[lxc monitor] ${this.dir}/containers `;
    return all
      .filter((entry) => entry.cmdline.startsWith(marker))
      .map((monitor) => ({
        pid: monitor.pid,
        children: all.filter((entry) => entry.ppid === monitor.pid).map((entry) => entry.pid),
      }));
  }
}

/** A host object for a daemon that does not run yet (a new fleet's host before its first start). */
export function createLocalHost(info: LocalHostInfo, opts: HostOptions = {}): DaemonHost {
  return new DaemonHost(info, opts);
}

/** attachLocalHost with the internals teardown needs. */
export async function attachDaemonHost(info: LocalHostInfo, opts: HostOptions = {}): Promise<DaemonHost> {
  const host = new DaemonHost(info, opts);
  await host.refresh();
  return host;
}

/**
 * Rebuilds a working LocalHost from its JSON description, e.g. in a test worker. It finds the running
 * daemon through the pidfile in the fleet root, so stop() and start() work from any process.
 */
export async function attachLocalHost(info: LocalHostInfo, opts: HostOptions = {}): Promise<LocalHost> {
  return attachDaemonHost(info, opts);
}

/**
 * Leaves a host with no daemon and no containers: deletes its instances through the daemon, then
 * powers it off. Containers that outlived a killed daemon are reached by starting it once more;
 * if even that fails, their processes (found by this host's path in their command line) are killed.
 */
export async function retireHost(host: DaemonHost, log: (msg: string) => void): Promise<void> {
  if ((await host.refresh()) === undefined && (await host.orphanMonitors()).length > 0) {
    log(`${host.name}: containers outlived the daemon, starting it to remove them`);
    try {
      await host.start();
    } catch (err) {
      log(`${host.name}: restart for cleanup failed: ${String(err)}`);
    }
  }
  if (host.pid() !== undefined) {
    const list = await host.lxc(['list', '--format', 'csv', '-c', 'n'], { timeoutMs: 60_000 });
    const names = list.stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
    if (list.code !== 0) log(`${host.name}: lxc list failed: ${list.stderr.trim()}`);
    if (names.length > 0) {
      const deleted = await host.lxc(['delete', '--force', ...names], { timeoutMs: 120_000 });
      if (deleted.code !== 0) log(`${host.name}: lxc delete failed: ${deleted.stderr.trim()}`);
    }
    await host.powerOff();
  }
  for (const monitor of await host.orphanMonitors()) {
    // Killing a container's init ends its whole pid namespace; the monitor then has nothing to watch.
    log(`${host.name}: killing leftover container monitor ${monitor.pid}`);
    await Promise.all([...monitor.children, monitor.pid].map((pid) => terminate(pid, 'SIGKILL', 5_000)));
  }
}
