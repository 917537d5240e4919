// Instances through the manager as users meet them: `lxc` against the manager, checked against `lxc`
// run directly on the host that holds each instance, plus what only a fleet has (placement, name
// uniqueness across hosts, copies between hosts, hosts that go away).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LxdOperation } from '../../src/lxd/index.js';
import { eventually, startTestManager, type TestManager } from './harness.js';
import { cleanupPrefixed, hostHolding, hostLxcOk, lxcOk, namesOn } from './instance-helpers.js';

const run = promisify(execFile);
let t: TestManager;

beforeAll(async () => {
  t = await startTestManager();
});

afterAll(async () => {
  try {
    await cleanupPrefixed(t.hosts, 'in-');
  } finally {
    await t.stop();
  }
});

function host(name: string) {
  const h = t.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no host ${name}`);
  return h;
}

/** `NAME,STATUS[,LOCATION]` rows of a csv list. */
function rows(csv: string): string[] {
  return csv
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

async function statusOnHost(hostName: string, name: string): Promise<string | undefined> {
  const out = await hostLxcOk(host(hostName), ['list', '--format', 'csv', '-c', 'ns']);
  return rows(out)
    .find((r) => r.startsWith(`${name},`))
    ?.split(',')[1];
}

async function configOnHost(hostName: string, name: string, key: string): Promise<string> {
  return (await hostLxcOk(host(hostName), ['config', 'get', name, key])).trim();
}

async function createViaApi(
  name: string,
  source: Record<string, unknown>,
  target?: string,
): Promise<LxdOperation> {
  const { metadata } = await t.api.call<LxdOperation>(
    'POST',
    '/1.0/instances',
    { name, source },
    target === undefined ? {} : { query: { target } },
  );
  return t.api.waitOperation(metadata.id);
}

describe('the instance lifecycle with lxc', () => {
  it('launch, list, info, stop, start, restart agree with the host', async () => {
    await lxcOk(t, ['launch', 'mgr:busybox', 'mgr:in-life1']);
    const h = await hostHolding(t.hosts, 'in-life1');

    expect(rows(await lxcOk(t, ['list', 'mgr:', '-c', 'nsL', '--format', 'csv']))).toContain(
      `in-life1,RUNNING,${h}`,
    );
    expect(await statusOnHost(h, 'in-life1')).toBe('RUNNING');

    const info = await lxcOk(t, ['info', 'mgr:in-life1']);
    expect(info).toMatch(new RegExp(`Location: ${h}\\b`));
    expect(info).toMatch(/Status: RUNNING/);
    const pid = /PID: (\d+)/.exec(info)?.[1];
    expect(pid).toBeDefined();

    await lxcOk(t, ['stop', 'mgr:in-life1']);
    expect(await statusOnHost(h, 'in-life1')).toBe('STOPPED');
    await lxcOk(t, ['start', 'mgr:in-life1']);
    expect(await statusOnHost(h, 'in-life1')).toBe('RUNNING');
    await lxcOk(t, ['restart', 'mgr:in-life1']);
    expect(await statusOnHost(h, 'in-life1')).toBe('RUNNING');
    const after = await hostLxcOk(host(h), ['info', 'in-life1']);
    expect(/PID: (\d+)/.exec(after)?.[1]).not.toBe(pid);
  });

  it('config set (with If-Match) and config edit (stdin YAML) reach the host', async () => {
    const h = await hostHolding(t.hosts, 'in-life1');
    await lxcOk(t, ['config', 'set', 'mgr:in-life1', 'user.color', 'blue']);
    expect(await configOnHost(h, 'in-life1', 'user.color')).toBe('blue');

    const yaml = await lxcOk(t, ['config', 'show', 'mgr:in-life1']);
    expect(yaml).toContain('user.color: blue');
    const edited = yaml.replace('user.color: blue', 'user.color: blue\n  user.shape: round');
    await lxcOk(t, ['config', 'edit', 'mgr:in-life1'], edited);
    expect(await configOnHost(h, 'in-life1', 'user.shape')).toBe('round');
  });

  it('relays ETags: a stale If-Match gets 412, the current one succeeds', async () => {
    const got = await t.api.request<Record<string, unknown>>('GET', '/1.0/instances/in-life1');
    const etag = got.headers.etag;
    expect(typeof etag).toBe('string');
    expect(got.headers['x-lxdpm-host']).toBe(await hostHolding(t.hosts, 'in-life1'));
    const meta = got.envelope.metadata as Record<string, unknown>;
    const writable = {
      architecture: meta.architecture,
      config: { ...(meta.config as Record<string, string>), 'user.etag': 'yes' },
      devices: meta.devices,
      ephemeral: meta.ephemeral,
      profiles: meta.profiles,
      description: meta.description,
    };
    const stale = await t.api.request('PUT', '/1.0/instances/in-life1', writable, {
      headers: { 'if-match': '"0000"' },
    });
    expect(stale.status).toBe(412);
    expect(stale.envelope).toMatchObject({ type: 'error', error_code: 412 });
    const fresh = await t.api.call<LxdOperation>('PUT', '/1.0/instances/in-life1', writable, {
      headers: { 'if-match': etag as string },
    });
    expect((await t.api.waitOperation(fresh.metadata.id)).status).toBe('Success');
    expect(await configOnHost(await hostHolding(t.hosts, 'in-life1'), 'in-life1', 'user.etag')).toBe('yes');
  });

  it('snapshot, restore and snapshot delete reach the host', async () => {
    const h = await hostHolding(t.hosts, 'in-life1');
    await lxcOk(t, ['snapshot', 'mgr:in-life1', 'snap0']);
    expect(await hostLxcOk(host(h), ['info', 'in-life1'])).toMatch(/snap0/);
    expect(await lxcOk(t, ['info', 'mgr:in-life1'])).toMatch(/snap0/);
    const snaps = await t.api.get<string[]>('/1.0/instances/in-life1/snapshots');
    expect(snaps).toEqual(['/1.0/instances/in-life1/snapshots/snap0']);

    await lxcOk(t, ['config', 'set', 'mgr:in-life1', 'user.color', 'red']);
    expect(await configOnHost(h, 'in-life1', 'user.color')).toBe('red');
    await lxcOk(t, ['restore', 'mgr:in-life1', 'snap0']);
    expect(await configOnHost(h, 'in-life1', 'user.color')).toBe('blue');

    await lxcOk(t, ['delete', 'mgr:in-life1/snap0']);
    expect(await hostLxcOk(host(h), ['info', 'in-life1'])).not.toMatch(/snap0/);
  });

  it('rename, copy on the same host, and delete -f', async () => {
    const h = await hostHolding(t.hosts, 'in-life1');
    await lxcOk(t, ['stop', 'mgr:in-life1']);
    await lxcOk(t, ['move', 'mgr:in-life1', 'mgr:in-life2']);
    expect(await namesOn(host(h))).toContain('in-life2');
    expect(await namesOn(host(h))).not.toContain('in-life1');
    expect(rows(await lxcOk(t, ['list', 'mgr:', '-c', 'nL', '--format', 'csv']))).toContain(`in-life2,${h}`);
    expect((await t.lxc(['info', 'mgr:in-life1'])).stderr).toMatch(/not found/i);

    await lxcOk(t, ['copy', 'mgr:in-life2', 'mgr:in-copy1']);
    expect(await hostHolding(t.hosts, 'in-copy1')).toBe(h);
    expect(await configOnHost(h, 'in-copy1', 'user.color')).toBe('blue');

    await lxcOk(t, ['start', 'mgr:in-life2']);
    await lxcOk(t, ['delete', '-f', 'mgr:in-life2', 'mgr:in-copy1']);
    expect(await namesOn(host(h))).not.toContain('in-life2');
    expect(await namesOn(host(h))).not.toContain('in-copy1');
    const listed = rows(await lxcOk(t, ['list', 'mgr:', '-c', 'n', '--format', 'csv']));
    expect(listed).not.toContain('in-life2');
    expect(listed).not.toContain('in-copy1');
  });
});

describe('placement and copies between hosts', () => {
  it('launch --target puts the instance on that host', async () => {
    await lxcOk(t, ['launch', 'mgr:busybox', 'mgr:in-tgt1', '--target', 'h2']);
    expect(await hostHolding(t.hosts, 'in-tgt1')).toBe('h2');
    expect(await statusOnHost('h2', 'in-tgt1')).toBe('RUNNING');
  });

  it('refuses an unknown target with LXD’s error', async () => {
    const r = await t.lxc(['launch', 'mgr:busybox', 'mgr:in-tgt2', '--target', 'nosuchhost']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Cluster member not found/);
    for (const h of t.hosts) expect(await namesOn(h)).not.toContain('in-tgt2');
  });

  it('copy --target another host migrates the instance there, host to host', async () => {
    await lxcOk(t, ['init', 'mgr:busybox', 'mgr:in-mig-src', '--target', 'h1']);
    await lxcOk(t, ['config', 'set', 'mgr:in-mig-src', 'user.origin', 'h1']);
    await lxcOk(t, ['copy', 'mgr:in-mig-src', 'mgr:in-mig-dst', '--target', 'h3']);
    expect(await hostHolding(t.hosts, 'in-mig-dst')).toBe('h3');
    expect(await hostHolding(t.hosts, 'in-mig-src')).toBe('h1');
    expect(await configOnHost('h3', 'in-mig-dst', 'user.origin')).toBe('h1');
    await lxcOk(t, ['start', 'mgr:in-mig-dst']);
    expect(await statusOnHost('h3', 'in-mig-dst')).toBe('RUNNING');
    expect(rows(await lxcOk(t, ['list', 'mgr:', '-c', 'nsL', '--format', 'csv']))).toContain(
      'in-mig-dst,RUNNING,h3',
    );
  });

  it('move --target moves an instance to another host, with its snapshots, running again there', async () => {
    await lxcOk(t, ['launch', 'mgr:busybox', 'mgr:in-mv1', '--target', 'h1']);
    await lxcOk(t, ['snapshot', 'mgr:in-mv1', 'snap0']);
    await lxcOk(t, ['move', 'mgr:in-mv1', '--target', 'h3']);
    expect(await hostHolding(t.hosts, 'in-mv1')).toBe('h3');
    expect(await statusOnHost('h3', 'in-mv1')).toBe('RUNNING');
    expect(await hostLxcOk(host('h3'), ['info', 'in-mv1'])).toMatch(/snap0/);
    expect(rows(await lxcOk(t, ['list', 'mgr:', '-c', 'nsL', '--format', 'csv']))).toContain(
      'in-mv1,RUNNING,h3',
    );

    // Moving and renaming at once.
    await lxcOk(t, ['stop', 'mgr:in-mv1']);
    await lxcOk(t, ['move', 'mgr:in-mv1', 'mgr:in-mv2', '--target', 'h2']);
    expect(await hostHolding(t.hosts, 'in-mv2')).toBe('h2');
    for (const h of t.hosts) expect(await namesOn(h)).not.toContain('in-mv1');
    expect(await statusOnHost('h2', 'in-mv2')).toBe('STOPPED');
    expect(await lxcOk(t, ['info', 'mgr:in-mv2'])).toMatch(/Location: h2\b/);
    expect((await t.lxc(['move', 'mgr:in-mv2', '--target', 'h2'])).stderr).toMatch(/must be different/);
  });

  it('copies an image the chosen host lacks from a host that holds it, then creates there', async () => {
    // A variant of the fleet's busybox image (different metadata, so a different fingerprint) on h1 only.
    const work = await mkdtemp(join(tmpdir(), 'in-img-'));
    try {
      await run('tar', ['-xzf', inject('fleet').image.path, '-C', work]);
      const metadata = await readFile(join(work, 'metadata.yaml'), 'utf8');
      await writeFile(
        join(work, 'metadata.yaml'),
        metadata.replace(/description: "(.*)"/, 'description: "$1 in-img"'),
      );
      const tarball = join(work, 'in-img.tar.gz');
      await run('tar', ['-czf', tarball, '-C', work, 'metadata.yaml', 'rootfs']);
      await hostLxcOk(host('h1'), ['image', 'import', tarball, '--alias', 'in-img']);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    const fp = (
      await hostLxcOk(host('h1'), ['image', 'list', 'in-img', '--format', 'csv', '-c', 'F'])
    ).trim();
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(await hostLxcOk(host('h3'), ['image', 'list', '--format', 'csv', '-c', 'F'])).not.toContain(fp);

    try {
      await lxcOk(t, ['launch', 'mgr:in-img', 'mgr:in-imgc1', '--target', 'h3']);
      expect(await statusOnHost('h3', 'in-imgc1')).toBe('RUNNING');
      expect(await hostLxcOk(host('h3'), ['image', 'list', '--format', 'csv', '-c', 'F'])).toContain(fp);
      expect(await configOnHost('h3', 'in-imgc1', 'volatile.base_image')).toBe(fp);
      // By alias through the API too (pylxd and Ansible send the alias), on a third host.
      expect((await createViaApi('in-imgc2', { type: 'image', alias: 'in-img' }, 'h2')).status).toBe(
        'Success',
      );
      expect(await hostHolding(t.hosts, 'in-imgc2')).toBe('h2');
      // And by a fingerprint prefix, as `lxc launch mgr:<prefix>` resolves it.
      const byPrefix = await createViaApi('in-imgc3', { type: 'image', fingerprint: fp.slice(0, 12) });
      expect(byPrefix.status).toBe('Success');
      const placed = await hostHolding(t.hosts, 'in-imgc3');
      expect(await configOnHost(placed, 'in-imgc3', 'volatile.base_image')).toBe(fp);
    } finally {
      await cleanupPrefixed(t.hosts, 'in-imgc');
      for (const h of t.hosts) await h.lxc(['image', 'delete', fp]);
    }
  });
});

describe('names are unique across the fleet', () => {
  it('of 20 concurrent creates of one name exactly one succeeds, the others get 409', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        t.api.request<LxdOperation>('POST', '/1.0/instances', {
          name: 'in-race',
          source: { type: 'image', alias: 'busybox' },
        }),
      ),
    );
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 409);
    expect(accepted).toHaveLength(1);
    expect(refused).toHaveLength(19);
    for (const r of refused) expect(r.envelope).toMatchObject({ error: 'Instance "in-race" already exists' });
    const op = accepted[0]?.envelope.metadata as LxdOperation;
    expect((await t.api.waitOperation(op.id)).status).toBe('Success');
    await hostHolding(t.hosts, 'in-race');
  });

  it('refuses a name that exists on any host', async () => {
    const r = await t.lxc(['init', 'mgr:busybox', 'mgr:in-race']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/already exists/);
  });
});

describe('instances made or removed directly on a host', () => {
  it('appear in lxc list and become routable, and disappear when deleted there', async () => {
    await hostLxcOk(host('h2'), ['init', 'busybox', 'in-direct1']);
    await eventually(async () => (await lxcOk(t, ['info', 'mgr:in-direct1'])).includes('Location: h2'), {
      timeoutMs: 15_000,
    });
    expect(rows(await lxcOk(t, ['list', 'mgr:', '-c', 'nL', '--format', 'csv']))).toContain('in-direct1,h2');

    await hostLxcOk(host('h2'), ['delete', 'in-direct1']);
    await eventually(
      async () =>
        !rows(await lxcOk(t, ['list', 'mgr:', '-c', 'n', '--format', 'csv'])).includes('in-direct1'),
      { timeoutMs: 15_000 },
    );
    await eventually(() => Promise.resolve(t.manager.locations.get('in-direct1') === undefined), {
      timeoutMs: 15_000,
    });
  });
});

describe('a host that goes away', () => {
  it('does not fail the list: its known instances are listed as Error, and launches avoid it', async () => {
    // h3 becomes the densest host, the one `gather` would choose if it were up.
    for (const name of ['in-off1', 'in-off2', 'in-off3', 'in-off4']) {
      expect((await createViaApi(name, { type: 'image', alias: 'busybox' }, 'h3')).status).toBe('Success');
    }
    expect((await createViaApi('in-on1', { type: 'image', alias: 'busybox' }, 'h1')).status).toBe('Success');
    await eventually(() => Promise.resolve(t.manager.locations.get('in-off1')?.state === 'present'));
    const counts = t.manager.locations.countByHost();
    expect(counts.get('h3')).toBeGreaterThan(Math.max(counts.get('h1') ?? 0, counts.get('h2') ?? 0));
    await t.api.call('PUT', '/1.0/planner', { state: 'gather' });
    const h3 = host('h3');
    await h3.stop();
    try {
      const started = Date.now();
      const out = rows(await lxcOk(t, ['list', 'mgr:', '-c', 'nsL', '--format', 'csv']));
      expect(Date.now() - started).toBeLessThan(5000);
      expect(out).toContain('in-off1,ERROR,h3');
      expect(out).toContain('in-on1,STOPPED,h1');

      const listed = await t.api.request<{ name: string; status_code: number }[]>(
        'GET',
        '/1.0/instances',
        undefined,
        {
          query: { recursion: '1' },
        },
      );
      expect(listed.headers['x-lxdpm-unavailable']).toBe('h3');
      const objects = listed.envelope.metadata as { name: string; status_code: number }[];
      expect(objects.find((i) => i.name === 'in-off1')?.status_code).toBe(112);

      // filter= applies to the offline host's instances too, as the hosts apply it to their own.
      const filtered = await t.api.get<string[]>('/1.0/instances', {
        query: { filter: 'name eq in-off1 or name eq in-on1' },
      });
      expect(filtered).toEqual(['/1.0/instances/in-off1', '/1.0/instances/in-on1']);
      const unreachable = await t.api.get<{ name: string }[]>('/1.0/instances', {
        query: { recursion: '1', filter: 'name eq in-off.* and status ne Error' },
      });
      expect(unreachable).toEqual([]);

      await eventually(() => Promise.resolve(t.manager.fleet.get('h3').status === 'Offline'));
      for (const name of ['in-avoid1', 'in-avoid2', 'in-avoid3']) {
        expect((await createViaApi(name, { type: 'image', alias: 'busybox' })).status).toBe('Success');
        expect(['h1', 'h2']).toContain(t.manager.locations.get(name)?.host);
      }
      const refused = await t.api.request(
        'POST',
        '/1.0/instances',
        {
          name: 'in-avoid4',
          source: { type: 'image', alias: 'busybox' },
        },
        { query: { target: 'h3' } },
      );
      expect(refused.status).toBe(503);
      expect(refused.envelope).toMatchObject({ error: expect.stringContaining('h3') as unknown });
    } finally {
      await h3.start();
      await t.api.call('PUT', '/1.0/planner', { state: 'random' });
    }
    await eventually(async () =>
      rows(await lxcOk(t, ['list', 'mgr:', '-c', 'nsL', '--format', 'csv'])).includes('in-off1,STOPPED,h3'),
    );
  });
});

describe('the API surface', () => {
  it('refuses a malformed filter with the error a host gives', async () => {
    const viaManager = await t.api.request('GET', '/1.0/instances', undefined, {
      query: { filter: 'name eq' },
    });
    const direct = await host('h1').lxc(['query', '/1.0/instances?filter=name%20eq']);
    expect(viaManager.status).toBe(400);
    expect(viaManager.envelope).toMatchObject({ error: 'Invalid filter: clause has no value' });
    expect(direct.stderr).toContain('Invalid filter: clause has no value');
  });

  it('serves the legacy /1.0/containers paths from the same definitions', async () => {
    const urls = await t.api.get<string[]>('/1.0/containers');
    expect(urls).toContain('/1.0/containers/in-race');
    const one = await t.api.get<{ name: string; location: string }>('/1.0/containers/in-race');
    expect(one.location).toBe(await hostHolding(t.hosts, 'in-race'));
    const state = await t.api.get<{ status: string }>('/1.0/containers/in-race/state');
    expect(state.status).toBe('Stopped');
  });

  it('accepts ?project=default and refuses other projects', async () => {
    const ok = await t.api.request('GET', '/1.0/instances', undefined, {
      query: { project: 'default', filter: '' },
    });
    expect(ok.status).toBe(200);
    const other = await t.api.request('GET', '/1.0/instances/in-race', undefined, {
      query: { project: 'other' },
    });
    expect(other.status).toBe(404);
    expect(other.envelope).toMatchObject({ error: 'Project not found' });
  });

  it('lists with recursion 2 for lxc list: state and snapshots included', async () => {
    const full = await t.api.get<
      { name: string; state: { status: string } | null; snapshots: unknown[] | null }[]
    >('/1.0/instances', { query: { recursion: '2', filter: '' } });
    const race = full.find((i) => i.name === 'in-race');
    expect(race?.state?.status).toBe('Stopped');
    expect(Array.isArray(race?.snapshots) || race?.snapshots === null).toBe(true);
  });
});
