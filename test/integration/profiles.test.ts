// Fleet-wide profiles as users meet them: `lxc profile …` against the manager, checked on every host
// directly; all-or-nothing updates (a host that refuses gets every host back to the old definition);
// LXD's own refusals; launching with a fleet profile; and repair of a host that drifted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalHost } from '../../src/localfleet/index.js';
import type { LxdProfile } from '../../src/lxd/index.js';
import { eventually, startTestManager, type TestManager } from './harness.js';
import { cleanupPrefixed, hostLxcOk } from './instance-helpers.js';

let t: TestManager;

async function lxcOk(args: string[], input?: string): Promise<string> {
  const r = await t.lxc(args, input === undefined ? undefined : { input });
  expect(r.code, `lxc ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** A profile as one host holds it, asked directly (undefined when the host has none). */
async function profileOn(host: LocalHost, name: string): Promise<LxdProfile | undefined> {
  const r = await host.lxc(['query', `/1.0/profiles/${name}`], { timeoutMs: 60_000 });
  if (r.code !== 0) return undefined;
  return JSON.parse(r.stdout) as LxdProfile;
}

function host(i: number): LocalHost {
  const h = t.hosts[i];
  if (!h) throw new Error(`no host ${i}`);
  return h;
}

beforeAll(async () => {
  t = await startTestManager();
  await t.manager.fleetSync.syncNow();
});

afterAll(async () => {
  try {
    await cleanupPrefixed(t.hosts, 'im-');
    await Promise.all(
      t.hosts.map(async (h) => {
        const profiles = await h.lxc(['profile', 'list', '--format', 'csv'], { timeoutMs: 60_000 });
        for (const line of profiles.stdout.split('\n')) {
          const name = line.split(',')[0] ?? '';
          if (name.startsWith('im-')) await h.lxc(['profile', 'delete', name]);
        }
      }),
    );
  } finally {
    await t.stop();
  }
});

describe('lxc profile through the manager', () => {
  it('create, set, edit, rename and delete reach every host', async () => {
    await lxcOk(['profile', 'create', 'mgr:im-p1']);
    for (const h of t.hosts) expect(await profileOn(h, 'im-p1'), h.name).toBeDefined();

    await lxcOk(['profile', 'set', 'mgr:im-p1', 'user.color', 'green']);
    for (const h of t.hosts)
      expect((await profileOn(h, 'im-p1'))?.config, h.name).toEqual({ 'user.color': 'green' });

    await lxcOk(
      ['profile', 'edit', 'mgr:im-p1'],
      'description: edited\nconfig:\n  user.size: "2"\ndevices: {}\n',
    );
    for (const h of t.hosts) {
      const p = await profileOn(h, 'im-p1');
      expect(p?.description, h.name).toBe('edited');
      expect(p?.config, h.name).toEqual({ 'user.size': '2' });
    }
    expect(await lxcOk(['profile', 'list', 'mgr:'])).toContain('edited');

    await lxcOk(['profile', 'rename', 'mgr:im-p1', 'im-p2']);
    for (const h of t.hosts) {
      expect(await profileOn(h, 'im-p1'), h.name).toBeUndefined();
      expect((await profileOn(h, 'im-p2'))?.config, h.name).toEqual({ 'user.size': '2' });
    }

    await lxcOk(['profile', 'delete', 'mgr:im-p2']);
    for (const h of t.hosts) expect(await profileOn(h, 'im-p2'), h.name).toBeUndefined();
  });

  it('answers with LXD’s ETag, 201 + Location, and refuses a stale If-Match', async () => {
    const created = await t.api.request('POST', '/1.0/profiles', {
      name: 'im-etag',
      config: {},
      devices: {},
    });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe('/1.0/profiles/im-etag');
    try {
      const got = await t.api.request('GET', '/1.0/profiles/im-etag');
      const etag = got.headers.etag;
      expect(typeof etag).toBe('string');
      const stale = await t.api.request(
        'PUT',
        '/1.0/profiles/im-etag',
        { config: { 'user.a': '1' }, devices: {}, description: '' },
        { headers: { 'if-match': '"0000"' } },
      );
      expect(stale.status).toBe(412);
      const ok = await t.api.request(
        'PUT',
        '/1.0/profiles/im-etag',
        { config: { 'user.a': '1' }, devices: {}, description: '' },
        { headers: { 'if-match': String(etag) } },
      );
      expect(ok.status).toBe(200);
      for (const h of t.hosts)
        expect((await profileOn(h, 'im-etag'))?.config, h.name).toEqual({ 'user.a': '1' });
    } finally {
      await t.api.call('DELETE', '/1.0/profiles/im-etag');
    }
  });

  it('refuses what LXD refuses, with LXD’s words', async () => {
    const inUse = await t.lxc(['profile', 'delete', 'mgr:default']);
    expect(inUse.stderr).toContain('The "default" profile cannot be deleted');
    const rename = await t.lxc(['profile', 'rename', 'mgr:default', 'im-x']);
    expect(rename.stderr).toContain('The "default" profile cannot be renamed');
    const slash = await t.api.request('POST', '/1.0/profiles', { name: 'im/slash' });
    expect(slash.envelope).toMatchObject({ error_code: 400, error: 'Profile names may not contain slashes' });
    const missing = await t.api.request('GET', '/1.0/profiles/im-nothere');
    expect(missing.status).toBe(404);
  });

  it('refuses to delete a profile that an instance on any host uses', async () => {
    await lxcOk(['profile', 'create', 'mgr:im-used']);
    const h3 = host(2);
    // Made directly on h3: the manager still sees it, through the host.
    await hostLxcOk(h3, ['init', 'busybox', 'im-user', '-p', 'default', '-p', 'im-used']);
    try {
      const r = await t.lxc(['profile', 'delete', 'mgr:im-used']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('Error: Profile is currently in use');
      for (const h of t.hosts) expect(await profileOn(h, 'im-used'), h.name).toBeDefined();
      const shown = JSON.parse(await lxcOk(['query', 'mgr:/1.0/profiles/im-used'])) as LxdProfile;
      expect(shown.used_by).toEqual(['/1.0/instances/im-user']);
    } finally {
      await hostLxcOk(h3, ['delete', 'im-user']);
      await lxcOk(['profile', 'delete', 'mgr:im-used']);
    }
  });
});

describe('all-or-nothing profile changes', () => {
  it('an update one host refuses leaves every host with the old definition, naming that host', async () => {
    await lxcOk(['profile', 'create', 'mgr:im-fault']);
    await lxcOk(['profile', 'set', 'mgr:im-fault', 'user.v', '1']);
    const h2 = host(1);
    // A running instance on h2 uses the profile: adding a disk whose source is missing fails there only.
    await hostLxcOk(h2, ['launch', 'busybox', 'im-runner', '-p', 'default', '-p', 'im-fault']);
    try {
      const r = await t.lxc([
        'profile',
        'device',
        'add',
        'mgr:im-fault',
        'd1',
        'disk',
        'source=/im-no-such-dir',
        'path=/mnt/x',
      ]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('Error: h2: ');
      expect(r.stderr).toContain('Missing source path');
      for (const h of t.hosts) {
        const p = await profileOn(h, 'im-fault');
        expect(p?.devices, h.name).toEqual({});
        expect(p?.config, h.name).toEqual({ 'user.v': '1' });
      }
      const fleet = JSON.parse(await lxcOk(['query', 'mgr:/1.0/profiles/im-fault'])) as LxdProfile;
      expect(fleet.devices).toEqual({});
    } finally {
      await hostLxcOk(h2, ['delete', '-f', 'im-runner']);
      await lxcOk(['profile', 'delete', 'mgr:im-fault']);
    }
  });

  it('a create that one host refuses is removed from the hosts that got it', async () => {
    const h1 = host(0);
    await hostLxcOk(h1, ['profile', 'create', 'im-clash']);
    try {
      const r = await t.lxc(['profile', 'create', 'mgr:im-clash']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('h1: ');
      expect(r.stderr).toContain('The profile already exists');
      expect(await profileOn(host(1), 'im-clash')).toBeUndefined();
      expect(await profileOn(host(2), 'im-clash')).toBeUndefined();
      // h1's own profile stays.
      expect(await profileOn(h1, 'im-clash')).toBeDefined();
    } finally {
      await h1.lxc(['profile', 'delete', 'im-clash']);
    }
  });
});

describe('using and repairing fleet profiles', () => {
  it('lxc launch -p uses the fleet profile on whichever host is chosen', async () => {
    await lxcOk(['profile', 'create', 'mgr:im-prof']);
    await lxcOk(['profile', 'set', 'mgr:im-prof', 'user.from-profile', 'hello']);
    try {
      await lxcOk(['launch', 'mgr:busybox', 'mgr:im-cp', '-p', 'default', '-p', 'im-prof']);
      const value = await lxcOk(['config', 'get', 'mgr:im-cp', 'user.from-profile', '--expanded']);
      expect(value.trim()).toBe('hello');
      const shown = JSON.parse(await lxcOk(['query', 'mgr:/1.0/profiles/im-prof'])) as LxdProfile;
      expect(shown.used_by).toEqual(['/1.0/instances/im-cp']);
    } finally {
      await t.lxc(['delete', '-f', 'mgr:im-cp']);
      await lxcOk(['profile', 'delete', 'mgr:im-prof']);
    }
  });

  it('a host whose copy was deleted or changed directly gets the fleet’s definition back', async () => {
    await lxcOk(['profile', 'create', 'mgr:im-drift']);
    await lxcOk(['profile', 'set', 'mgr:im-drift', 'user.k', 'fleet']);
    try {
      await hostLxcOk(host(2), ['profile', 'delete', 'im-drift']);
      await hostLxcOk(host(0), ['profile', 'set', 'im-drift', 'user.k', 'local']);
      await t.manager.fleetSync.syncNow();
      await eventually(async () => (await profileOn(host(2), 'im-drift'))?.config['user.k'] === 'fleet');
      expect((await profileOn(host(0), 'im-drift'))?.config['user.k']).toBe('fleet');
    } finally {
      await lxcOk(['profile', 'delete', 'mgr:im-drift']);
    }
  });
});
