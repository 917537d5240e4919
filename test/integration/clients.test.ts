// Real LXD clients other than `lxc` against the manager's unix socket: pylxd 2.2.10 (legacy
// /1.0/containers paths, create by alias) and lxd-benchmark 5.0.2.
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestManager, type TestManager } from './harness.js';
import {
  cleanupPrefixed,
  countsByHost,
  hostHolding,
  namesOn,
  scatterExpectation,
} from './instance-helpers.js';

const run = promisify(execFile);
let t: TestManager;

beforeAll(async () => {
  t = await startTestManager();
});

afterAll(async () => {
  try {
    await cleanupPrefixed(t.hosts, 'in-');
    await cleanupPrefixed(t.hosts, 'benchmark-');
  } finally {
    await t.stop();
  }
});

/** Runs a pylxd script with Debian's python (pylxd 2.2.10) against the manager's unix socket. */
async function pylxd(script: string): Promise<string> {
  const { stdout } = await run('/usr/bin/python3', ['-c', script], {
    env: { ...process.env, LXD_DIR: t.dataDir },
    timeout: 120_000,
  });
  return stdout.trim();
}

describe('pylxd 2.2.10 over the unix socket', () => {
  it('creates a container by alias through /1.0/containers, starts, stops and deletes it', async () => {
    const created = await pylxd(`
import pylxd
client = pylxd.Client()
assert client.trusted, 'not trusted'
c = client.containers.create({'name': 'in-py1', 'source': {'type': 'image', 'alias': 'busybox'}}, wait=True)
c.start(wait=True)
c.sync()
print(c.status, c.location, 'in-py1' in [x.name for x in client.containers.all()])
`);
    const host = await hostHolding(t.hosts, 'in-py1');
    expect(created).toBe(`Running ${host} True`);

    const removed = await pylxd(`
import pylxd
client = pylxd.Client()
c = client.containers.get('in-py1')
c.stop(force=True, wait=True)
c.sync()
status = c.status
c.delete(wait=True)
print(status, client.containers.exists('in-py1'))
`);
    expect(removed).toBe('Stopped False');
    for (const h of t.hosts) expect(await namesOn(h)).not.toContain('in-py1');
  });
});

/** Containers named benchmark-* running anywhere on this machine (any LXD daemon). */
async function runningBenchmarks(): Promise<string[]> {
  const entries = await readdir('/sys/fs/cgroup/pids').catch(() => [] as string[]);
  return entries.filter((e) => e.startsWith('lxc.payload.benchmark-'));
}

describe('lxd-benchmark 5.0.2 over the unix socket', () => {
  it('launches 12 containers spread over the hosts by the planner, then deletes them', async () => {
    // lxd-benchmark has no name prefix: wait until no other daemon on this machine runs benchmark-*.
    await eventually(async () => (await runningBenchmarks()).length === 0, { timeoutMs: 120_000 });
    await t.api.call('PUT', '/1.0/planner', { state: 'scatter' });
    const before = await countsByHost(t.hosts, '');
    const env = { ...process.env, LXD_DIR: t.dataDir };

    const started = Date.now();
    const launched = await run('lxd-benchmark', ['launch', '--count', '12', 'busybox'], {
      env,
      timeout: 300_000,
    });
    const launchMs = Date.now() - started;
    console.log(`[clients] lxd-benchmark launch --count 12 through the manager: ${launchMs} ms`);
    expect(launched.stdout).toMatch(/Found image in local store/);
    // 4/4/4 on an empty fleet.
    expect(await countsByHost(t.hosts, 'benchmark-')).toEqual(scatterExpectation(before, 12));
    const listed = await t.api.get<
      { name: string; status: string; location: string; config: Record<string, string> }[]
    >('/1.0/containers', { query: { recursion: '1' } });
    const benchmark = listed.filter((c) => c.config['user.lxd-benchmark'] === 'true');
    expect(benchmark).toHaveLength(12);
    for (const c of benchmark) expect(c.status).toBe('Running');

    await run('lxd-benchmark', ['delete'], { env, timeout: 300_000 });
    expect(await countsByHost(t.hosts, 'benchmark-')).toEqual({ h1: 0, h2: 0, h3: 0 });
  });
});
