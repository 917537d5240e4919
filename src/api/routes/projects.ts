import { NotFoundError } from '../../errors/index.js';
import { sendSync, type RouteModule } from '../app.js';
import { etagOf } from '../etag.js';
import { recursionOf } from '../query.js';

const DEFAULT_PROJECT = {
  name: 'default',
  description: 'Default LXD project',
  config: {
    'features.images': 'true',
    'features.networks': 'true',
    'features.profiles': 'true',
    'features.storage.volumes': 'true',
  },
};

/** The manager serves one project, `default`, as a standalone LXD does out of the box. */
export const projectRoutes: RouteModule = (app) => {
  app.get('/1.0/projects', async (request, reply) => {
    if (recursionOf(request.query) > 0) return sendSync(reply, [{ ...DEFAULT_PROJECT, used_by: [] }]);
    return sendSync(reply, ['/1.0/projects/default']);
  });

  app.get<{ Params: { name: string } }>('/1.0/projects/:name', async (request, reply) => {
    if (request.params.name !== 'default') throw new NotFoundError('Project not found');
    const { name: _name, ...writable } = DEFAULT_PROJECT;
    return sendSync(reply, { ...DEFAULT_PROJECT, used_by: [] }, { etag: etagOf(writable) });
  });
};
