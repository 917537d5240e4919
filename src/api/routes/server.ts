import { arch, hostname, release, version } from 'node:os';
import type { LxdServer, LxdServerEnvironment } from '../../lxd/index.js';
import { sendSync, type RouteModule } from '../app.js';
import type { ApiContext } from '../context.js';
import { checkIfMatch, etagOf } from '../etag.js';
import { API_EXTENSIONS } from '../extensions.js';
import { queryString } from '../query.js';

const KERNEL_ARCH: Record<string, string> = {
  x64: 'x86_64',
  arm64: 'aarch64',
  arm: 'armv7l',
  ppc64: 'ppc64le',
  s390x: 's390x',
};

function emptyEnvironment(): LxdServerEnvironment {
  return {
    addresses: [],
    architectures: [],
    certificate: '',
    certificate_fingerprint: '',
    driver: '',
    driver_version: '',
    firewall: '',
    kernel: '',
    kernel_architecture: '',
    kernel_features: null,
    kernel_version: '',
    lxc_features: null,
    os_name: '',
    os_version: '',
    project: '',
    server: '',
    server_clustered: false,
    server_event_mode: '',
    server_name: '',
    server_pid: 0,
    server_version: '',
    storage: '',
    storage_version: '',
    storage_supported_drivers: null,
  };
}

function trustedEnvironment(ctx: ApiContext, project: string): LxdServerEnvironment {
  const machine = KERNEL_ARCH[arch()] ?? arch();
  const architectures = new Set<string>();
  for (const host of ctx.fleet.list()) for (const a of host.architectures) architectures.add(a);
  if (architectures.size === 0) architectures.add(machine);
  return {
    ...emptyEnvironment(),
    addresses: ctx.addresses(),
    architectures: [...architectures],
    certificate: ctx.identity.cert,
    certificate_fingerprint: ctx.identity.fingerprint,
    driver: 'lxc',
    kernel: 'Linux',
    kernel_architecture: machine,
    kernel_features: {},
    kernel_version: release(),
    lxc_features: {},
    os_name: hostname(),
    os_version: version(),
    project,
    server: 'lxd',
    server_clustered: true,
    server_event_mode: 'full-mesh',
    server_name: ctx.serverName,
    server_pid: process.pid,
    server_version: '5.0.2',
    storage: 'dir',
  };
}

/** `GET /`, `GET /1.0` (trusted and untrusted views), `PUT/PATCH /1.0` (server config). */
export const serverRoutes: RouteModule = (app, ctx) => {
  app.get('/', { config: { public: true } }, (_request, reply) => sendSync(reply, ['/1.0']));

  app.get('/1.0', { config: { public: true } }, async (request, reply) => {
    const base = {
      api_extensions: [...API_EXTENSIONS],
      api_status: 'stable',
      api_version: '1.0',
      public: false,
      auth_methods: ['tls'],
    };
    if (!request.caller.trusted) {
      const server: LxdServer = { ...base, config: null, auth: 'untrusted', environment: emptyEnvironment() };
      return sendSync(reply, server);
    }
    const config = await ctx.config.view();
    const project = queryString(request.query, 'project') ?? 'default';
    const server: LxdServer = {
      ...base,
      config,
      auth: 'trusted',
      environment: trustedEnvironment(ctx, project),
    };
    return sendSync(reply, server, { etag: etagOf(config) });
  });

  app.put('/1.0', async (request, reply) => {
    checkIfMatch(request.headers['if-match'], etagOf(await ctx.config.view()));
    await ctx.config.update((request.body as { config?: unknown } | undefined)?.config, 'put');
    return sendSync(reply, null);
  });

  app.patch('/1.0', async (request, reply) => {
    await ctx.config.update((request.body as { config?: unknown } | undefined)?.config, 'patch');
    return sendSync(reply, null);
  });
};
