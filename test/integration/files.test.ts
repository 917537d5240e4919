// Files through the manager, against containers on two hosts: `lxc file push/pull/delete` (single files,
// trees with symlinks, parents, ownership and modes), pylxd's file API, and the raw API (headers, listings,
// append, HEAD, errors), each checked against what the host itself holds.
import { createHash, randomBytes } from 'node:crypto';
import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/localfleet/command.js';
import { HostClient } from '../../src/lxd/index.js';
import { startTestManager, type TestManager } from './harness.js';
import { deleteOnePerHost, launchOnePerHost } from './instance-helpers.js';

const NAMES = ['ex-f1', 'ex-f2'] as const;
let t: TestManager;
let work: string;

beforeAll(async () => {
  t = await startTestManager();
  work = await mkdtemp(join(tmpdir(), 'ex-files-'));
  await launchOnePerHost(t.hosts, NAMES);
  await t.manager.locations.rescan();
});

afterAll(async () => {
  await deleteOnePerHost(t.hosts, NAMES);
  await t.stop();
  await rm(work, { recursive: true, force: true });
});

function host(i: number) {
  const h = t.hosts[i];
  if (!h) throw new Error(`no host ${i}`);
  return h;
}

/** Runs something against host i's own API, over its unix socket. */
async function direct<T>(i: number, f: (client: HostClient) => Promise<T>): Promise<T> {
  const h = host(i);
  const client = new HostClient({ name: h.name, url: `unix://${h.socket}` });
  try {
    return await f(client);
  } finally {
    await client.close();
  }
}

async function ok(result: Promise<{ code: number; stderr: string; stdout: string }>): Promise<string> {
  const r = await result;
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A tree as a sorted list of entries: type, mode, content hash or link target. */
async function describeTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const s = await lstat(path);
      if (s.isSymbolicLink()) out.push(`link ${r} -> ${await readlink(path)}`);
      else if (s.isDirectory()) {
        out.push(`dir ${r}`);
        await walk(path, r);
      } else out.push(`file ${r} ${(s.mode & 0o777).toString(8)} ${sha256(await readFile(path))}`);
    }
  };
  await walk(root, '');
  return out;
}

describe('lxc file through the manager', () => {
  it('pushes and pulls a file byte for byte, as the host holds it', async () => {
    const original = join(work, 'blob.bin');
    const data = randomBytes(24 * 1024 * 1024 + 17);
    await writeFile(original, data, { mode: 0o644 });
    await ok(t.lxc(['file', 'push', original, 'mgr:ex-f1/tmp/blob.bin']));

    const pulled = join(work, 'blob.pulled');
    await ok(t.lxc(['file', 'pull', 'mgr:ex-f1/tmp/blob.bin', pulled]));
    expect(sha256(await readFile(pulled))).toBe(sha256(data));

    const onHost = join(work, 'blob.host');
    await ok(host(0).lxc(['file', 'pull', 'ex-f1/tmp/blob.bin', onHost]));
    expect(sha256(await readFile(onHost))).toBe(sha256(data));
  });

  it('sets --uid, --gid and --mode, and pull applies the mode locally', async () => {
    const original = join(work, 'owned.txt');
    await writeFile(original, 'owned\n');
    await ok(
      t.lxc([
        'file',
        'push',
        original,
        'mgr:ex-f2/tmp/owned.txt',
        '--uid',
        '1000',
        '--gid',
        '1001',
        '--mode',
        '0640',
      ]),
    );
    expect(await ok(host(1).lxc(['exec', 'ex-f2', '--', 'stat', '-c', '%u %g %a', '/tmp/owned.txt']))).toBe(
      '1000 1001 640\n',
    );
    const pulled = join(work, 'owned.pulled');
    await ok(t.lxc(['file', 'pull', 'mgr:ex-f2/tmp/owned.txt', pulled]));
    expect(await readFile(pulled, 'utf8')).toBe('owned\n');
    expect((await stat(pulled)).mode & 0o777).toBe(0o640);
  });

  it('pushes and pulls a tree with nested directories and symlinks', async () => {
    const tree = join(work, 'tree');
    await mkdir(join(tree, 'sub', 'deeper'), { recursive: true });
    await writeFile(join(tree, 'a.txt'), 'alpha\n', { mode: 0o600 });
    await writeFile(join(tree, 'sub', 'b.bin'), randomBytes(300_000), { mode: 0o644 });
    await writeFile(join(tree, 'sub', 'deeper', 'empty'), '', { mode: 0o644 });
    await symlink('a.txt', join(tree, 'rel-link'));
    await symlink('/etc/passwd', join(tree, 'sub', 'abs-link'));
    await ok(t.lxc(['file', 'push', '-r', tree, 'mgr:ex-f1/tmp/']));

    const back = join(work, 'back');
    await mkdir(back);
    await ok(t.lxc(['file', 'pull', '-r', 'mgr:ex-f1/tmp/tree', back]));
    const fromHost = join(work, 'from-host');
    await mkdir(fromHost);
    await ok(host(0).lxc(['file', 'pull', '-r', 'ex-f1/tmp/tree', fromHost]));

    const expected = await describeTree(tree);
    expect(expected).toContain('link rel-link -> a.txt');
    expect(await describeTree(join(back, 'tree'))).toEqual(await describeTree(join(fromHost, 'tree')));
    // Contents and link targets survive the round trip (lxc pull -r resolves links to absolute targets,
    // directly on the host as well, so compare those by what they point at).
    const roundTrip = (await describeTree(join(back, 'tree'))).filter((e) => !e.startsWith('link'));
    expect(roundTrip).toEqual(expected.filter((e) => !e.startsWith('link')));
    expect(await ok(host(0).lxc(['exec', 'ex-f1', '--', 'readlink', '/tmp/tree/rel-link']))).toBe('a.txt\n');
    expect(await ok(host(0).lxc(['exec', 'ex-f1', '--', 'readlink', '/tmp/tree/sub/abs-link']))).toBe(
      '/etc/passwd\n',
    );
  });

  it('creates missing parents with -p and deletes files', async () => {
    const original = join(work, 'deep.txt');
    await writeFile(original, 'deep\n');
    await ok(t.lxc(['file', 'push', '-p', original, 'mgr:ex-f2/tmp/x/y/z/deep.txt']));
    expect(await ok(host(1).lxc(['exec', 'ex-f2', '--', 'cat', '/tmp/x/y/z/deep.txt']))).toBe('deep\n');
    expect(await ok(host(1).lxc(['exec', 'ex-f2', '--', 'stat', '-c', '%F', '/tmp/x/y']))).toBe(
      'directory\n',
    );

    await ok(t.lxc(['file', 'delete', 'mgr:ex-f2/tmp/x/y/z/deep.txt']));
    const gone = await host(1).lxc(['exec', 'ex-f2', '--', 'test', '-e', '/tmp/x/y/z/deep.txt']);
    expect(gone.code).toBe(1);
  });

  it('reports a missing file like the host does', async () => {
    const viaManager = await t.lxc(['file', 'pull', 'mgr:ex-f1/tmp/nope', join(work, 'nope')]);
    const onHost = await host(0).lxc(['file', 'pull', 'ex-f1/tmp/nope', join(work, 'nope')]);
    expect(viaManager.code).not.toBe(0);
    expect(viaManager.stderr).toBe(onHost.stderr);
  });
});

describe('pylxd file API through the unix socket', () => {
  it('puts a file with only a mode header and gets it back; the host fills in the defaults', async () => {
    const script = `
import pylxd
c = pylxd.Client().containers.get('ex-f2')
c.files.put('/tmp/py.txt', b'from pylxd\\n', mode='0600')
print(c.files.get('/tmp/py.txt').decode(), end='')
`;
    const r = await runCommand('/usr/bin/python3', ['-c', script], {
      env: { ...process.env, LXD_DIR: t.dataDir },
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('from pylxd\n');
    expect(await ok(host(1).lxc(['exec', 'ex-f2', '--', 'stat', '-c', '%u %g %a', '/tmp/py.txt']))).toBe(
      '0 0 600\n',
    );
  });
});

describe('the files API through the manager', () => {
  const fileHeaders = (h: Record<string, string | string[] | undefined>) => ({
    type: h['x-lxd-type'],
    uid: h['x-lxd-uid'],
    gid: h['x-lxd-gid'],
    mode: h['x-lxd-mode'],
    modified: h['x-lxd-modified'],
  });

  it('lists a directory with the same JSON and headers as the host, for relative paths too', async () => {
    for (const path of ['/etc', 'etc']) {
      const res = await t.api.raw('GET', '/1.0/instances/ex-f1/files', undefined, { query: { path } });
      const fromHost = await direct(0, (h) =>
        h.raw('GET', '/1.0/instances/ex-f1/files', undefined, { query: { path } }),
      );
      expect(res.status).toBe(200);
      expect(res.headers['x-lxdpm-host']).toBe(host(0).name);
      expect(fileHeaders(res.headers)).toEqual(fileHeaders(fromHost.headers));
      expect(fileHeaders(res.headers).type).toBe('directory');
      const body = (await res.body.json()) as { metadata: string[] };
      expect(body).toEqual(await fromHost.body.json());
      expect(body.metadata).toContain('passwd');
    }
  });

  it('answers HEAD with the file headers only', async () => {
    const query = { path: '/etc/passwd' };
    const res = await t.api.raw('HEAD', '/1.0/containers/ex-f1/files', undefined, { query });
    const fromHost = await direct(0, (h) =>
      h.raw('HEAD', '/1.0/containers/ex-f1/files', undefined, { query }),
    );
    expect(res.status).toBe(200);
    expect(fileHeaders(res.headers)).toEqual(fileHeaders(fromHost.headers));
    expect(fileHeaders(res.headers)).toMatchObject({ type: 'file', uid: '0', gid: '0' });
    expect(await res.body.text()).toBe('');
    await fromHost.body.dump();
  });

  it('appends with X-LXD-write and returns the file with its headers', async () => {
    const query = { path: 'tmp/append.txt' };
    const post = async (body: string, headers: Record<string, string>) => {
      const res = await t.api.raw('POST', '/1.0/instances/ex-f2/files', body, { query, headers });
      expect(res.status).toBe(200);
      await res.body.dump();
    };
    await post('one\n', { 'x-lxd-type': 'file', 'x-lxd-mode': '0604' });
    await post('two\n', { 'x-lxd-write': 'append' });
    const res = await t.api.raw('GET', '/1.0/instances/ex-f2/files', undefined, { query });
    expect(await res.body.text()).toBe('one\ntwo\n');
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-length']).toBe('8');
    expect(fileHeaders(res.headers)).toMatchObject({ type: 'file', uid: '0', gid: '0', mode: '0604' });
  });

  it('creates and reads back a symlink', async () => {
    const query = { path: '/tmp/api-link' };
    const made = await t.api.raw('POST', '/1.0/instances/ex-f1/files', '/etc/hostname', {
      query,
      headers: { 'x-lxd-type': 'symlink' },
    });
    expect(made.status).toBe(200);
    await made.body.dump();
    const res = await t.api.raw('GET', '/1.0/instances/ex-f1/files', undefined, { query });
    expect(res.headers['x-lxd-type']).toBe('symlink');
    expect(await res.body.text()).toBe('/etc/hostname');
  });

  it.each([
    ['a missing path argument', '/1.0/instances/ex-f1/files', {}],
    ['a path that does not exist', '/1.0/instances/ex-f1/files', { path: '/no/such/file' }],
  ])('relays the host error for %s', async (_what, path, query) => {
    const res = await t.api.request('GET', path, undefined, { query });
    const fromHost = await direct(0, (h) => h.request('GET', path, undefined, { query }));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res).toMatchObject({ status: fromHost.status, envelope: fromHost.envelope });
  });

  it('answers 404 for an instance no host holds', async () => {
    const res = await t.api.request('GET', '/1.0/instances/ex-nope/files', undefined, {
      query: { path: '/' },
    });
    expect(res).toMatchObject({ status: 404, envelope: { type: 'error', error: 'Instance not found' } });
  });
});
