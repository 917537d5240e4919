// Image distribution benchmark: a large image (busybox rootfs padded with random data) reaches three
// real LXD hosts through the manager (one `lxc image import mgr:`, distributed in parallel), next to
// what a user does without it (the same image imported on each host, or imported once and copied
// host by host with `lxc image copy`), all in the same run on the same hosts.
//
//   npx vite-node bench/images.ts [--size-mib 100] [--rounds 3] [--base-port 18870]
//
// It starts its own 3-host fleet (ports base..base+2) and manager, and removes both at the end.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { startLocalFleet } from '../src/localfleet/index.js';
import { HostClient } from '../src/lxd/index.js';
import { startManager } from '../src/server.js';

const run = promisify(execFile);

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const sizeMiB = arg('size-mib', 100);
const rounds = arg('rounds', 3);
const basePort = arg('base-port', 18870);

async function lxc(conf: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run('lxc', args, {
    env: { ...process.env, LXD_CONF: conf, ...env },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 600_000,
  });
  return stdout;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Uncompressed unified tarball: gzip time on random data would only measure the compressor. */
async function buildImage(work: string, baseImage: string): Promise<{ path: string; fingerprint: string }> {
  const base = dirname(baseImage);
  const dir = join(work, 'big');
  await mkdir(join(dir, 'rootfs'), { recursive: true });
  const meta = (await readFile(join(base, 'metadata.yaml'), 'utf8')).replace(
    /\(lxdpm test image\)/,
    '(bench)',
  );
  await writeFile(join(dir, 'metadata.yaml'), meta);
  const out = createWriteStream(join(dir, 'rootfs', 'pad.bin'));
  for (let i = 0; i < sizeMiB; i++) if (!out.write(randomBytes(1024 * 1024))) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  const path = join(work, 'big.tar');
  await run('tar', ['-cf', path, '-C', base, 'rootfs', '-C', dir, 'metadata.yaml', 'rootfs/pad.bin']);
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return { path, fingerprint: hash.digest('hex') };
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'lxdpm-bench-images-'));
  const conf = join(work, 'lxc');
  await mkdir(conf);
  console.log(`starting 3 LXD hosts on ports ${basePort}-${basePort + 2} …`);
  const fleet = await startLocalFleet({ count: 3, basePort });
  const manager = await startManager({
    dataDir: join(work, 'manager'),
    listen: '127.0.0.1:0',
    // No periodic sync during the direct (manager-less) rounds on the same hosts.
    rescanIntervalMs: 3_600_000,
    logger: pino({ level: 'silent' }),
  });
  const api = new HostClient({ name: 'manager', url: `unix://${manager.socketPath}`, timeoutMs: 600_000 });
  try {
    await api.call('PATCH', '/1.0', { config: { 'core.trust_password': 'bench' } });
    for (const h of fleet.hosts) {
      await api.call('POST', '/1.0/hosts', {
        name: h.name,
        url: h.url,
        password: h.password,
        accept_certificate: true,
      });
      await lxc(conf, ['remote', 'add', h.name, h.url, '--accept-certificate', '--password', h.password]);
    }
    await lxc(conf, [
      'remote',
      'add',
      'mgr',
      `https://${manager.httpsAddress()}`,
      '--accept-certificate',
      '--password',
      'bench',
    ]);
    await manager.fleetSync.syncNow();

    const img = await buildImage(work, fleet.image.path);
    const fp = img.fingerprint;
    console.log(
      `image: ${(sizeMiB + 1).toFixed(0)} MiB uncompressed tarball, fingerprint ${fp.slice(0, 12)}`,
    );
    const deleteEverywhere = async () => {
      for (const h of fleet.hosts) await h.lxc(['image', 'delete', fp]);
    };
    const present = async () => {
      for (const h of fleet.hosts) {
        const r = await h.lxc(['image', 'list', '--format', 'csv', '-c', 'F']);
        if (!r.stdout.includes(fp)) throw new Error(`${h.name} lacks the image`);
      }
    };

    const results: Record<string, number[]> = {
      'manager: lxc image import mgr: (3 hosts, parallel upload)': [],
      'manager: lxc image copy h1:IMG mgr: (2 hosts pull from h1)': [],
      'direct: lxc image import on h1, h2, h3 one after another': [],
      'direct: lxc image import h1:, then lxc image copy h1: → h2:, h1: → h3:': [],
    };
    const [viaManager, copyIntoManager, sequentialImport, sequentialCopy] = Object.values(results);
    for (let round = 1; round <= rounds; round++) {
      console.log(`round ${round}/${rounds}`);
      viaManager?.push(await timed(() => lxc(conf, ['image', 'import', img.path, 'mgr:'])));
      await present();
      await lxc(conf, ['image', 'delete', `mgr:${fp}`]);

      await lxc(conf, ['image', 'import', img.path, 'h1:']);
      copyIntoManager?.push(
        await timed(async () => {
          // The manager has one host pull from h1 (which already has it), then the others pull from it.
          await lxc(conf, ['image', 'copy', `h1:${fp}`, 'mgr:']);
        }),
      );
      await present();
      await lxc(conf, ['image', 'delete', `mgr:${fp}`]);

      sequentialImport?.push(
        await timed(async () => {
          for (const h of fleet.hosts) await lxc(conf, ['image', 'import', img.path, `${h.name}:`]);
        }),
      );
      await present();
      await deleteEverywhere();

      sequentialCopy?.push(
        await timed(async () => {
          await lxc(conf, ['image', 'import', img.path, 'h1:']);
          await lxc(conf, ['image', 'copy', `h1:${fp}`, 'h2:']);
          await lxc(conf, ['image', 'copy', `h1:${fp}`, 'h3:']);
        }),
      );
      await present();
      await deleteEverywhere();
    }

    console.log(`\n${sizeMiB} MiB image to 3 hosts, median of ${rounds} rounds (seconds):`);
    for (const [name, values] of Object.entries(results)) {
      console.log(
        `  ${median(values).toFixed(2).padStart(7)}  ${name}   [${values.map((v) => v.toFixed(2)).join(', ')}]`,
      );
    }
    console.log(
      '\n(The copy into the manager starts from an image h1 already holds: it measures distribution only.)',
    );
  } finally {
    await api.close();
    await manager.stop();
    await fleet.teardown();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
