import { BadRequestError, NotFoundError } from '../../errors/index.js';
import { sendSync, type RouteModule } from '../app.js';
import { relay } from '../proxy.js';
import { queryString } from '../query.js';

interface PoolResources {
  space: { used: number; total: number };
  inodes?: { used: number; total: number };
}

/**
 * `GET /1.0/storage-pools/NAME/resources[?target=HOST]`: a pool's space on one host, or, without a
 * target, added up over the online hosts (each host has its own pool of that name).
 */
export const storagePoolRoutes: RouteModule = (app, ctx) => {
  app.get<{ Params: { name: string } }>('/1.0/storage-pools/:name/resources', async (request, reply) => {
    const pool = encodeURIComponent(request.params.name);
    const target = queryString(request.query, 'target');
    if (target !== undefined) {
      if (!ctx.fleet.has(target)) throw new BadRequestError(`Cluster member "${target}" not found`);
      await relay(ctx, request, reply, target, 'GET', `/1.0/storage-pools/${pool}/resources`);
      return reply;
    }
    const results = await Promise.allSettled(
      ctx.fleet
        .online()
        .map((h) => ctx.fleet.client(h.name).get<PoolResources>(`/1.0/storage-pools/${pool}/resources`)),
    );
    const found = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (found.length === 0) throw new NotFoundError('Storage pool not found');
    const sum = (pick: (r: PoolResources) => { used: number; total: number } | undefined) => ({
      used: found.reduce((n, r) => n + (pick(r)?.used ?? 0), 0),
      total: found.reduce((n, r) => n + (pick(r)?.total ?? 0), 0),
    });
    return sendSync(reply, { space: sum((r) => r.space), inodes: sum((r) => r.inodes) });
  });
};
