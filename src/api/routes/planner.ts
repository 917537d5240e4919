import { BadRequestError } from '../../errors/index.js';
import { isStrategy, readStrategy, STRATEGIES, writeStrategy } from '../../planner/index.js';
import { sendSync, type RouteModule } from '../app.js';
import { bodyObject } from '../query.js';

/**
 * Manager extension: the planner's strategy. `GET` returns it in `metadata`; `PUT` (and the seed's
 * `POST`) take `{"state": "random" | "scatter" | "gather"}`.
 */
export const plannerRoutes: RouteModule = (app, ctx) => {
  app.get('/1.0/planner', async (_request, reply) => {
    return sendSync(reply, await readStrategy(ctx.store));
  });

  for (const method of ['PUT', 'POST'] as const) {
    app.route({
      method,
      url: '/1.0/planner',
      handler: async (request, reply) => {
        const state = bodyObject(request.body).state;
        if (!isStrategy(state)) {
          throw new BadRequestError(
            `Invalid planner strategy ${JSON.stringify(state ?? null)}: use one of ${STRATEGIES.join(', ')}`,
          );
        }
        await writeStrategy(ctx.store, state);
        ctx.log.info({ strategy: state }, 'planner strategy changed');
        return sendSync(reply, null);
      },
    });
  }
};
