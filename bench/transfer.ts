/**
 * File transfer benchmark: pushes and pulls one large file (1 GiB by default) with `lxc file`, through the
 * manager and directly to the host, in the same run, and samples the manager's resident memory while the
 * bytes stream through it. The manager runs as its own process (`node dist/cli/main.js serve`), so its
 * RSS is its own. Needs root, LXD and a built tree: `npm run build && npx vite-node bench/transfer.ts`
 * (see docs/benchmarks.md). Options: `--size-mib N` (default 1024), `--pairing https|unix` (how the
 * manager reaches the host; default https), `--json`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand, type CommandResult } from '../src/localfleet/command.js';
import { startLocalFleet } from '../src/localfleet/index.js';
import { HostClient, type LxdServer } from '../src/lxd/index.js';

const MIB = 1024 * 1024;
/** USER_HZ: /proc reports CPU time in 1/100 s on Linux. */
const CLOCK_TICKS = 100;
const CONTAINER = 'ex-bench';
const TRUST_PASSWORD = 'bench-secret';

interface Options {
  sizeMiB: number;
  json: boolean;
  /** How the manager reaches the host: its HTTPS address (as a remote host) or its unix socket. */
  pairing: 'https' | 'unix';
}

function parseOptions(argv: string[]): Options {
  const opts: Options = { sizeMiB: 1024, json: false, pairing: 'https' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--size-mib') opts.sizeMiB = Number(argv[++i]);
    else if (arg === '--json') opts.json = true;
    else if (arg === '--pairing') {
      const pairing = argv[++i];
      if (pairing !== 'https' && pairing !== 'unix') throw new Error('--pairing must be https or unix');
      opts.pairing = pairing;
    } else throw new Error(`unknown argument ${String(arg)}`);
  }
  if (!Number.isInteger(opts.sizeMiB) || opts.sizeMiB < 1)
    throw new Error('--size-mib must be a positive integer');
  return opts;
}

async function writeTestFile(path: string, sizeMiB: number): Promise<string> {
  // Random blocks: nothing on the way (TLS, HTTP) could shrink the data.
  const block = randomBytes(MIB);
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let i = 0; i < sizeMiB; i++) {
    block.writeUInt32LE(i, 0);
    hash.update(block);
    if (!out.write(block)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MIB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m?.[1]) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Samples a process's RSS until stopped; reports the peak. */
function sampleRss(pid: number, intervalMs = 50) {
  let peak = 0;
  const stopped = new AbortController();
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      // The process may be gone when a transfer failed; the failure is reported by the caller.
      const rss = await rssKiB(pid).catch(() => undefined);
      if (rss === undefined) break;
      peak = Math.max(peak, rss);
      await sleep(intervalMs);
    }
  })();
  return {
    async stop(): Promise<number> {
      stopped.abort();
      await loop;
      return peak;
    },
  };
}

/** CPU seconds (user + system) a process has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at ") ".
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / CLOCK_TICKS;
}

function checked(what: string, r: CommandResult): void {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr.trim()}`);
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

interface Measurement {
  path: 'manager' | 'direct';
  direction: 'push' | 'pull';
  seconds: number;
  mibPerSecond: number;
  /** CPU seconds used by the manager and by the host's LXD daemon during the transfer. */
  cpu: { manager: number; lxd: number };
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const log = (msg: string) => {
    if (!opts.json) process.stderr.write(`${msg}\n`);
  };
  const work = await mkdtemp(join(tmpdir(), 'lxdpm-bench-'));
  const managerDir = join(work, 'manager');
  const lxdConf = join(work, 'lxc');
  const basePort = process.env.LXDPM_FLEET_BASE_PORT ? Number(process.env.LXDPM_FLEET_BASE_PORT) : undefined;

  log(`starting one LXD host…`);
  const fleet = await startLocalFleet({ count: 1, basePort });
  const host = fleet.hosts[0];
  if (!host) throw new Error('fleet has no host');
  let manager: ChildProcess | undefined;
  let api: HostClient | undefined;
  try {
    log('starting the manager (separate process)…');
    const main = resolve(import.meta.dirname, '../dist/cli/main.js');
    manager = spawn(process.execPath, [main, '--data-dir', managerDir, 'serve', '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, LXDPM_LOG_LEVEL: 'warn' },
    });
    const pid = manager.pid;
    if (pid === undefined) throw new Error('manager did not start');
    const client = new HostClient({
      name: 'manager',
      url: `unix://${join(managerDir, 'unix.socket')}`,
      timeoutMs: 60_000,
    });
    api = client;
    const server = await waitFor('the manager', async () => client.get<LxdServer>('/1.0'));
    const address = server.environment.addresses[0];
    if (address === undefined) throw new Error('the manager has no HTTPS address');
    await client.call('PATCH', '/1.0', { config: { 'core.trust_password': TRUST_PASSWORD } });
    await client.call('POST', '/1.0/hosts', {
      name: host.name,
      ...(opts.pairing === 'https'
        ? { url: host.url, password: host.password, accept_certificate: true }
        : { url: `unix://${host.socket}` }),
    });

    const lxc = (args: string[]) =>
      runCommand('lxc', args, { env: { ...process.env, LXD_CONF: lxdConf }, timeoutMs: 3_600_000 });
    checked(
      'remote add mgr',
      await lxc([
        'remote',
        'add',
        'mgr',
        `https://${address}`,
        '--accept-certificate',
        '--password',
        TRUST_PASSWORD,
      ]),
    );
    checked(
      'remote add host',
      await lxc(['remote', 'add', 'host', host.url, '--accept-certificate', '--password', host.password]),
    );
    checked('launch', await host.lxc(['launch', 'busybox', CONTAINER]));
    await waitFor('the manager to locate the container', async () =>
      client.get(`/1.0/instances/${CONTAINER}`).then(() => true),
    );

    log(`writing a ${opts.sizeMiB} MiB test file…`);
    const source = join(work, 'source.bin');
    const sourceHash = await writeTestFile(source, opts.sizeMiB);
    const warm = join(work, 'warm.bin');
    await writeTestFile(warm, 1);
    checked('warm-up push', await lxc(['file', 'push', warm, `mgr:${CONTAINER}/root/warm.bin`]));
    checked(
      'warm-up pull',
      await lxc(['file', 'pull', `mgr:${CONTAINER}/root/warm.bin`, join(work, 'warm.back')]),
    );

    const lxdPid = host.pid();
    if (lxdPid === undefined) throw new Error('the host daemon is not running');
    const baseline = await rssKiB(pid);
    const sampler = sampleRss(pid);
    const results: Measurement[] = [];
    const timed = async (path: Measurement['path'], direction: Measurement['direction'], args: string[]) => {
      log(`${direction} ${path}…`);
      const cpuBefore = { manager: await cpuSeconds(pid), lxd: await cpuSeconds(lxdPid) };
      const started = performance.now();
      checked(`${direction} ${path}`, await lxc(args));
      const seconds = (performance.now() - started) / 1000;
      const cpu = {
        manager: (await cpuSeconds(pid)) - cpuBefore.manager,
        lxd: (await cpuSeconds(lxdPid)) - cpuBefore.lxd,
      };
      results.push({ path, direction, seconds, mibPerSecond: opts.sizeMiB / seconds, cpu });
    };
    const remote = { manager: 'mgr', direct: 'host' } as const;
    for (const path of ['direct', 'manager'] as const) {
      await timed(path, 'push', ['file', 'push', source, `${remote[path]}:${CONTAINER}/root/${path}.bin`]);
    }
    const pulled: Record<string, string> = {};
    for (const path of ['direct', 'manager'] as const) {
      pulled[path] = join(work, `pulled-${path}.bin`);
      await timed(path, 'pull', [
        'file',
        'pull',
        `${remote[path]}:${CONTAINER}/root/${path}.bin`,
        pulled[path],
      ]);
    }
    const peak = await sampler.stop();

    log('checking the pulled files…');
    for (const [path, file] of Object.entries(pulled)) {
      const hash = await sha256File(file);
      if (hash !== sourceHash) throw new Error(`${path} pull differs from the source`);
      await rm(file);
    }

    const speed = (path: Measurement['path'], direction: Measurement['direction']) =>
      results.find((r) => r.path === path && r.direction === direction)?.mibPerSecond ?? NaN;
    const report = {
      sizeMiB: opts.sizeMiB,
      pairing: opts.pairing,
      results,
      ratio: {
        push: speed('direct', 'push') / speed('manager', 'push'),
        pull: speed('direct', 'pull') / speed('manager', 'pull'),
      },
      managerRss: { baselineMiB: baseline / 1024, peakMiB: peak / 1024, growthMiB: (peak - baseline) / 1024 },
      targets: { rssGrowthMiB: 64, slowdown: 1.5 },
    };
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const rows = results.map(
        (r) =>
          `${r.direction.padEnd(5)} ${r.path.padEnd(8)} ${r.seconds.toFixed(1).padStart(7)} s ${r.mibPerSecond.toFixed(1).padStart(8)} MiB/s   CPU s: manager ${r.cpu.manager.toFixed(1)}, lxd ${r.cpu.lxd.toFixed(1)}`,
      );
      process.stdout.write(
        [
          `lxc file push/pull of ${opts.sizeMiB} MiB (one host; client to manager and to host over HTTPS, manager to host over ${opts.pairing === 'https' ? 'HTTPS' : 'its unix socket'})`,
          ...rows,
          `direct/manager time ratio: push ${report.ratio.push.toFixed(2)}×, pull ${report.ratio.pull.toFixed(2)}× (target ≤ 1.5×)`,
          `manager RSS: ${report.managerRss.baselineMiB.toFixed(1)} MiB before, peak ${report.managerRss.peakMiB.toFixed(1)} MiB, growth ${report.managerRss.growthMiB.toFixed(1)} MiB (target < 64 MiB)`,
        ].join('\n') + '\n',
      );
    }
    await host.lxc(['delete', '--force', CONTAINER]);
  } finally {
    await api?.close();
    if (manager?.pid !== undefined && manager.exitCode === null) {
      const exited = once(manager, 'exit');
      manager.kill('SIGTERM');
      await exited;
    }
    await fleet.teardown();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
