import { describe, expect, it } from 'vitest';
import {
  describeRejection,
  isStrategy,
  parseMemoryLimit,
  place,
  score,
  type Candidate,
  type Placement,
  type PlacementRequest,
} from './planner.js';
import { readStrategy, writeStrategy, type StrategyStore } from './settings.js';

const GiB = 2 ** 30;

function host(name: string, over: Partial<Candidate> = {}): Candidate {
  return {
    name,
    status: 'Online',
    architectures: ['x86_64', 'i686'],
    cpus: 4,
    memory: { total: 8 * GiB, used: 0 },
    instances: 0,
    ...over,
  };
}

function placedOn(p: Placement): string | undefined {
  return p.kind === 'placed' ? p.host : undefined;
}

describe('score', () => {
  it.each([
    { what: 'x/y + (z/y)·(x/y) with one instance', x: 100, y: 1, z: 4, expected: 100 + 4 * 100 },
    { what: 'divides by the instances', x: 100, y: 2, z: 4, expected: 50 + 2 * 50 },
    { what: 'counts 0 instances as 1', x: 100, y: 0, z: 4, expected: 500 },
    { what: 'counts 0 CPUs as 1', x: 100, y: 1, z: 0, expected: 200 },
    { what: 'counts negative CPUs as 1', x: 100, y: 1, z: -3, expected: 200 },
    { what: 'is 0 without free memory', x: 0, y: 3, z: 8, expected: 0 },
    { what: 'treats negative free memory as none', x: -5, y: 1, z: 1, expected: 0 },
  ])('$what', ({ x, y, z, expected }) => {
    expect(score(x, y, z)).toBeCloseTo(expected);
  });
});

describe('place', () => {
  it.each<{ what: string; hosts: Candidate[]; req: PlacementRequest; expected: string }>([
    {
      what: 'scatter picks the host with the most free memory per instance',
      hosts: [host('h1', { instances: 3 }), host('h2', { instances: 1 }), host('h3', { instances: 2 })],
      req: { strategy: 'scatter' },
      expected: 'h2',
    },
    {
      what: 'gather picks the densest host',
      hosts: [host('h1', { instances: 3 }), host('h2', { instances: 1 }), host('h3', { instances: 2 })],
      req: { strategy: 'gather' },
      expected: 'h1',
    },
    {
      what: 'scatter weighs CPUs: more CPUs win at equal memory and instances',
      hosts: [host('h1', { cpus: 2 }), host('h2', { cpus: 16 }), host('h3', { cpus: 4 })],
      req: { strategy: 'scatter' },
      expected: 'h2',
    },
    {
      what: 'scatter weighs free memory, not total memory',
      hosts: [
        host('h1', { memory: { total: 64 * GiB, used: 63 * GiB } }),
        host('h2', { memory: { total: 8 * GiB, used: 1 * GiB } }),
      ],
      req: { strategy: 'scatter' },
      expected: 'h2',
    },
    {
      what: 'scatter breaks the 0-versus-1 instance tie towards the emptier host',
      hosts: [host('h1', { instances: 1 }), host('h2', { instances: 0 }), host('h3', { instances: 1 })],
      req: { strategy: 'scatter' },
      expected: 'h2',
    },
    {
      what: 'gather breaks the 0-versus-1 instance tie towards the fuller host',
      hosts: [host('h1', { instances: 0 }), host('h2', { instances: 0 }), host('h3', { instances: 1 })],
      req: { strategy: 'gather' },
      expected: 'h3',
    },
    {
      what: 'scatter treats memory readings within 1% as a tie',
      hosts: [
        host('h1', { instances: 1, memory: { total: 8 * GiB, used: 0.01 * GiB } }),
        host('h2', { instances: 0, memory: { total: 8 * GiB, used: 0.02 * GiB } }),
      ],
      req: { strategy: 'scatter' },
      expected: 'h2',
    },
    {
      what: 'exact ties go to the first name',
      hosts: [host('h3'), host('h1'), host('h2')],
      req: { strategy: 'scatter' },
      expected: 'h1',
    },
    {
      what: 'offline hosts are skipped',
      hosts: [host('h1', { status: 'Offline' }), host('h2', { instances: 5 })],
      req: { strategy: 'scatter' },
      expected: 'h2',
    },
    {
      what: 'evacuated hosts are skipped',
      hosts: [host('h1', { status: 'Evacuated', instances: 9 }), host('h2')],
      req: { strategy: 'gather' },
      expected: 'h2',
    },
    {
      what: 'hosts without the requested architecture are skipped',
      hosts: [host('h1', { architectures: ['aarch64'] }), host('h2', { instances: 4 })],
      req: { strategy: 'scatter', architecture: 'x86_64' },
      expected: 'h2',
    },
    {
      what: 'hosts without enough free memory for limits.memory are skipped',
      hosts: [host('h1', { memory: { total: 8 * GiB, used: 7.5 * GiB } }), host('h2', { instances: 4 })],
      req: { strategy: 'gather', memory: 1 * GiB },
      expected: 'h2',
    },
    {
      what: 'a target wins over the strategy',
      hosts: [host('h1'), host('h2', { instances: 10 }), host('h3')],
      req: { strategy: 'scatter', target: 'h2' },
      expected: 'h2',
    },
  ])('$what', ({ hosts, req, expected }) => {
    expect(place(hosts, req)).toEqual({ kind: 'placed', host: expected });
  });

  it.each([
    { r: 0, expected: 'h1' },
    { r: 0.34, expected: 'h2' },
    { r: 0.99, expected: 'h3' },
  ])('random uses the injected randomness ($r → $expected)', ({ r, expected }) => {
    const hosts = [host('h1'), host('h2'), host('h3')];
    expect(placedOn(place(hosts, { strategy: 'random' }, { random: () => r }))).toBe(expected);
  });

  it('random only picks among eligible hosts', () => {
    const hosts = [host('h1', { status: 'Offline' }), host('h2'), host('h3', { status: 'Evacuated' })];
    for (const r of [0, 0.5, 0.999]) {
      expect(placedOn(place(hosts, { strategy: 'random' }, { random: () => r }))).toBe('h2');
    }
  });

  it('spreads six placements two per host when each placement is counted before the next', () => {
    const hosts = [host('h1'), host('h2'), host('h3')];
    for (let i = 0; i < 6; i++) {
      const chosen = placedOn(place(hosts, { strategy: 'scatter' }));
      const h = hosts.find((c) => c.name === chosen);
      if (!h) throw new Error('not placed');
      h.instances += 1;
    }
    expect(hosts.map((h) => h.instances)).toEqual([2, 2, 2]);
  });

  it('gathers six placements on one host', () => {
    const hosts = [host('h1'), host('h2'), host('h3')];
    for (let i = 0; i < 6; i++) {
      const h = hosts.find((c) => c.name === placedOn(place(hosts, { strategy: 'gather' })));
      if (!h) throw new Error('not placed');
      h.instances += 1;
    }
    expect(hosts.map((h) => h.instances)).toEqual([6, 0, 0]);
  });

  it.each<{ what: string; hosts: Candidate[]; req: PlacementRequest; reasons: string[] }>([
    {
      what: 'an unknown target',
      hosts: [host('h1')],
      req: { strategy: 'random', target: 'nope' },
      reasons: ['no cluster member named "nope"'],
    },
    {
      what: 'an offline target',
      hosts: [host('h1'), host('h2', { status: 'Offline' })],
      req: { strategy: 'random', target: 'h2' },
      reasons: ['h2 is offline'],
    },
    {
      what: 'a target of the wrong architecture',
      hosts: [host('h1', { architectures: ['aarch64'] })],
      req: { strategy: 'random', target: 'h1', architecture: 'x86_64' },
      reasons: ['h1 does not support architecture x86_64 (has aarch64)'],
    },
    {
      what: 'no eligible host, with every host named',
      hosts: [host('h2', { status: 'Evacuated' }), host('h1', { status: 'Offline' })],
      req: { strategy: 'scatter' },
      reasons: ['h1 is offline', 'h2 is evacuated'],
    },
    { what: 'an empty fleet', hosts: [], req: { strategy: 'gather' }, reasons: ['the manager has no hosts'] },
  ])('rejects $what', ({ hosts, req, reasons }) => {
    const p = place(hosts, req);
    expect(p.kind).toBe('rejected');
    if (p.kind === 'rejected') expect(p.reasons.map(describeRejection)).toEqual(reasons);
  });
});

describe('strategy names and settings', () => {
  it.each([
    ['random', true],
    ['scatter', true],
    ['gather', true],
    ['Scatter', false],
    ['', false],
    [3, false],
  ])('%j is a strategy: %s', (value, expected) => {
    expect(isStrategy(value)).toBe(expected);
  });

  it('reads random when nothing or something unknown is stored, and what was written otherwise', async () => {
    const config = new Map<string, string>();
    const store: StrategyStore = {
      getConfig: (key) => Promise.resolve(config.get(key)),
      setConfig: (key, value) => {
        if (value === undefined) config.delete(key);
        else config.set(key, value);
        return Promise.resolve();
      },
    };
    expect(await readStrategy(store)).toBe('random');
    config.set('planner.strategy', 'bogus');
    expect(await readStrategy(store)).toBe('random');
    await writeStrategy(store, 'gather');
    expect(await readStrategy(store)).toBe('gather');
  });
});

describe('parseMemoryLimit', () => {
  it.each([
    ['512MB', 512e6],
    ['1GiB', GiB],
    ['64KiB', 65536],
    ['1.5GB', 1.5e9],
    ['2048', 2048],
    ['50%', undefined],
    ['lots', undefined],
    [undefined, undefined],
  ])('%j → %j', (value, expected) => {
    expect(parseMemoryLimit(value)).toBe(expected);
  });
});
