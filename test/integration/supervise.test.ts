import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalFleet, type DaemonExitReport, type LocalFleet } from '../../src/localfleet/index.js';
import { eventually } from './harness.js';

// A fleet of its own (one host, no image) a few ports above the shared one, so killing its daemon
// cannot disturb other tests.
const basePort = Number(process.env.LXDPM_FLEET_BASE_PORT ?? 18440) + 20;
let fleet: LocalFleet;

beforeAll(async () => {
  fleet = await startLocalFleet({ count: 1, basePort, importImage: false });
});

afterAll(async () => {
  await fleet.teardown();
});

describe('fleet supervision', () => {
  it('reports a daemon that dies unasked with its last words and starts it again', async () => {
    const host = fleet.hosts[0];
    const before = host?.pid();
    if (host === undefined || before === undefined) throw new Error('no daemon');
    const reports: DaemonExitReport[] = [];
    const unwatch = fleet.supervise((r) => reports.push(r), 100);
    try {
      // The Go runtime prints "SIGABRT: abort" and every goroutine's stack, then exits, as on a crash.
      process.kill(before, 'SIGABRT');
      await eventually(async () => Promise.resolve(reports.length > 0), { timeoutMs: 60_000 });
      expect(reports).toEqual([
        {
          host: 'h1',
          pid: before,
          lastWords: expect.stringContaining('SIGABRT: abort') as unknown,
          restart: 'restarted',
        },
      ]);
      expect(reports[0]?.lastWords).toContain('goroutine');
      // The restarted daemon answers on the same socket and address.
      expect(host.pid()).toBeTypeOf('number');
      expect(host.pid()).not.toBe(before);
      expect((await host.lxc(['config', 'get', 'core.https_address'])).stdout.trim()).toBe(host.address);
    } finally {
      unwatch();
    }
  });

  it('leaves a daemon alone that was stopped on purpose', async () => {
    const host = fleet.hosts[0];
    if (host === undefined) throw new Error('no host');
    const reports: DaemonExitReport[] = [];
    const unwatch = fleet.supervise((r) => reports.push(r), 100);
    try {
      await host.stop();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(reports).toEqual([]);
      expect(host.pid()).toBeUndefined();
      expect((await host.lxc(['info'])).code).not.toBe(0);
    } finally {
      unwatch();
      await host.start();
    }
  });
});
