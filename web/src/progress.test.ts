import { describe, expect, it } from 'vitest';
import { newer } from './events';
import { progressOf } from './progress';
import type { LxdOperation } from './types';

function op(over: Partial<LxdOperation>): LxdOperation {
  return {
    id: 'op',
    class: 'task',
    description: 'Downloading image',
    created_at: '2030-01-01T00:00:00Z',
    updated_at: '2030-01-01T00:00:01Z',
    status: 'Running',
    status_code: 103,
    resources: null,
    metadata: null,
    may_cancel: false,
    err: '',
    location: 'h1',
    ...over,
  };
}

describe('progressOf', () => {
  it.each([
    {
      what: 'reads LXD progress.percent as text',
      metadata: { progress: { percent: '45', stage: 'unpack' } },
      percent: 45,
    },
    { what: 'reads a numeric percent', metadata: { progress: { percent: 7 } }, percent: 7 },
    {
      what: 'reads a *_progress sentence',
      metadata: { create_instance_from_image_unpack_progress: 'Unpack: 81% (4MB/s)' },
      percent: 81,
    },
    { what: 'says nothing without progress', metadata: { fingerprint: 'abc' }, percent: undefined },
  ])('$what', ({ metadata, percent }) => {
    expect(progressOf(op({ metadata }))?.percent).toBe(percent);
  });

  it('reports 100% for a finished operation', () => {
    expect(progressOf(op({ status: 'Success', status_code: 200 }))).toEqual({ percent: 100, text: '100%' });
  });
});

describe('newer', () => {
  const running = op({ updated_at: '2030-01-01T00:00:05Z' });
  it.each([
    {
      what: 'a later update replaces a running operation',
      next: op({ updated_at: '2030-01-01T00:00:06Z' }),
      known: running,
      expected: true,
    },
    {
      what: 'an older update is ignored',
      next: op({ updated_at: '2030-01-01T00:00:04Z' }),
      known: running,
      expected: false,
    },
    {
      // LXD trims trailing zeros of the nanoseconds, so the texts differ in length.
      what: 'a later update with fewer fraction digits replaces an earlier one',
      next: op({ updated_at: '2030-01-01T00:00:05.4268451Z' }),
      known: op({ updated_at: '2030-01-01T00:00:05.426845Z' }),
      expected: true,
    },
    {
      what: 'an earlier update with more fraction digits is ignored',
      next: op({ updated_at: '2030-01-01T00:00:05.42684Z' }),
      known: op({ updated_at: '2030-01-01T00:00:05.4268451Z' }),
      expected: false,
    },
    {
      what: 'times in other zones are compared as instants',
      next: op({ updated_at: '2030-01-01T00:30:05.5+01:00' }),
      known: op({ updated_at: '2030-01-01T00:00:05.4Z' }),
      expected: false,
    },
    {
      what: 'the end replaces a running operation',
      next: op({ status: 'Success', status_code: 200 }),
      known: running,
      expected: true,
    },
    {
      what: 'a replayed running event never revives an ended one',
      next: op({ updated_at: '2030-01-01T00:01:00Z' }),
      known: op({ status: 'Success', status_code: 200 }),
      expected: false,
    },
  ])('$what', ({ next, known, expected }) => {
    expect(newer(next, known)).toBe(expected);
  });
});
