import { BadRequestError } from '../../errors/index.js';
import { sendSync, type RouteModule } from '../app.js';
import { bodyObject, recursionOf, str } from '../query.js';

export const HOST_HEADER = 'X-LXDPM-Host';

/** Manager extension: the hosts behind the manager (`lxdpm host add|list|remove`). */
export const hostRoutes: RouteModule = (app, ctx) => {
  app.get('/1.0/hosts', async (request, reply) => {
    const hosts = ctx.fleet.list();
    if (recursionOf(request.query) > 0) return sendSync(reply, hosts);
    return sendSync(
      reply,
      hosts.map((h) => `/1.0/hosts/${h.name}`),
    );
  });

  app.post('/1.0/hosts', async (request, reply) => {
    const body = bodyObject(request.body);
    const name = str(body.name);
    const url = str(body.url);
    if (name === '' || url === '') throw new BadRequestError('Both "name" and "url" are required');
    const host = await ctx.fleet.add({
      name,
      url,
      password: typeof body.password === 'string' ? body.password : undefined,
      token: typeof body.token === 'string' ? body.token : undefined,
      fingerprint:
        typeof body.fingerprint === 'string' && body.fingerprint !== '' ? body.fingerprint : undefined,
      acceptCertificate: body.accept_certificate === true,
    });
    void reply.header(HOST_HEADER, host.name);
    return sendSync(reply, host, { status: 201, location: `/1.0/hosts/${host.name}` });
  });

  app.get<{ Params: { name: string } }>('/1.0/hosts/:name', async (request, reply) => {
    const host = ctx.fleet.get(request.params.name);
    void reply.header(HOST_HEADER, host.name);
    return sendSync(reply, host);
  });

  app.delete<{ Params: { name: string } }>('/1.0/hosts/:name', async (request, reply) => {
    await ctx.fleet.remove(request.params.name);
    return sendSync(reply, null);
  });
};
