import { describe, expect, it } from 'vitest';
import { mergeResources } from './resources.js';

describe('mergeResources', () => {
  it('adds up CPUs and memory of every host', () => {
    const merged = mergeResources([
      {
        cpu: { architecture: 'x86_64', sockets: [{ socket: 0 }], total: 2 },
        memory: { total: 100, used: 40 },
      },
      {
        cpu: { architecture: 'x86_64', sockets: [{ socket: 0 }], total: 4 },
        memory: { total: 300, used: 60 },
      },
    ]);
    expect(merged.cpu).toEqual({ architecture: 'x86_64', sockets: [{ socket: 0 }, { socket: 0 }], total: 6 });
    expect(merged.memory).toEqual({ total: 400, used: 100 });
  });

  it('gives an empty machine for no hosts', () => {
    expect(mergeResources([]).cpu?.total).toBe(0);
  });
});
