import { BadRequestError } from '../../errors/index.js';
import type { LxdOperation } from '../../lxd/index.js';
import { sendSync, type RouteModule } from '../app.js';
import type { ApiContext } from '../context.js';
import { located, relay } from '../proxy.js';
import { queryString, recursionOf } from '../query.js';

/** LXD lists operations grouped by lowercase status: `{"running":[…],"success":[…]}`. */
export function groupByStatus<T>(ops: LxdOperation[], map: (op: LxdOperation) => T): Record<string, T[]> {
  const grouped: Record<string, T[]> = {};
  for (const op of ops) (grouped[op.status.toLowerCase()] ??= []).push(map(op));
  return grouped;
}

/** Every host's operations, in parallel; a host that does not answer in time is left out. */
async function hostOperations(ctx: ApiContext): Promise<LxdOperation[]> {
  const lists = await Promise.all(
    ctx.fleet.online().map(async (h) => {
      try {
        const grouped = await ctx.fleet
          .client(h.name)
          .get<Record<string, LxdOperation[]> | null>('/1.0/operations', {
            query: { recursion: '1' },
            timeoutMs: 5000,
          });
        const ops = Object.values(grouped ?? {}).flat();
        for (const op of ops) ctx.opRouter.remember(op.id, h.name);
        return ops.map((op) => located(op, h.name));
      } catch {
        return [];
      }
    }),
  );
  return lists.flat();
}

function timeoutOf(query: unknown): number {
  const raw = queryString(query, 'timeout');
  if (raw === undefined) return -1;
  const timeout = Number.parseInt(raw, 10);
  if (!Number.isFinite(timeout)) throw new BadRequestError(`Invalid timeout "${raw}"`);
  return timeout;
}

/**
 * `/1.0/operations…`: the manager's own operations beside every host's. Host operations keep their ids;
 * the operation router says which host owns each.
 */
export const operationRoutes: RouteModule = (app, ctx) => {
  app.get('/1.0/operations', async (request, reply) => {
    const ops = [...ctx.operations.list(), ...(await hostOperations(ctx))];
    if (recursionOf(request.query) > 0)
      return sendSync(
        reply,
        groupByStatus(ops, (op) => op),
      );
    return sendSync(
      reply,
      groupByStatus(ops, (op) => `/1.0/operations/${op.id}`),
    );
  });

  app.get<{ Params: { id: string } }>('/1.0/operations/:id', async (request, reply) => {
    const { id } = request.params;
    if (ctx.operations.has(id)) return sendSync(reply, ctx.operations.get(id));
    const host = await ctx.opRouter.locate(id);
    await relay(ctx, request, reply, host, 'GET', `/1.0/operations/${encodeURIComponent(id)}`, {
      transform: (op) => located(op, host),
    });
    return reply;
  });

  app.get<{ Params: { id: string } }>('/1.0/operations/:id/wait', async (request, reply) => {
    const { id } = request.params;
    const timeout = timeoutOf(request.query);
    const abort = new AbortController();
    request.raw.once('close', () => {
      abort.abort();
    });
    if (ctx.operations.has(id)) return sendSync(reply, await ctx.operations.wait(id, timeout, abort.signal));
    const host = await ctx.opRouter.locate(id);
    await relay(ctx, request, reply, host, 'GET', `/1.0/operations/${encodeURIComponent(id)}/wait`, {
      query: { timeout: String(timeout) },
      timeoutMs: timeout < 0 ? 0 : timeout * 1000 + 10_000,
      signal: abort.signal,
      transform: (op) => located(op, host),
    });
    return reply;
  });

  app.delete<{ Params: { id: string } }>('/1.0/operations/:id', async (request, reply) => {
    const { id } = request.params;
    if (ctx.operations.has(id)) {
      ctx.operations.cancel(id);
      return sendSync(reply, null);
    }
    const host = await ctx.opRouter.locate(id);
    await relay(ctx, request, reply, host, 'DELETE', `/1.0/operations/${encodeURIComponent(id)}`);
    return reply;
  });
};
