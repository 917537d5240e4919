import { describe, expect, it } from 'vitest';
import { storedView } from './listing.js';
import { sourcePath } from './migration.js';

describe('sourcePath', () => {
  it.each([
    ['c1', '/1.0/instances/c1'],
    ['c1/snap0', '/1.0/instances/c1/snapshots/snap0'],
    ['my c', '/1.0/instances/my%20c'],
  ])('names the migration source of %j as %j', (source, path) => {
    expect(sourcePath(source)).toBe(path);
  });
});

describe('storedView', () => {
  it('keeps the instance object and drops what recursion=2 adds', () => {
    const full = {
      name: 'c1',
      status: 'Running',
      config: { a: 'b' },
      state: { pid: 1 },
      snapshots: [],
      backups: [],
    };
    expect(storedView(full)).toEqual({ name: 'c1', status: 'Running', config: { a: 'b' } });
  });
});
