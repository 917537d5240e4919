import type { Fleet, LocationIndex } from '../fleet/index.js';
import type { LxdInstance } from '../lxd/index.js';
import { matchesFilter, parseFilter } from './filter.js';

/** The two URL spaces LXD serves instances under; `/1.0/containers` lists containers only. */
export type InstancePrefix = '/1.0/instances' | '/1.0/containers';

export interface ListRequest {
  prefix: InstancePrefix;
  recursion: number;
  /** LXD's server-side `filter=`: applied by each host, and here to the instances of hosts that are down. */
  filter?: string;
  /** `instance-type=container|virtual-machine`. */
  instanceType?: string;
  timeoutMs: number;
}

export interface ListResult {
  /** URLs (recursion 0) or objects (recursion 1 and 2), sorted by name. */
  items: (string | Record<string, unknown>)[];
  /** Hosts whose instances come from the index because they did not answer. */
  unavailable: string[];
}

/** LXD's status for an instance on a cluster member that cannot be reached. */
export const UNREACHABLE_STATUS = { status: 'Error', status_code: 112 } as const;

function itemName(item: string | Record<string, unknown>): string {
  if (typeof item === 'string') return decodeURIComponent(item.slice(item.lastIndexOf('/') + 1));
  return typeof item.name === 'string' ? item.name : '';
}

/** The recursion=1 view of an instance object, as stored in the index. */
export function storedView(instance: Record<string, unknown>): Record<string, unknown> {
  // State, snapshots and backups (recursion=2) change all the time and are not kept.
  const { state: _state, snapshots: _snapshots, backups: _backups, ...view } = instance;
  return view;
}

/**
 * Lists instances across the fleet: every reachable host in parallel, each with its own timeout. A host
 * that is offline or does not answer does not fail the list: its instances come from the location
 * index's last known objects, marked as LXD marks instances on an unreachable cluster member (status
 * `Error`, 112). Answers refresh the index's last known objects.
 */
export async function listInstances(
  fleet: Fleet,
  locations: LocationIndex,
  req: ListRequest,
): Promise<ListResult> {
  // Checked before any host is asked: a bad filter is the caller's error, not an unreachable fleet.
  const clauses = req.filter === undefined || req.filter === '' ? undefined : parseFilter(req.filter);
  const hosts = fleet.list();
  const query: Record<string, string | undefined> = {
    recursion: String(Math.min(req.recursion, 2)),
    filter: req.filter,
    'instance-type': req.instanceType,
  };
  const answers = await Promise.all(
    hosts.map(async (h) => {
      if (h.status === 'Offline') return { host: h.name, items: undefined };
      try {
        const items = await fleet
          .client(h.name)
          .get<(string | Record<string, unknown>)[]>(req.prefix, { query, timeoutMs: req.timeoutMs });
        return { host: h.name, items };
      } catch {
        return { host: h.name, items: undefined };
      }
    }),
  );

  const items: (string | Record<string, unknown>)[] = [];
  const unavailable: string[] = [];
  for (const { host, items: hostItems } of answers) {
    if (hostItems === undefined) {
      unavailable.push(host);
      continue;
    }
    for (const item of hostItems) {
      if (typeof item === 'string') {
        items.push(item);
        continue;
      }
      const located = { ...item, location: host };
      items.push(located);
      refresh(locations, host, located);
    }
  }

  for (const host of unavailable) {
    for (const rec of locations.list()) {
      if (rec.host !== host || rec.state !== 'present') continue;
      const known = rec.snapshot as Partial<LxdInstance>;
      const type = typeof known.type === 'string' ? known.type : 'container';
      if (req.prefix === '/1.0/containers' && type !== 'container') continue;
      if (req.instanceType !== undefined && req.instanceType !== '' && type !== req.instanceType) continue;
      const entry: Record<string, unknown> = {
        ...storedView(rec.snapshot),
        name: rec.name,
        project: 'default',
        location: host,
        ...UNREACHABLE_STATUS,
      };
      if (clauses !== undefined && !matchesFilter(entry, clauses)) continue;
      if (req.recursion === 0) {
        items.push(`${req.prefix}/${encodeURIComponent(rec.name)}`);
        continue;
      }
      if (req.recursion >= 2) Object.assign(entry, { state: null, snapshots: null, backups: null });
      items.push(entry);
    }
  }

  items.sort((a, b) => itemName(a).localeCompare(itemName(b)));
  return { items, unavailable };
}

/** Stores an instance's latest object as its last known state, when the index places it on that host. */
export function refresh(locations: LocationIndex, host: string, instance: Record<string, unknown>): void {
  const name = instance.name;
  if (typeof name !== 'string') return;
  const rec = locations.get(name);
  if (rec?.host !== host || rec.state !== 'present') return;
  const view = storedView(instance);
  if (JSON.stringify(view) === JSON.stringify(rec.snapshot)) return;
  locations.remember(name, view);
}
