import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpstreamError } from '../errors/index.js';
import { openStore, type Store } from '../store/index.js';
import { FleetStepError, FleetTaskRunner, MANAGER_TARGET, type UndoAction } from './runner.js';

let store: Store;
let undone: string[];
let online: Set<string>;

function runner(): FleetTaskRunner {
  const r = new FleetTaskRunner({ store, isOnline: (h) => online.has(h) });
  r.registerUndo('record', async (target, undo) => {
    if (undo.fail === true && !online.has(`${target}-fixed`)) throw new Error('undo refused');
    undone.push(`${target}:${String(undo.what)}`);
    await Promise.resolve();
  });
  return r;
}

const undo = (what: string, extra: Partial<UndoAction> = {}): UndoAction => ({
  type: 'record',
  what,
  ...extra,
});

beforeEach(async () => {
  store = await openStore(':memory:');
  undone = [];
  online = new Set(['h1', 'h2', 'h3']);
});

afterEach(async () => {
  await store.close();
});

describe('FleetTaskRunner', () => {
  it('keeps every step and marks the task done when the body succeeds', async () => {
    const r = runner();
    const result = await r.run({ kind: 'k', description: 'd', resources: ['image:a'] }, async (task) => {
      await task.parallel(
        ['h1', 'h2'],
        'install',
        (h) => undo(`install-${h}`),
        () => Promise.resolve('ok'),
      );
      return 42;
    });
    expect(result).toBe(42);
    expect(undone).toEqual([]);
    const [task] = await store.listFleetTasks();
    expect(task?.status).toBe('done');
  });

  it('undoes every started step, the store first, then each host in reverse order', async () => {
    const r = runner();
    const failing = r.run({ kind: 'k', description: 'd', resources: ['image:a'] }, async (task) => {
      await task.step('h1', 'install', undo('image'), () => Promise.resolve());
      await task.step('h1', 'alias', undo('alias'), () => Promise.resolve());
      await task.step(MANAGER_TARGET, 'store', undo('record'), () => Promise.resolve());
      await task.step('h2', 'install', undo('image'), () =>
        Promise.reject(new UpstreamError('h2', 'POST', '/1.0/images', 500, 'disk full')),
      );
    });
    await expect(failing).rejects.toThrow('h2: disk full');
    expect(undone[0]).toBe(':record');
    expect(undone.filter((u) => u.startsWith('h1:'))).toEqual(['h1:alias', 'h1:image']);
    // The failed step may have changed something before failing: it is undone too.
    expect(undone).toContain('h2:image');
    expect(undone).toHaveLength(4);
    const [task] = await store.listFleetTasks();
    expect(task?.status).toBe('rolled_back');
  });

  it('undoes a failed step too, unless the host refused an atomic change', async () => {
    const r = runner();
    await expect(
      r.run({ kind: 'k', description: 'd', resources: [] }, async (task) => {
        await task.parallel(
          ['h1', 'h2', 'h3'],
          'put',
          (h) => undo(`put-${h}`),
          async (host, step) => {
            if (host === 'h2') throw new UpstreamError('h2', 'PUT', '/p', 500, 'saved but failed');
            if (host === 'h3') {
              await step.atomic(async () => {
                await Promise.resolve();
                throw new UpstreamError('h3', 'POST', '/p', 409, 'exists');
              });
            }
          },
        );
      }),
    ).rejects.toBeInstanceOf(FleetStepError);
    expect(undone.sort()).toEqual(['h1:put-h1', 'h2:put-h2']);
  });

  it('reports a failure shared by every host without a host name', async () => {
    const r = runner();
    const err = await r
      .run({ kind: 'k', description: 'd', resources: [] }, async (task) => {
        await task.parallel(
          ['h1', 'h2'],
          'create',
          () => null,
          async (host) => {
            await Promise.resolve();
            throw new UpstreamError(host, 'POST', '/p', 400, 'Invalid config key');
          },
        );
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetStepError);
    expect((err as FleetStepError).lxdError).toBe('Invalid config key');
    expect((err as FleetStepError).status).toBe(400);
  });

  it('finishes the rollback of a task a killed manager left unfinished', async () => {
    // What a manager that died mid-task leaves in the journal.
    await store.putFleetTask({
      id: 't1',
      kind: 'k',
      description: 'd',
      resources: ['image:a'],
      status: 'running',
      error: '',
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
    });
    const step = { taskId: 't1', target: 'h1', action: 'install', note: {}, error: '' };
    await store.putFleetTaskStep({ ...step, seq: 1, undo: undo('image'), state: 'done' });
    await store.putFleetTaskStep({ ...step, seq: 2, target: 'h2', undo: undo('image'), state: 'started' });
    await store.putFleetTaskStep({ ...step, seq: 3, target: 'h3', undo: undo('image'), state: 'undone' });

    await runner().recover();
    expect(undone.sort()).toEqual(['h1:image', 'h2:image']);
    const [task] = await store.listFleetTasks();
    expect(task?.status).toBe('rolled_back');
    expect(await store.listFleetTasks({ unfinished: true })).toEqual([]);
  });

  it('waits for an offline host before undoing there, and keeps the resource busy until then', async () => {
    const r = runner();
    online.delete('h2');
    await expect(
      r.run({ kind: 'k', description: 'd', resources: ['image:a'] }, async (task) => {
        await task.step('h1', 'install', undo('image'), () => Promise.resolve());
        await task.step('h2', 'install', undo('image'), () => Promise.resolve());
        throw new Error('later failure');
      }),
    ).rejects.toThrow('later failure');
    expect(undone).toEqual(['h1:image']);
    expect(r.busy().has('image:a')).toBe(true);
    await expect(
      r.run({ kind: 'k', description: 'd', resources: ['image:a'] }, () => Promise.resolve()),
    ).rejects.toThrow(/still being rolled back/);

    online.add('h2');
    await r.retryPending();
    expect(undone).toEqual(['h1:image', 'h2:image']);
    expect(r.busy().has('image:a')).toBe(false);
  });

  it('keeps a resource claimed mid-task busy, so repairs skip it until the task ends', async () => {
    const r = runner();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let claimed!: () => void;
    const claimedYet = new Promise<void>((resolve) => {
      claimed = resolve;
    });
    const task = r.run({ kind: 'k', description: 'publish', resources: [] }, async (t) => {
      await t.claim('image:new');
      claimed();
      await gate;
    });
    await claimedYet;
    expect(r.busy().has('image:new')).toBe(true);
    expect(await r.exclusive(['image:new'], () => Promise.resolve('repaired'))).toBeUndefined();
    const [stored] = await store.listFleetTasks();
    expect(stored?.resources).toEqual(['image:new']);
    release();
    await task;
    expect(await r.exclusive(['image:new'], () => Promise.resolve('repaired'))).toBe('repaired');
  });

  it('runs tasks on the same resource one after the other', async () => {
    const r = runner();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = r.run({ kind: 'k', description: 'first', resources: ['profile:p'] }, async () => {
      order.push('first:start');
      await gate;
      order.push('first:end');
    });
    const second = r.run({ kind: 'k', description: 'second', resources: ['profile:p'] }, async () => {
      order.push('second');
      await Promise.resolve();
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first:start', 'first:end', 'second']);
  });
});
