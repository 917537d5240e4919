import { once } from 'node:events';
import type WebSocket from 'ws';
import { NotFoundError } from '../../errors/index.js';
import { openUpstream, relayWebSockets } from '../../relay/index.js';
import type { RouteModule } from '../app.js';

/**
 * `GET /1.0/operations/ID/websocket?secret=…`: the data and control sockets of a host's websocket
 * operation (exec, console, migration), relayed to the host that owns the operation. Reachable without a
 * trusted certificate, as on LXD: the secret authorizes it, and the host checks the secret. Only the
 * secret is passed on; `project` and `target` from the client mean nothing to a standalone host.
 */
export const websocketRoutes: RouteModule = (_app, ctx, ws) => {
  ws.push({
    pattern: /^\/1\.0\/operations\/([^/]+)\/websocket$/,
    public: true,
    handle: async ({ req, url, match, accept }) => {
      const id = operationId(match[1] ?? '');
      const host = await ctx.opRouter.locate(id);
      const secret = url.searchParams.get('secret') ?? '';
      const path = `/1.0/operations/${encodeURIComponent(id)}/websocket?secret=${encodeURIComponent(secret)}`;
      // The host's socket is connected first, so a refusal (wrong secret, finished operation) reaches the
      // client as the host's own HTTP error instead of an accepted socket that closes at once.
      const held = await openUpstream(ctx.fleet.client(host).websocket(path), host, path).catch(
        (err: unknown) => {
          ctx.log.debug({ err, operation: id, host }, 'operation websocket refused by host');
          throw err;
        },
      );
      const client = await acceptUnlessGone(req.socket, accept);
      if (client === undefined) {
        held.release();
        held.socket.terminate();
        return;
      }
      void relayWebSockets(client, held.socket, { heldB: held }).then((end) => {
        ctx.log.debug({ operation: id, host, ...end }, 'operation websocket relay ended');
      });
    },
  });
};

/** The operation id of the path; one that is not even valid URL encoding names no operation. */
function operationId(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new NotFoundError('Operation not found');
  }
}

/** Completes the upgrade, or gives up if the client's connection closed while the host was dialled. */
async function acceptUnlessGone(
  socket: NodeJS.EventEmitter & { destroyed: boolean; readable: boolean; writable: boolean },
  accept: () => Promise<WebSocket>,
): Promise<WebSocket | undefined> {
  if (socket.destroyed || !socket.readable || !socket.writable) return undefined;
  const gone = new AbortController();
  try {
    return await Promise.race([
      accept(),
      once(socket, 'close', { signal: gone.signal }).then(() => undefined),
    ]);
  } finally {
    gone.abort();
  }
}
