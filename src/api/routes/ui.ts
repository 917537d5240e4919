import type { FastifyReply } from 'fastify';
import { ForbiddenError, NotFoundError } from '../../errors/index.js';
import {
  cookieValue,
  defaultUiDir,
  openUiFile,
  SESSION_COOKIE,
  sessionCookie,
  type UiSessions,
} from '../../ui/index.js';
import type { ApiContext } from '../context.js';
import { sendSync, type RouteModule } from '../app.js';
import { bodyObject, str } from '../query.js';

export interface UiRouteOptions {
  /** Directory of the built UI (default: web/dist of this package). */
  dir?: string;
}

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // Sign-in links carry a token in the query string: never leak it in a Referer.
  'Referrer-Policy': 'no-referrer',
};

function sessionsOf(ctx: ApiContext): UiSessions {
  if (ctx.uiSessions === undefined) throw new NotFoundError('The web UI is not enabled');
  return ctx.uiSessions;
}

/**
 * The web UI: the built single-page app under `/ui/` (public, so the sign-in page loads), the exchange of a
 * one-time sign-in token for a session cookie, and the management of sessions (manager extension
 * `/1.0/ui/…`, trusted callers only).
 */
export function uiRoutes(opts: UiRouteOptions = {}): RouteModule {
  const dir = opts.dir ?? defaultUiDir();
  return (app, ctx) => {
    app.post('/1.0/ui/tokens', async (request, reply) => {
      const sessions = sessionsOf(ctx);
      const body = bodyObject(request.body);
      const address = str(body.address) || (ctx.addresses()[0] ?? '');
      const login = sessions.createLoginToken();
      return sendSync(reply, {
        token: login.token,
        expires_at: login.expiresAt,
        url: address === '' ? '' : `https://${address}/ui/login?token=${encodeURIComponent(login.token)}`,
      });
    });

    app.get('/1.0/ui/sessions', async (request, reply) => {
      const current = request.caller.session;
      return sendSync(
        reply,
        sessionsOf(ctx)
          .list()
          .map((s) => ({ ...s, current: s.id === current })),
      );
    });

    app.delete('/1.0/ui/sessions', async (_request, reply) => {
      const revoked = await sessionsOf(ctx).revokeAll();
      return sendSync(reply, { revoked });
    });

    app.delete<{ Params: { id: string } }>('/1.0/ui/sessions/:id', async (request, reply) => {
      if (!(await sessionsOf(ctx).revoke(request.params.id))) throw new NotFoundError('Session not found');
      return sendSync(reply, null);
    });

    // Exchanging the token needs a POST from the page: link previews that fetch the URL cannot burn it.
    app.post('/ui/session', { config: { public: true } }, async (request, reply) => {
      const token = str(bodyObject(request.body).token);
      const grant = token === '' ? undefined : await sessionsOf(ctx).exchange(token);
      if (grant === undefined)
        throw new ForbiddenError(
          'This sign-in link is invalid, expired or already used: run `lxdpm ui-login` again',
        );
      const maxAge = (Date.parse(grant.session.expires_at) - Date.now()) / 1000;
      void reply.header('Set-Cookie', sessionCookie(grant.secret, maxAge));
      void reply.header('Cache-Control', 'no-store');
      return sendSync(reply, grant.session);
    });

    app.delete('/ui/session', { config: { public: true } }, async (request, reply) => {
      const secret = cookieValue(request.headers.cookie, SESSION_COOKIE);
      const session = secret === undefined ? undefined : ctx.uiSessions?.verify(secret);
      if (session !== undefined) await sessionsOf(ctx).revoke(session.id);
      void reply.header('Set-Cookie', sessionCookie('', 0));
      return sendSync(reply, null);
    });

    const serve = async (path: string, reply: FastifyReply) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) void reply.header(k, v);
      const file = await openUiFile(dir, path);
      if (file === undefined) {
        return reply
          .code(503)
          .type('text/plain; charset=utf-8')
          .send('The web UI is not built: run `npm run build` in the lxdpm package.\n');
      }
      if (file === 'not-found') return reply.code(404).type('text/plain; charset=utf-8').send('Not found\n');
      void reply.header('Cache-Control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      return reply.type(file.contentType).header('Content-Length', file.size).send(file.stream);
    };

    app.get('/ui', { config: { public: true } }, async (_request, reply) => serve('', reply));
    app.get<{ Params: { '*': string } }>('/ui/*', { config: { public: true } }, async (request, reply) =>
      serve(request.params['*'], reply),
    );
  };
}
