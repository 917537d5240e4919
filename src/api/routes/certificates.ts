import { BadRequestError, ForbiddenError } from '../../errors/index.js';
import type { LxdCertificate } from '../../lxd/index.js';
import type { CertificateRecord } from '../../store/index.js';
import { sendSync, type RouteModule } from '../app.js';
import { asyncEnvelope } from '../envelope.js';
import { checkIfMatch, etagOf } from '../etag.js';
import { bodyObject, recursionOf, str } from '../query.js';

function toLxd(cert: CertificateRecord): LxdCertificate {
  return {
    name: cert.name,
    type: cert.type,
    restricted: cert.restricted,
    projects: cert.projects,
    certificate: cert.certificate,
    fingerprint: cert.fingerprint,
  };
}

function writable(cert: LxdCertificate) {
  return {
    name: cert.name,
    type: cert.type,
    restricted: cert.restricted,
    projects: cert.projects,
    certificate: cert.certificate,
  };
}

/** The trust store (`lxc remote add`, `lxc config trust …`). */
export const certificateRoutes: RouteModule = (app, ctx) => {
  app.get('/1.0/certificates', async (request, reply) => {
    const certs = ctx.trust.list();
    if (recursionOf(request.query) > 0) return sendSync(reply, certs.map(toLxd));
    return sendSync(
      reply,
      certs.map((c) => `/1.0/certificates/${c.fingerprint}`),
    );
  });

  app.post('/1.0/certificates', { config: { public: true } }, async (request, reply) => {
    const body = bodyObject(request.body);
    const name = str(body.name);
    if (body.token === true) {
      // A join token: only a trusted client may issue one. The pending token is an operation of class token.
      if (!request.caller.trusted) throw new ForbiddenError();
      if (name === '') throw new BadRequestError('A name is required for a token');
      const issued = ctx.trust.issueToken(name, ctx.identity.fingerprint, ctx.addresses());
      const op = ctx.operations.create({
        class: 'token',
        description: 'Executing operation',
        mayCancel: true,
        metadata: {
          request: { name, type: 'client', restricted: false, projects: null, certificate: '', token: true },
          secret: issued.secret,
          fingerprint: ctx.identity.fingerprint,
          addresses: ctx.addresses(),
        },
        onCancel: () => {
          ctx.trust.revokeToken(issued.secret);
        },
      });
      issued.operationId = op.id;
      return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncEnvelope(op));
    }
    const password = str(body.trust_token) !== '' ? str(body.trust_token) : str(body.password);
    const { record, token } = await ctx.trust.add(
      {
        name,
        type: str(body.type, 'client'),
        restricted: body.restricted === true,
        projects: Array.isArray(body.projects)
          ? body.projects.filter((p): p is string => typeof p === 'string')
          : [],
        certificate: str(body.certificate),
        password,
        peerCertificate: request.caller.certificate,
        trustedCaller: request.caller.trusted,
      },
      await ctx.config.passwordHash(),
    );
    if (token) ctx.operations.complete(token.operationId, 'Success');
    request.log.info(
      { fingerprint: record.fingerprint, name: record.name, via: token ? 'token' : 'password' },
      'client trusted',
    );
    return sendSync(reply, null, { status: 201, location: `/1.0/certificates/${record.fingerprint}` });
  });

  app.get<{ Params: { fp: string } }>('/1.0/certificates/:fp', async (request, reply) => {
    const cert = toLxd(ctx.trust.get(request.params.fp));
    return sendSync(reply, cert, { etag: etagOf(writable(cert)) });
  });

  const update = async (
    fp: string,
    body: Record<string, unknown>,
    ifMatch: string | undefined,
    mode: 'put' | 'patch',
  ) => {
    const current = toLxd(ctx.trust.get(fp));
    checkIfMatch(ifMatch, etagOf(writable(current)));
    const patch: Partial<CertificateRecord> = {};
    if (typeof body.name === 'string' && body.name !== '') patch.name = body.name;
    if (typeof body.restricted === 'boolean') patch.restricted = body.restricted;
    else if (mode === 'put') patch.restricted = false;
    if (Array.isArray(body.projects))
      patch.projects = body.projects.filter((p): p is string => typeof p === 'string');
    else if (mode === 'put') patch.projects = [];
    await ctx.trust.update(current.fingerprint, patch);
  };

  app.put<{ Params: { fp: string } }>('/1.0/certificates/:fp', async (request, reply) => {
    await update(request.params.fp, bodyObject(request.body), request.headers['if-match'], 'put');
    return sendSync(reply, null);
  });

  app.patch<{ Params: { fp: string } }>('/1.0/certificates/:fp', async (request, reply) => {
    await update(request.params.fp, bodyObject(request.body), request.headers['if-match'], 'patch');
    return sendSync(reply, null);
  });

  app.delete<{ Params: { fp: string } }>('/1.0/certificates/:fp', async (request, reply) => {
    await ctx.trust.remove(request.params.fp);
    return sendSync(reply, null);
  });
};
