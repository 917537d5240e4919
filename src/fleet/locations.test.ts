import { describe, expect, it } from 'vitest';
import { createKyselyStore, migrate, openSqlite, type Store } from '../store/index.js';
import type { Fleet } from './fleet.js';
import { LocationIndex } from './locations.js';

async function memoryStore(): Promise<Store> {
  const db = openSqlite(':memory:');
  await migrate(db);
  return createKyselyStore(db);
}

/** A fleet whose hosts report fixed instance lists (the index logic, not LXD, is under test here). */
function fleetOf(instances: Record<string, string[]>): Fleet {
  return {
    online: () => Object.keys(instances).map((name) => ({ name })),
    client: (host: string) => ({
      get: () => Promise.resolve((instances[host] ?? []).map((name) => ({ name, status: 'Running' }))),
    }),
  } as unknown as Fleet;
}

describe('LocationIndex', () => {
  it('lets exactly one of several concurrent reservations of a name through', async () => {
    const index = new LocationIndex({ store: await memoryStore(), fleet: fleetOf({}) });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => index.reserve('c1', 'h1')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(index.countByHost().get('h1')).toBe(1);
  });

  it('finds instances made directly on a host and forgets deleted ones', async () => {
    const hosts = { h1: ['a'], h2: ['b'] };
    const index = new LocationIndex({ store: await memoryStore(), fleet: fleetOf(hosts) });
    await index.rescan();
    expect(index.hostOf('a')).toBe('h1');
    expect(index.hostOf('b')).toBe('h2');
    hosts.h2 = [];
    await index.rescan();
    expect(index.hostOf('b')).toBeUndefined();
  });

  it('reports a name present on two hosts and keeps the host it knew', async () => {
    const hosts = { h1: ['dup'], h2: [] as string[] };
    const index = new LocationIndex({ store: await memoryStore(), fleet: fleetOf(hosts) });
    await index.rescan();
    hosts.h2 = ['dup'];
    await index.rescan();
    expect(index.conflicts()).toEqual([{ name: 'dup', hosts: ['h1', 'h2'] }]);
    expect(index.hostOf('dup')).toBe('h1');
  });

  it('settles reservations left by a manager that stopped mid-create', async () => {
    const store = await memoryStore();
    await store.reserveInstance('made', 'h1');
    await store.reserveInstance('lost', 'h1');
    const index = new LocationIndex({ store, fleet: fleetOf({ h1: ['made'] }) });
    await index.load();
    await index.rescan();
    expect(index.get('made')?.state).toBe('present');
    expect(index.get('lost')).toBeUndefined();
    expect((await store.listInstances()).map((r) => r.name)).toEqual(['made']);
  });

  it('keeps a reservation in flight through a rescan', async () => {
    const index = new LocationIndex({ store: await memoryStore(), fleet: fleetOf({ h1: [] }) });
    await index.reserve('new', 'h1');
    await index.rescan();
    expect(index.get('new')?.state).toBe('reserved');
  });
});
