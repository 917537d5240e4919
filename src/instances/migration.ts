import { BadRequestError, UpstreamError } from '../errors/index.js';
import type { Fleet } from '../fleet/index.js';
import type { LxdOperation } from '../lxd/index.js';
import type { Store } from '../store/index.js';
import { httpsEndpoint } from './endpoints.js';

export interface PullCopyRequest {
  /** Host that holds the source instance. */
  from: string;
  /** Host the copy is created on. */
  to: string;
  /** `NAME` or `NAME/SNAPSHOT`. */
  source: string;
  /** The client's create request (name, config, profiles, devices, source options). */
  request: Record<string, unknown>;
  signal?: AbortSignal;
}

function flag(value: unknown): boolean {
  return value === true;
}

/** API path of an instance or one of its snapshots. */
export function sourcePath(source: string): string {
  const [instance = '', snapshot] = source.split('/', 2);
  const base = `/1.0/instances/${encodeURIComponent(instance)}`;
  return snapshot === undefined ? base : `${base}/snapshots/${encodeURIComponent(snapshot)}`;
}

/**
 * Copies an instance to another host with LXD's own migration, as `lxc copy` between two remotes does:
 * the source host opens a migration operation, the target host pulls from it directly over HTTPS
 * (authenticated by the operation's secrets, the source pinned by its certificate). The data never
 * passes through the manager. The copy is cold (`live: false`): no CRIU.
 */
export async function pullCopy(fleet: Fleet, store: Store, req: PullCopyRequest): Promise<void> {
  const endpoint = await httpsEndpoint(fleet, store, req.from);
  if (endpoint === undefined) {
    throw new BadRequestError(`Host ${req.from} serves no HTTPS address, so ${req.to} cannot copy from it`);
  }
  const source = fleet.client(req.from);
  const target = fleet.client(req.to);
  const options = (req.request.source ?? {}) as Record<string, unknown>;
  const path = sourcePath(req.source);
  const instanceOnly = flag(options.instance_only) || flag(options.container_only);
  // A snapshot's migration source insists on the new name; an instance's ignores it.
  const name = req.source.includes('/') ? String(req.request.name) : '';

  const { metadata: sourceOp } = await source.call<LxdOperation>(
    'POST',
    path,
    { name, migration: true, live: false, instance_only: instanceOnly, container_only: instanceOnly },
    { signal: req.signal },
  );
  try {
    const { metadata: targetOp } = await target.call<LxdOperation>(
      'POST',
      '/1.0/instances',
      {
        ...req.request,
        source: {
          type: 'migration',
          mode: 'pull',
          operation: `${endpoint.url}/1.0/operations/${sourceOp.id}`,
          secrets: sourceOp.metadata ?? {},
          certificate: endpoint.certificate,
          'base-image': options['base-image'],
          live: false,
          instance_only: instanceOnly,
          container_only: instanceOnly,
          allow_inconsistent: flag(options.allow_inconsistent),
        },
      },
      { signal: req.signal },
    );
    const done = await target.waitOperation(targetOp.id, -1, req.signal);
    if (done.status !== 'Success') {
      throw new UpstreamError(
        req.to,
        'POST',
        '/1.0/instances',
        400,
        done.err !== '' ? done.err : done.status,
      );
    }
    await source.waitOperation(sourceOp.id, 30, req.signal).catch(() => undefined);
  } catch (err) {
    // The source waits for a pull that will not come: cancel it.
    await source.request('DELETE', `/1.0/operations/${sourceOp.id}`).catch(() => undefined);
    throw err;
  }
}

export interface ColdMoveRequest {
  from: string;
  to: string;
  name: string;
  /** The name on the target (the same name unless the move also renames). */
  newName: string;
  /** Leave the snapshots behind. */
  instanceOnly: boolean;
  signal?: AbortSignal;
}

async function changeState(
  fleet: Fleet,
  host: string,
  name: string,
  action: 'start' | 'stop',
  signal?: AbortSignal,
): Promise<void> {
  const client = fleet.client(host);
  const path = `/1.0/instances/${encodeURIComponent(name)}/state`;
  const { metadata } = await client.call<LxdOperation>(
    'PUT',
    path,
    { action, timeout: -1, force: false, stateful: false },
    { signal },
  );
  const done = await client.waitOperation(metadata.id, -1, signal);
  if (done.status !== 'Success') throw new UpstreamError(host, 'PUT', path, 400, done.err);
}

async function deleteInstance(fleet: Fleet, host: string, name: string): Promise<void> {
  const client = fleet.client(host);
  const path = `/1.0/instances/${encodeURIComponent(name)}`;
  const { metadata } = await client.call<LxdOperation>('DELETE', path);
  await client.expectSuccess(metadata.id, path);
}

/**
 * Moves an instance to another host, as `lxc move --target` does in an LXD cluster: stop it if it runs,
 * copy it (snapshots included unless instanceOnly) with a host-to-host migration, delete the original,
 * and start the copy if the original was running. A failure before the original is gone leaves the
 * original as it was (the partial copy is deleted, the original restarted).
 */
export async function coldMove(
  fleet: Fleet,
  store: Store,
  req: ColdMoveRequest,
): Promise<Record<string, unknown>> {
  const path = `/1.0/instances/${encodeURIComponent(req.name)}`;
  const instance = await fleet.client(req.from).get<Record<string, unknown>>(path, { signal: req.signal });
  const running = instance.status === 'Running';
  if (running && instance.ephemeral === true) {
    throw new BadRequestError('An ephemeral instance is deleted when stopped: stop it yourself to move it');
  }
  const config = Object.fromEntries(
    Object.entries((instance.config ?? {}) as Record<string, string>).filter(
      ([k]) => !k.startsWith('volatile.') || k === 'volatile.base_image',
    ),
  );

  if (running) await changeState(fleet, req.from, req.name, 'stop', req.signal);
  let copied = false;
  try {
    await pullCopy(fleet, store, {
      from: req.from,
      to: req.to,
      source: req.name,
      request: {
        name: req.newName,
        type: instance.type,
        architecture: instance.architecture,
        config,
        devices: instance.devices,
        profiles: instance.profiles,
        ephemeral: instance.ephemeral,
        description: instance.description,
        source: { 'base-image': config['volatile.base_image'], instance_only: req.instanceOnly },
      },
      signal: req.signal,
    });
    copied = true;
    await deleteInstance(fleet, req.from, req.name);
  } catch (err) {
    if (copied) await deleteInstance(fleet, req.to, req.newName).catch(() => undefined);
    if (running) await changeState(fleet, req.from, req.name, 'start').catch(() => undefined);
    throw err;
  }
  if (running) await changeState(fleet, req.to, req.newName, 'start', req.signal);
  return fleet
    .client(req.to)
    .get<Record<string, unknown>>(`/1.0/instances/${encodeURIComponent(req.newName)}`);
}
