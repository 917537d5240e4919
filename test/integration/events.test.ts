// Operations and events from every host through the manager: `lxc monitor` sees host events with the
// host as location, `lxc operation list/show/delete` reach operations wherever they live.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { HostClient, type LxdEvent, type LxdOperation } from '../../src/lxd/index.js';
import { eventually, startTestManager, type TestManager } from './harness.js';

/** Collects the operation events a websocket receives, as "id status updated_at" lines. */
function collectOperationEvents(socket: WebSocket): string[] {
  const seen: string[] = [];
  socket.on('message', (data: Buffer) => {
    const op = (JSON.parse(data.toString('utf8')) as LxdEvent).metadata as LxdOperation;
    seen.push(`${op.id} ${op.status} ${op.updated_at}`);
  });
  return seen;
}

describe('operations and events across hosts', () => {
  let t: TestManager;

  beforeAll(async () => {
    t = await startTestManager();
  });
  afterAll(async () => {
    await t.hosts[1]?.lxc(['delete', '-f', 'ev-c1']);
    await t.lxc(['delete', '-f', 'mgr:ev-c2']);
    await t.stop();
  });

  it('lxc monitor shows a host lifecycle event with the host as location', async () => {
    const monitor = spawn('lxc', ['monitor', 'mgr:', '--type=lifecycle'], {
      env: { ...process.env, LXD_CONF: t.confDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    monitor.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    try {
      // The monitor is listening once the manager's event hub has a subscriber.
      await eventually(() => Promise.resolve(t.manager.events.size > 0));
      await eventually(async () => {
        const h2 = t.hosts[1];
        if (!h2) throw new Error('fleet needs h2');
        const made = await h2.lxc(['init', 'busybox', 'ev-c1']);
        return made.code === 0 || made.stderr.includes('already exists');
      });
      const seen = await eventually(
        () => {
          const events = output
            .split('\n\n')
            .filter((e) => e.includes('instance-created') && e.includes('ev-c1'));
          return Promise.resolve(events[0]);
        },
        { timeoutMs: 20_000 },
      );
      expect(seen).toContain('location: h2');
      expect(seen).toContain('source: /1.0/instances/ev-c1');
    } finally {
      monitor.kill('SIGTERM');
    }
  });

  it('lists, shows and cancels operations that live on a host', async () => {
    const h1 = t.hosts[0];
    if (!h1) throw new Error('fleet needs h1');
    // A pending trust token is a long-running operation on h1.
    const made = await h1.lxc(['config', 'trust', 'add', '--name', `ev-token-${Date.now()}`, '--quiet']);
    expect(made.code).toBe(0);
    const direct = await h1.lxc(['operation', 'list', '--format', 'csv']);
    const id = direct.stdout
      .split('\n')
      .find((line) => line.includes('TOKEN') && line.includes('RUNNING'))
      ?.split(',')[0];
    expect(id).toBeDefined();
    if (id === undefined) return;

    const listed = await t.lxc(['operation', 'list', 'mgr:', '--format', 'csv']);
    expect(listed.code).toBe(0);
    const row = listed.stdout.split('\n').find((line) => line.startsWith(id));
    expect(row).toContain('h1');

    const shown = await t.lxc(['operation', 'show', `mgr:${id}`]);
    expect(shown.stdout).toContain('location: h1');
    expect(shown.stdout).toContain('status: Running');

    const deleted = await t.lxc(['operation', 'delete', `mgr:${id}`]);
    expect(deleted.code).toBe(0);
    const after = await h1.lxc(['operation', 'show', id]);
    expect(after.stdout).toContain('status: Cancelled');
  });

  it('answers 404 for an operation no host knows', async () => {
    const shown = await t.lxc(['operation', 'show', 'mgr:00000000-0000-0000-0000-000000000000']);
    expect(shown.code).not.toBe(0);
    expect(shown.stderr).toContain('Operation not found');
  });

  it('passes every operation event of every host on exactly once', async () => {
    // LXD writes each event to each listener from a goroutine of its own, so two listeners of one host
    // may see its events in different orders; what must match is the set, each event once.
    const direct = t.hosts.map((h) => new HostClient({ name: h.name, url: `unix://${h.socket}` }));
    const sockets = [t.api, ...direct].map((c) => c.websocket('/1.0/events?type=operation'));
    try {
      await Promise.all(sockets.map((s) => once(s, 'open')));
      const [viaManager, ...onHosts] = sockets.map(collectOperationEvents);
      const fromHosts = () => onHosts.flat();
      await t.lxc(['delete', '--force', 'mgr:ev-c2']); // left by a failed first attempt
      expect((await t.lxc(['launch', 'mgr:busybox', 'mgr:ev-c2'])).code).toBe(0);
      expect((await t.lxc(['stop', '--force', 'mgr:ev-c2'])).code).toBe(0);
      const finished = (events: string[]) => events.filter((e) => / Success /.test(e)).length;
      await eventually(() => Promise.resolve(finished(fromHosts()) >= 2 && finished(viaManager ?? []) >= 2));
      await new Promise((resolve) => setTimeout(resolve, 500)); // stragglers of either stream
      expect([...(viaManager ?? [])].sort()).toEqual(fromHosts().sort());
    } finally {
      for (const s of sockets) s.close();
      await Promise.all(direct.map((c) => c.close()));
    }
  });
});
