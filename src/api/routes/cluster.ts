import { NotFoundError } from '../../errors/index.js';
import type { HostView } from '../../fleet/index.js';
import type { LxdCluster, LxdClusterMember } from '../../lxd/index.js';
import { sendSync, type RouteModule } from '../app.js';
import { etagOf } from '../etag.js';
import { recursionOf } from '../query.js';
import { HOST_HEADER } from './hosts.js';

function member(host: HostView): LxdClusterMember {
  return {
    server_name: host.name,
    url: host.url,
    database: false,
    status: host.status,
    message: host.message,
    architecture: host.architecture,
    failure_domain: 'default',
    description: host.server_version === '' ? '' : `LXD ${host.server_version}`,
    config: {},
    groups: ['default'],
    roles: [],
  };
}

/** The fleet presented as an LXD cluster: one member per host (`lxc cluster list`). */
export const clusterRoutes: RouteModule = (app, ctx) => {
  app.get('/1.0/cluster', async (_request, reply) => {
    const cluster: LxdCluster = { server_name: ctx.serverName, enabled: true, member_config: [] };
    return sendSync(reply, cluster, { etag: etagOf(cluster) });
  });

  app.get('/1.0/cluster/members', async (request, reply) => {
    const hosts = ctx.fleet.list();
    if (recursionOf(request.query) > 0) return sendSync(reply, hosts.map(member));
    return sendSync(
      reply,
      hosts.map((h) => `/1.0/cluster/members/${h.name}`),
    );
  });

  app.get<{ Params: { name: string } }>('/1.0/cluster/members/:name', async (request, reply) => {
    if (!ctx.fleet.has(request.params.name)) throw new NotFoundError('Cluster member not found');
    const m = member(ctx.fleet.get(request.params.name));
    void reply.header(HOST_HEADER, m.server_name);
    return sendSync(reply, m, {
      etag: etagOf({ description: m.description, config: m.config, roles: m.roles }),
    });
  });
};
