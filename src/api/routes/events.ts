import type { LxdEvent } from '../../lxd/index.js';
import type { RouteModule } from '../app.js';

export interface EventsRouteOptions {
  /** Interval of websocket keepalive pings. */
  pingIntervalMs?: number;
}

/** `GET /1.0/events`: the merged event stream as a websocket, one JSON event per text frame. */
export function eventRoutes(opts: EventsRouteOptions = {}): RouteModule {
  return (_app, ctx, ws) => {
    ws.push({
      pattern: /^\/1\.0\/events$/,
      handle: async ({ url, accept }) => {
        const types = new Set((url.searchParams.get('type') ?? '').split(',').filter((t) => t !== ''));
        const project = url.searchParams.get('project');
        const allProjects = url.searchParams.get('all-projects') === 'true';
        const socket = await accept();
        const wanted = (event: LxdEvent) =>
          (types.size === 0 || types.has(event.type)) &&
          (allProjects ||
            project === null ||
            project === '' ||
            event.project === project ||
            event.project === '');
        const unsubscribe = ctx.events.subscribe((event) => {
          if (wanted(event) && socket.readyState === socket.OPEN) socket.send(`${JSON.stringify(event)}\n`);
        });
        const ping = setInterval(() => {
          socket.ping('keepalive');
        }, opts.pingIntervalMs ?? 30_000);
        const close = () => {
          clearInterval(ping);
          unsubscribe();
        };
        socket.on('close', close);
        socket.on('error', close);
        // Clients never send anything but pongs and a close; ignore other frames.
        socket.on('message', () => undefined);
      },
    });
  };
}
