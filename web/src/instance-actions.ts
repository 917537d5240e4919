import { api, instancePath } from './api';
import type { Instance } from './types';

export type InstanceAction = 'start' | 'stop' | 'restart' | 'force-stop' | 'delete';

export const ACTION_LABELS: Record<InstanceAction, { doing: string; done: string }> = {
  start: { doing: 'Starting', done: 'Started' },
  stop: { doing: 'Stopping', done: 'Stopped' },
  'force-stop': { doing: 'Stopping', done: 'Stopped' },
  restart: { doing: 'Restarting', done: 'Restarted' },
  delete: { doing: 'Deleting', done: 'Deleted' },
};

/** Runs one action on one instance to the end (`PUT …/state`, or stop-then-`DELETE`). */
export async function runAction(
  instance: Pick<Instance, 'name' | 'status'>,
  action: InstanceAction,
): Promise<void> {
  const path = instancePath(instance.name);
  switch (action) {
    case 'start':
      await api.run('PUT', `${path}/state`, { action: 'start', timeout: 30 });
      return;
    case 'stop':
      await api.run('PUT', `${path}/state`, { action: 'stop', timeout: 30, force: false });
      return;
    case 'force-stop':
      await api.run('PUT', `${path}/state`, { action: 'stop', timeout: 30, force: true });
      return;
    case 'restart':
      await api.run('PUT', `${path}/state`, { action: 'restart', timeout: 30, force: false });
      return;
    case 'delete':
      // LXD refuses to delete a running instance: the confirmation already said it will be stopped.
      if (instance.status !== 'Stopped')
        await api.run('PUT', `${path}/state`, { action: 'stop', timeout: 30, force: true });
      await api.run('DELETE', path);
      return;
    default: {
      const never: never = action;
      throw new Error(`unknown action ${String(never)}`);
    }
  }
}

export function ipv4Of(i: Instance): string[] {
  const out: string[] = [];
  for (const [nic, net] of Object.entries(i.state?.network ?? {})) {
    if (nic === 'lo') continue;
    for (const a of net.addresses ?? []) if (a.family === 'inet' && a.scope === 'global') out.push(a.address);
  }
  return out;
}

export function imageOf(i: Instance): string {
  const c = i.config ?? {};
  const described = c['image.description'];
  if (described !== undefined && described !== '') return described;
  const os = [c['image.os'], c['image.release']].filter((x) => x !== undefined && x !== '').join(' ');
  if (os !== '') return os;
  const base = c['volatile.base_image'];
  return base !== undefined && base !== '' ? base.slice(0, 12) : '—';
}
