// The planner as users meet it: `/1.0/planner` to choose the strategy, then `lxc launch` through the
// manager, with the LOCATION column (and the hosts themselves) showing where each instance went.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LxdOperation } from '../../src/lxd/index.js';
import { startTestManager, type TestManager } from './harness.js';
import {
  cleanupPrefixed,
  countsByHost,
  gatherExpectation,
  lxcOk,
  scatterExpectation,
} from './instance-helpers.js';

let t: TestManager;

beforeAll(async () => {
  t = await startTestManager();
});

afterEach(async () => {
  await cleanupPrefixed(t.hosts, 'in-p');
  await t.manager.locations.rescan();
});

afterAll(async () => {
  try {
    await cleanupPrefixed(t.hosts, 'in-p');
  } finally {
    await t.stop();
  }
});

async function setStrategy(state: string): Promise<void> {
  await t.api.call('PUT', '/1.0/planner', { state });
}

/** Where `lxc list mgr:` says each instance with the prefix is, counted per host. */
async function locationCounts(prefix: string): Promise<Record<string, number>> {
  const out = await lxcOk(t, ['list', 'mgr:', '-c', 'nL', '--format', 'csv']);
  const counts: Record<string, number> = { h1: 0, h2: 0, h3: 0 };
  for (const line of out.split('\n')) {
    const [name, location] = line.trim().split(',');
    if (name?.startsWith(prefix) && location !== undefined) counts[location] = (counts[location] ?? 0) + 1;
  }
  return counts;
}

/**
 * Every instance on each host, as the hosts report it. The hosts are shared by the whole test run, so
 * placements are judged against what is already there; on an empty fleet the expectations below are
 * 2/2/2 for scatter and 6/0/0 for gather.
 */
async function instancesPerHost(): Promise<Record<string, number>> {
  return countsByHost(t.hosts, '');
}

/** Runs tasks with at most `limit` at a time. */
async function pooled(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

describe('the planner API', () => {
  it('returns the strategy in metadata, random by default', async () => {
    const got = await t.api.request('GET', '/1.0/planner');
    expect(got.status).toBe(200);
    expect(got.envelope).toMatchObject({ type: 'sync', metadata: 'random' });
  });

  it('takes the strategy by PUT and by the legacy POST, and stores it', async () => {
    await t.api.call('PUT', '/1.0/planner', { state: 'scatter' });
    expect(await t.api.get('/1.0/planner')).toBe('scatter');
    await t.api.call('POST', '/1.0/planner', { state: 'gather' });
    expect(await t.api.get('/1.0/planner')).toBe('gather');
    expect(await t.manager.store.getConfig('planner.strategy')).toBe('gather');
    await setStrategy('random');
  });

  it('is set and read with lxc query, as a user would', async () => {
    await lxcOk(t, ['query', '-X', 'PUT', '-d', '{"state":"scatter"}', 'mgr:/1.0/planner']);
    expect((await lxcOk(t, ['query', 'mgr:/1.0/planner'])).trim()).toBe('"scatter"');
    const refused = await t.lxc(['query', '-X', 'PUT', '-d', '{"state":"densest"}', 'mgr:/1.0/planner']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/Invalid planner strategy "densest"/);
    await setStrategy('random');
  });

  it.each([{ state: 'spread' }, { state: '' }, {}, { state: 3 }])('refuses %j with 400', async (body) => {
    const r = await t.api.request('PUT', '/1.0/planner', body);
    expect(r.status).toBe(400);
    expect(r.envelope).toMatchObject({ type: 'error', error_code: 400 });
    expect(await t.api.get('/1.0/planner')).toBe('random');
  });
});

describe('placement with lxc launch', () => {
  it('scatter spreads six concurrent launches two per host', async () => {
    const before = await instancesPerHost();
    await setStrategy('scatter');
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => lxcOk(t, ['launch', 'mgr:busybox', `mgr:in-ps${i + 1}`])),
    );
    const placed = await locationCounts('in-ps');
    expect(placed).toEqual(scatterExpectation(before, 6));
    expect(await countsByHost(t.hosts, 'in-ps')).toEqual(placed);
  });

  it('scatter spreads one launch at a time too', async () => {
    const before = await instancesPerHost();
    await setStrategy('scatter');
    for (let i = 1; i <= 6; i++) await lxcOk(t, ['init', 'mgr:busybox', `mgr:in-pq${i}`]);
    expect(await locationCounts('in-pq')).toEqual(scatterExpectation(before, 6));
  });

  it('gather puts every launch on the densest host', async () => {
    const before = await instancesPerHost();
    await setStrategy('gather');
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => lxcOk(t, ['launch', 'mgr:busybox', `mgr:in-pg${i + 1}`])),
    );
    const placed = await locationCounts('in-pg');
    expect(placed).toEqual(gatherExpectation(before, 6));
    expect(await countsByHost(t.hosts, 'in-pg')).toEqual(placed);
  });

  it('--target wins over the strategy', async () => {
    await setStrategy('gather');
    await lxcOk(t, ['launch', 'mgr:busybox', 'mgr:in-pt1', '--target', 'h2']);
    await lxcOk(t, ['launch', 'mgr:busybox', 'mgr:in-pt2', '--target', 'h3']);
    expect(await locationCounts('in-pt')).toEqual({ h1: 0, h2: 1, h3: 1 });
  });

  it('random uses more than one host over 30 creates', async () => {
    await setStrategy('random');
    const started = Date.now();
    // `lxc init`: placement is the same as for launch, and stopped instances are quick to clean up.
    await pooled(30, 6, async (i) => {
      await lxcOk(t, ['init', 'mgr:busybox', `mgr:in-pr${i + 1}`]);
    });
    const elapsed = Date.now() - started;
    console.log(`[planner] 30 lxc init through the manager (6 at a time): ${elapsed} ms`);
    const counts = await locationCounts('in-pr');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(30);
    expect(Object.values(counts).filter((n) => n > 0).length).toBeGreaterThan(1);
    expect(await countsByHost(t.hosts, 'in-pr')).toEqual(counts);
  });
});

describe('placement through the API', () => {
  it('scatter accounts for placements in flight: six concurrent creates land two per host', async () => {
    const before = await instancesPerHost();
    await setStrategy('scatter');
    const ops = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const { metadata } = await t.api.call<LxdOperation>('POST', '/1.0/instances', {
          name: `in-pc${i + 1}`,
          source: { type: 'image', alias: 'busybox' },
        });
        return metadata;
      }),
    );
    for (const op of ops) expect((await t.api.waitOperation(op.id)).status).toBe('Success');
    expect(await countsByHost(t.hosts, 'in-pc')).toEqual(scatterExpectation(before, 6));
  });
});
