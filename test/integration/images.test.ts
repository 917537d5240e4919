// Fleet-wide images as users meet them: `lxc image …` and `lxc publish` against the manager, checked
// on every host directly; all-or-nothing distribution with rollback (a host that refuses, a host that
// is down, a manager killed in the middle); copies between the manager and a separate LXD server;
// and a host added later receiving the fleet's images and profiles.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HostClient } from '../../src/lxd/index.js';
import type { LxdImage, LxdOperation } from '../../src/lxd/index.js';
import { startLocalFleet, type LocalFleet, type LocalHost } from '../../src/localfleet/index.js';
import { eventually, runLxc, startTestManager, TRUST_PASSWORD, type TestManager } from './harness.js';
import { cleanupPrefixed, hostLxcOk } from './instance-helpers.js';

const OTHER_PORT = 18850;
const FP_LEN = 64;

let t: TestManager;
let work: string;
let other: LocalFleet | undefined;
/** Fingerprints of the images this file builds, removed from every host at the end. */
const built = new Set<string>();

interface BuiltImage {
  path: string;
  fingerprint: string;
}

/**
 * A unified image tarball that differs from the fleet's busybox image in its metadata (so its
 * fingerprint differs), optionally padded with `padMiB` of random data.
 */
async function variantImage(tag: string, padMiB = 0): Promise<BuiltImage> {
  const base = dirname(inject('fleet').image.path);
  const dir = join(work, tag);
  await mkdir(join(dir, 'rootfs'), { recursive: true });
  const meta = (await readFile(join(base, 'metadata.yaml'), 'utf8')).replace(
    /\(lxdpm test image\)/,
    `(${tag})`,
  );
  await writeFile(join(dir, 'metadata.yaml'), meta);
  const extra: string[] = [];
  if (padMiB > 0) {
    const out = createWriteStream(join(dir, 'rootfs', 'pad.bin'));
    for (let i = 0; i < padMiB; i++) {
      if (!out.write(randomBytes(1024 * 1024))) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    extra.push('-C', dir, 'rootfs/pad.bin');
  }
  const path = join(work, `${tag}.tar.gz`);
  await runChecked('tar', ['-czf', path, '-C', base, 'rootfs', '-C', dir, 'metadata.yaml', ...extra]);
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  const fingerprint = hash.digest('hex');
  built.add(fingerprint);
  return { path, fingerprint };
}

async function runChecked(cmd: string, args: string[]): Promise<void> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${err}`);
}

async function lxcOk(args: string[], input?: string): Promise<string> {
  const r = await t.lxc(args, input === undefined ? undefined : { input });
  expect(r.code, `lxc ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Images on one host, asked directly: fingerprint → alias names. */
async function imagesOn(host: LocalHost): Promise<Map<string, string[]>> {
  const list = JSON.parse(await hostLxcOk(host, ['image', 'list', '--format', 'json'])) as LxdImage[];
  return new Map(list.map((img) => [img.fingerprint, (img.aliases ?? []).map((a) => a.name)]));
}

async function holders(fingerprint: string, hosts = t.hosts): Promise<string[]> {
  const out: string[] = [];
  for (const h of hosts) if ((await imagesOn(h)).has(fingerprint)) out.push(h.name);
  return out;
}

async function waitOp(api: HostClient, operation: string): Promise<LxdOperation> {
  return api.get<LxdOperation>(`${operation}/wait`, { query: { timeout: '300' }, timeoutMs: 320_000 });
}

/** Deletes an image everywhere, directly on each host (cleanup). */
async function removeEverywhere(fingerprint: string, hosts: readonly LocalHost[] = t.hosts): Promise<void> {
  await Promise.all(hosts.map((h) => h.lxc(['image', 'delete', fingerprint], { timeoutMs: 60_000 })));
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lxdpm-im-'));
  t = await startTestManager();
  // The manager adopts what the hosts already hold when it first meets them; let that finish.
  await t.manager.fleetSync.syncNow();
});

afterAll(async () => {
  try {
    await cleanupPrefixed(t.hosts, 'im-');
    for (const h of t.hosts) {
      for (const fp of (await imagesOn(h)).keys()) {
        if (built.has(fp)) await h.lxc(['image', 'delete', fp], { timeoutMs: 60_000 });
      }
    }
  } finally {
    await t.stop();
    await other?.teardown();
    await rm(work, { recursive: true, force: true });
  }
});

describe('lxc image import / list / delete through the manager', () => {
  it('puts the image and its alias on every host, lists it once, and deletes it everywhere', async () => {
    const img = await variantImage('im-variant-x');
    const out = await lxcOk(['image', 'import', img.path, 'mgr:', '--alias', 'im-x']);
    expect(out).toContain(img.fingerprint);

    for (const h of t.hosts) expect((await imagesOn(h)).get(img.fingerprint), h.name).toEqual(['im-x']);

    const listed = JSON.parse(await lxcOk(['image', 'list', 'mgr:', '--format', 'json'])) as LxdImage[];
    const mine = listed.filter((i) => i.fingerprint === img.fingerprint);
    expect(mine).toHaveLength(1);
    expect(mine[0]?.aliases?.map((a) => a.name)).toEqual(['im-x']);
    // Which hosts hold it: an extension field of the image object (lxc itself drops unknown fields).
    const merged = await t.api.get<(LxdImage & { lxdpm_hosts: string[] })[]>('/1.0/images', {
      query: { recursion: '1' },
    });
    expect(merged.find((i) => i.fingerprint === img.fingerprint)?.lxdpm_hosts).toEqual(['h1', 'h2', 'h3']);

    // Prefix lookup and alias resolution, as `lxc image info` and `lxc launch` do them.
    const info = await lxcOk(['image', 'info', `mgr:${img.fingerprint.slice(0, 12)}`]);
    expect(info).toContain(img.fingerprint);
    const alias = await t.api.get<{ target: string }>('/1.0/images/aliases/im-x');
    expect(alias.target).toBe(img.fingerprint);

    await lxcOk(['image', 'delete', 'mgr:im-x']);
    expect(await holders(img.fingerprint)).toEqual([]);
    const after = await t.api.request('GET', `/1.0/images/${img.fingerprint}`);
    expect(after.status).toBe(404);
  });

  it('imports a split image (metadata and rootfs as a multipart upload) with LXD’s fingerprint', async () => {
    const base = dirname(inject('fleet').image.path);
    const dir = join(work, 'split');
    await mkdir(dir, { recursive: true });
    const meta = (await readFile(join(base, 'metadata.yaml'), 'utf8')).replace(
      /\(lxdpm test image\)/,
      '(im split)',
    );
    await writeFile(join(dir, 'metadata.yaml'), meta);
    const metaPath = join(work, 'split-meta.tar.gz');
    const rootfsPath = join(work, 'split-rootfs.tar.gz');
    await runChecked('tar', ['-czf', metaPath, '-C', dir, 'metadata.yaml']);
    await runChecked('tar', ['-czf', rootfsPath, '-C', join(base, 'rootfs'), '.']);
    const hash = createHash('sha256');
    hash.update(await readFile(metaPath));
    hash.update(await readFile(rootfsPath));
    const fingerprint = hash.digest('hex');
    built.add(fingerprint);

    const out = await lxcOk(['image', 'import', metaPath, rootfsPath, 'mgr:', '--alias', 'im-split']);
    expect(out).toContain(fingerprint);
    try {
      for (const h of t.hosts) expect((await imagesOn(h)).get(fingerprint), h.name).toEqual(['im-split']);
    } finally {
      await lxcOk(['image', 'delete', 'mgr:im-split']);
    }
    expect(await holders(fingerprint)).toEqual([]);
  });

  it('answers an unknown or ambiguous fingerprint prefix as LXD does', async () => {
    const missing = await t.lxc(['image', 'info', 'mgr:ffffffffffff']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('not found');
    const none = await t.api.request('GET', '/1.0/images/ffffffffffff');
    expect(none.status).toBe(404);
    expect(none.envelope).toMatchObject({ type: 'error', error: 'Image not found' });
    // An empty-enough prefix that matches every image of a fleet with two or more images.
    const a = await variantImage('im-variant-amb1');
    const b = await variantImage('im-variant-amb2');
    await lxcOk(['image', 'import', a.path, 'mgr:']);
    await lxcOk(['image', 'import', b.path, 'mgr:']);
    try {
      const common = [...Array(FP_LEN).keys()].find((i) => a.fingerprint[i] !== b.fingerprint[i]) ?? 0;
      const prefix = a.fingerprint.slice(0, common);
      if (prefix !== '') {
        const amb = await t.api.request('GET', `/1.0/images/${prefix}`);
        expect(amb.envelope).toMatchObject({ type: 'error', error: 'More than one image matches' });
      }
    } finally {
      await lxcOk(['image', 'delete', `mgr:${a.fingerprint}`, `mgr:${b.fingerprint}`]);
    }
  });

  it('changes properties and aliases on every host', async () => {
    const img = await variantImage('im-variant-props');
    await lxcOk(['image', 'import', img.path, 'mgr:', '--alias', 'im-p1']);
    try {
      await lxcOk(['image', 'alias', 'rename', 'mgr:im-p1', 'im-p2']);
      await lxcOk(['image', 'alias', 'create', 'mgr:im-p3', img.fingerprint.slice(0, 12)]);
      const { metadata: current } = await t.api.call<LxdImage>('GET', `/1.0/images/${img.fingerprint}`);
      await t.api.call('PUT', `/1.0/images/${img.fingerprint}`, {
        ...current,
        properties: { ...(current.properties ?? {}), 'im.flavour': 'vanilla' },
      });
      for (const h of t.hosts) {
        expect((await imagesOn(h)).get(img.fingerprint)?.sort(), h.name).toEqual(['im-p2', 'im-p3']);
        const shown = await hostLxcOk(h, ['image', 'get-property', img.fingerprint, 'im.flavour']);
        expect(shown.trim(), h.name).toBe('vanilla');
      }
      await lxcOk(['image', 'alias', 'delete', 'mgr:im-p3']);
      for (const h of t.hosts) expect((await imagesOn(h)).get(img.fingerprint), h.name).toEqual(['im-p2']);
    } finally {
      await lxcOk(['image', 'delete', `mgr:${img.fingerprint}`]);
    }
  });
});

describe('all-or-nothing distribution', () => {
  it('rolls an import back on every host when one host refuses a step, naming that host', async () => {
    other ??= await startLocalFleet({ count: 1, basePort: OTHER_PORT, importImage: false });
    const source = other.hosts[0];
    if (!source) throw new Error('no other host');
    const img = await variantImage('im-variant-fault');
    await hostLxcOk(source, ['image', 'import', img.path, '--public', '--alias', 'im-src']);
    // h2 already has an alias of that name (on another image): creating it there fails.
    const h2 = t.hosts[1];
    if (!h2) throw new Error('no h2');
    await hostLxcOk(h2, ['image', 'alias', 'create', 'im-taken', inject('fleet').image.fingerprint]);
    try {
      const { metadata } = await t.api.call<LxdOperation>('POST', '/1.0/images', {
        source: {
          type: 'image',
          mode: 'pull',
          server: source.url,
          protocol: 'lxd',
          certificate: await readFile(join(source.dir, 'server.crt'), 'utf8'),
          fingerprint: img.fingerprint,
        },
        aliases: [{ name: 'im-taken', description: '' }],
      });
      const done = await waitOp(t.api, `/1.0/operations/${metadata.id}`);
      expect(done.status).toBe('Failure');
      expect(done.err).toBe('h2: Alias "im-taken" already exists');
      expect(done.metadata?.rolled_back).toBe(true);
      expect(await holders(img.fingerprint)).toEqual([]);
      // h2's own alias is untouched, and no other host got one.
      expect((await imagesOn(h2)).get(inject('fleet').image.fingerprint)).toContain('im-taken');
      for (const h of [t.hosts[0], t.hosts[2]]) {
        if (h)
          expect((await imagesOn(h)).get(inject('fleet').image.fingerprint), h.name).not.toContain(
            'im-taken',
          );
      }
    } finally {
      await h2.lxc(['image', 'alias', 'delete', 'im-taken']);
      await removeEverywhere(img.fingerprint);
    }
  });

  it('imports on the hosts that are up, and a host that was down gets the image when it is back', async () => {
    const h3 = t.hosts[2];
    if (!h3) throw new Error('no h3');
    const img = await variantImage('im-variant-down');
    await h3.stop();
    try {
      await eventually(
        async () => (await t.api.get<{ status: string }>('/1.0/hosts/h3')).status === 'Offline',
      );
      await lxcOk(['image', 'import', img.path, 'mgr:', '--alias', 'im-down']);
      expect(await holders(img.fingerprint, t.hosts.slice(0, 2))).toEqual(['h1', 'h2']);
    } finally {
      await h3.start();
    }
    try {
      await eventually(async () => (await imagesOn(h3)).get(img.fingerprint)?.includes('im-down'), {
        timeoutMs: 60_000,
      });
    } finally {
      await lxcOk(['image', 'delete', `mgr:${img.fingerprint}`]);
    }
  });

  it('a manager killed in the middle of a distribution rolls it back when it starts again', async () => {
    const img = await variantImage('im-variant-kill', 48);
    const dataDir = await mkdtemp(join(tmpdir(), 'lxdpm-im-kill-'));
    const h3 = t.hosts[2];
    const h3pid = h3?.pid();
    if (!h3 || h3pid === undefined) throw new Error('no h3 daemon');
    let child = await spawnManager(dataDir);
    let api = new HostClient({
      name: 'child',
      url: `unix://${join(dataDir, 'unix.socket')}`,
      timeoutMs: 60_000,
    });
    let frozen = false;
    try {
      for (const h of t.hosts) {
        await api.call('POST', '/1.0/hosts', {
          name: h.name,
          url: h.url,
          password: h.password,
          accept_certificate: true,
        });
      }
      // h3 stops answering (it is still Online for this manager, which checks health rarely), so the
      // distribution is certainly in the middle when h1 and h2 have the image.
      process.kill(h3pid, 'SIGSTOP');
      frozen = true;
      const res = await api.raw('POST', '/1.0/images', createReadStream(img.path), {
        headers: { 'content-type': 'application/octet-stream', 'x-lxd-filename': 'kill.tar.gz' },
        timeoutMs: 120_000,
      });
      const accepted = (await res.body.json()) as { metadata: LxdOperation };
      const id = accepted.metadata.id;
      await eventually(
        async () => {
          const op = await api.get<LxdOperation>(`/1.0/operations/${id}`);
          const hosts = (op.metadata?.hosts ?? {}) as Record<string, string>;
          return op.status === 'Running' && hosts.h1 === 'done' && hosts.h2 === 'done';
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      expect(await holders(img.fingerprint, t.hosts.slice(0, 2))).toEqual(['h1', 'h2']);
      child.kill('SIGKILL');
      await once(child, 'exit');
      await api.close();
      process.kill(h3pid, 'SIGCONT');
      frozen = false;

      child = await spawnManager(dataDir);
      api = new HostClient({
        name: 'child',
        url: `unix://${join(dataDir, 'unix.socket')}`,
        timeoutMs: 60_000,
      });
      const op = await api.get<LxdOperation>(`/1.0/operations/${id}`);
      expect(op.status).toBe('Failure');
      await eventually(async () => (await holders(img.fingerprint)).length === 0, { timeoutMs: 60_000 });
      expect(await holders(img.fingerprint)).toEqual([]);
    } finally {
      if (frozen) process.kill(h3pid, 'SIGCONT');
      child.kill('SIGTERM');
      await once(child, 'exit').catch(() => undefined);
      await api.close();
      await removeEverywhere(img.fingerprint);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

/** The manager in a process of its own (so it can be SIGKILLed), on `dataDir`. */
async function spawnManager(dataDir: string): Promise<ChildProcess> {
  const server = fileURLToPath(new URL('../../src/server.ts', import.meta.url));
  const script = join(work, 'child-manager.ts');
  await writeFile(
    script,
    [
      `import pino from 'pino';`,
      `import { startManager } from ${JSON.stringify(server)};`,
      `const m = await startManager({ dataDir: process.argv[2] ?? '', listen: '127.0.0.1:0',`,
      `  healthIntervalMs: 600_000, rescanIntervalMs: 600_000, logger: pino({ level: 'silent' }) });`,
      `process.on('SIGTERM', () => { void m.stop().then(() => process.exit(0)); });`,
      `console.log('READY');`,
    ].join('\n'),
  );
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn(process.execPath, [join(root, 'node_modules/.bin/vite-node'), script, dataDir], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('READY')) resolve();
    });
    child.once('exit', (code) => {
      reject(new Error(`manager exited (${String(code)}): ${out}`));
    });
  });
  return child;
}

describe('images between the manager and another LXD server', () => {
  let source: LocalHost;
  let conf: string;
  beforeAll(async () => {
    other ??= await startLocalFleet({ count: 1, basePort: OTHER_PORT, importImage: false });
    const h = other.hosts[0];
    if (!h) throw new Error('no other host');
    source = h;
    conf = await mkdtemp(join(tmpdir(), 'lxdpm-im-other-'));
    // The other server's own lxc, with the manager as a remote.
    const added = await runLxc(
      ['remote', 'add', 'mgr', `https://${t.address}`, '--accept-certificate', '--password', TRUST_PASSWORD],
      { LXD_DIR: source.dir, LXD_CONF: conf },
    );
    expect(added.code, added.stderr).toBe(0);
  });

  afterAll(async () => {
    await rm(conf, { recursive: true, force: true });
  });

  const otherLxc = async (args: string[]) => {
    const r = await runLxc(args, { LXD_DIR: source.dir, LXD_CONF: conf });
    expect(r.code, `other: lxc ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };

  it('lxc image copy mgr:busybox other: and lxc launch mgr:busybox other:c work (secret and export)', async () => {
    const fp = inject('fleet').image.fingerprint;
    await otherLxc(['image', 'copy', 'mgr:busybox', 'local:', '--alias', 'im-from-mgr']);
    expect((await imagesOn(source)).get(fp)).toEqual(['im-from-mgr']);
    await otherLxc(['image', 'delete', 'im-from-mgr']);
    await otherLxc(['launch', 'mgr:busybox', 'local:im-oc']);
    try {
      expect(await otherLxc(['list', 'local:', '--format', 'csv', '-c', 'ns'])).toContain('im-oc,RUNNING');
    } finally {
      await otherLxc(['delete', '-f', 'local:im-oc']);
      await source.lxc(['image', 'delete', fp]);
    }
    // A spent or wrong secret opens nothing.
    const anon = await fetchInsecure(`https://${t.address}/1.0/images/${fp}/export?secret=nope`);
    expect(anon).toBeGreaterThanOrEqual(400);
  });

  it('lxc image copy other:IMG mgr: puts the image on every host', async () => {
    const img = await variantImage('im-variant-remote');
    await hostLxcOk(source, ['image', 'import', img.path, '--alias', 'im-remote-src']);
    try {
      await t.lxc([
        'remote',
        'add',
        'other',
        source.url,
        '--accept-certificate',
        '--password',
        source.password,
      ]);
      await lxcOk(['image', 'copy', 'other:im-remote-src', 'mgr:', '--alias', 'im-remote']);
      for (const h of t.hosts)
        expect((await imagesOn(h)).get(img.fingerprint), h.name).toEqual(['im-remote']);
      await lxcOk(['image', 'delete', 'mgr:im-remote']);
      expect(await holders(img.fingerprint)).toEqual([]);
    } finally {
      await source.lxc(['image', 'delete', img.fingerprint]);
    }
  });
});

/** Status of an unauthenticated HTTPS GET (no client certificate, any server certificate). */
async function fetchInsecure(url: string): Promise<number> {
  const { Agent, request } = await import('undici');
  const res = await request(url, { dispatcher: new Agent({ connect: { rejectUnauthorized: false } }) });
  await res.body.dump();
  return res.statusCode;
}

describe('lxc publish', () => {
  it('publishes an instance on its host, distributes the image, and launches it elsewhere', async () => {
    await lxcOk(['init', 'mgr:busybox', 'mgr:im-c1', '--target', 'h1']);
    await lxcOk(['publish', 'mgr:im-c1', 'mgr:', '--alias', 'im-pub']);
    const alias = await t.api.get<{ target: string }>('/1.0/images/aliases/im-pub');
    built.add(alias.target);
    for (const h of t.hosts) expect((await imagesOn(h)).get(alias.target), h.name).toEqual(['im-pub']);
    await lxcOk(['launch', 'mgr:im-pub', 'mgr:im-c9', '--target', 'h3']);
    const h3 = t.hosts[2];
    if (!h3) throw new Error('no h3');
    expect(await hostLxcOk(h3, ['list', '--format', 'csv', '-c', 'ns'])).toContain('im-c9,RUNNING');
    await lxcOk(['delete', '-f', 'mgr:im-c9', 'mgr:im-c1']);
    await lxcOk(['image', 'delete', 'mgr:im-pub']);
    expect(await holders(alias.target)).toEqual([]);
  });
});

describe('a host added later', () => {
  it('receives the fleet’s images and profiles', async () => {
    other ??= await startLocalFleet({ count: 1, basePort: OTHER_PORT, importImage: false });
    const h4 = other.hosts[0];
    if (!h4) throw new Error('no other host');
    const img = await variantImage('im-variant-late');
    await lxcOk(['image', 'import', img.path, 'mgr:', '--alias', 'im-late']);
    await lxcOk(['profile', 'create', 'mgr:im-late-prof']);
    await lxcOk(['profile', 'set', 'mgr:im-late-prof', 'user.fleet', 'yes']);
    // The new host's default profile differs from the fleet's: the fleet's definition wins.
    await hostLxcOk(h4, ['profile', 'set', 'default', 'user.only-on-h4', 'x']);
    try {
      await t.api.call('POST', '/1.0/hosts', {
        name: 'h4',
        url: h4.url,
        password: h4.password,
        accept_certificate: true,
      });
      await eventually(async () => (await imagesOn(h4)).get(img.fingerprint)?.includes('im-late'), {
        timeoutMs: 60_000,
      });
      await eventually(async () =>
        (await imagesOn(h4)).get(inject('fleet').image.fingerprint)?.includes('busybox'),
      );
      await eventually(async () => {
        const r = await h4.lxc(['profile', 'get', 'im-late-prof', 'user.fleet']);
        return r.code === 0 && r.stdout.trim() === 'yes';
      });
      await eventually(
        async () => !(await hostLxcOk(h4, ['profile', 'show', 'default'])).includes('only-on-h4'),
      );
      // The host's own additions did not leak into the fleet.
      expect(await lxcOk(['profile', 'show', 'mgr:default'])).not.toContain('only-on-h4');
    } finally {
      await t.api.call('DELETE', '/1.0/hosts/h4');
      await lxcOk(['image', 'delete', 'mgr:im-late']);
      await lxcOk(['profile', 'delete', 'mgr:im-late-prof']);
    }
  });
});
