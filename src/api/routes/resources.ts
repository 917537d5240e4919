import { HostUnavailableError } from '../../errors/index.js';
import { sendSync, type RouteModule } from '../app.js';
import { relay } from '../proxy.js';
import { queryString } from '../query.js';

type Resources = Record<string, unknown> & {
  cpu?: { architecture?: string; sockets?: unknown[]; total?: number };
  memory?: Record<string, unknown>;
};

const SUMMED_MEMORY = ['total', 'used', 'hugepages_total', 'hugepages_used', 'hugepages_size'] as const;

/** Adds up the hosts' resources into one LXD resources object, as if the fleet were one machine. */
export function mergeResources(all: Resources[]): Resources {
  const merged: Resources = {};
  const cpuSockets: unknown[] = [];
  let cpuTotal = 0;
  const memory: Record<string, unknown> = {};
  for (const res of all) {
    cpuSockets.push(...(res.cpu?.sockets ?? []));
    cpuTotal += res.cpu?.total ?? 0;
    for (const key of SUMMED_MEMORY) {
      const value = res.memory?.[key];
      if (typeof value === 'number') memory[key] = ((memory[key] as number | undefined) ?? 0) + value;
    }
    for (const [key, value] of Object.entries(res)) {
      if (key === 'cpu' || key === 'memory') continue;
      merged[key] ??= value;
    }
  }
  merged.cpu = { architecture: all[0]?.cpu?.architecture ?? '', sockets: cpuSockets, total: cpuTotal };
  merged.memory = { ...(all[0]?.memory ?? {}), ...memory };
  return merged;
}

/**
 * `GET /1.0/resources`: one host's with `?target=HOST` (as on an LXD cluster member), otherwise the
 * online hosts' CPUs and memory added up.
 */
export const resourceRoutes: RouteModule = (app, ctx) => {
  app.get('/1.0/resources', async (request, reply) => {
    const target = queryString(request.query, 'target');
    if (target !== undefined)
      await relay(ctx, request, reply, ctx.fleet.get(target).name, 'GET', '/1.0/resources');
    return reply;
    const online = ctx.fleet.online();
    if (online.length === 0) throw new HostUnavailableError('fleet', 'no host is online');
    const all = await Promise.all(
      online.map((h) => ctx.fleet.client(h.name).get<Resources>('/1.0/resources')),
    );
    return sendSync(reply, mergeResources(all));
  });
};
