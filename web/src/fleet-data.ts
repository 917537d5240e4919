import { useRef } from 'react';
import { api } from './api';
import type { Host, Instance } from './types';

export const loadHosts = () => api.get<Host[]>('/1.0/hosts?recursion=1');
export const loadInstances = () => api.get<Instance[]>('/1.0/instances?recursion=2');

/** Instances per host, by the `location` LXD gives every instance of a cluster. */
export function countByHost(
  instances: Instance[] | undefined,
): Map<string, { total: number; running: number }> {
  const counts = new Map<string, { total: number; running: number }>();
  for (const i of instances ?? []) {
    const c = counts.get(i.location) ?? { total: 0, running: 0 };
    c.total++;
    if (i.status === 'Running') c.running++;
    counts.set(i.location, c);
  }
  return counts;
}

/**
 * CPU use of the instances on each host, as a fraction of the host's CPUs: LXD reports each instance's
 * cumulative CPU time (ns), so two samples give a rate. Undefined until there are two samples.
 */
export function useCpuUse(instances: Instance[] | undefined, hosts: Host[] | undefined): Map<string, number> {
  const previous = useRef<{ at: number; usage: Map<string, number> } | undefined>(undefined);
  const result = useRef(new Map<string, number>());
  const seen = useRef<Instance[] | undefined>(undefined);
  if (instances === undefined || hosts === undefined || seen.current === instances) return result.current;
  seen.current = instances;
  const now = performance.now();
  const usage = new Map(instances.map((i) => [i.name, i.state?.cpu?.usage ?? 0]));
  const before = previous.current;
  previous.current = { at: now, usage };
  if (before === undefined || now - before.at < 500) return result.current;
  const seconds = (now - before.at) / 1000;
  const next = new Map<string, number>();
  for (const h of hosts) {
    let ns = 0;
    for (const i of instances) {
      if (i.location !== h.name) continue;
      const was = before.usage.get(i.name);
      const is = usage.get(i.name) ?? 0;
      if (was !== undefined && is >= was) ns += is - was;
    }
    next.set(h.name, ns / 1e9 / seconds / Math.max(1, h.cpus));
  }
  result.current = next;
  return next;
}
