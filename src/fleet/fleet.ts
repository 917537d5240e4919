import { setTimeout as wait } from 'node:timers/promises';
import { BadRequestError, ConflictError, NotFoundError, UpstreamError } from '../errors/index.js';
import { HostClient, fetchServerCertificate, isUnixUrl } from '../lxd/index.js';
import type { HostView, LxdMemberStatus, LxdResources, LxdServer } from '../lxd/index.js';

export type { HostView };
import type { HostRecord, Store } from '../store/index.js';
import { certificateFingerprint, decodeToken, type KeyPair } from '../trust/index.js';

export interface AddHostRequest {
  name: string;
  url: string;
  password?: string;
  token?: string;
  /** Accept whatever certificate the host presents (like `lxc remote add --accept-certificate`). */
  acceptCertificate?: boolean;
  /** Expected SHA-256 fingerprint of the host's certificate. */
  fingerprint?: string;
}

export interface FleetOptions {
  store: Store;
  clientCert: KeyPair;
  /** Name the manager gives itself in the hosts' trust stores. */
  managerName: string;
  healthIntervalMs?: number;
  healthTimeoutMs?: number;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export type HostStatusListener = (host: HostView, previous: LxdMemberStatus | undefined) => void;

interface HostEntry {
  record: HostRecord;
  client: HostClient;
  view: HostView;
}

const HOST_NAME = /^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}$/;

/**
 * The hosts the manager fronts: pairing through LXD's own trust flow, a client per host, and periodic
 * health checks that mark each host Online or Offline.
 */
export class Fleet {
  private readonly hosts = new Map<string, HostEntry>();
  private readonly listeners = new Set<HostStatusListener>();
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: FleetOptions) {
    this.intervalMs = opts.healthIntervalMs ?? 10_000;
    this.timeoutMs = opts.healthTimeoutMs ?? 5_000;
  }

  /** Loads the stored hosts and checks each once (in parallel). */
  async load(): Promise<void> {
    for (const record of await this.opts.store.listHosts()) this.attach(record);
    await this.checkAll();
  }

  /** Starts the periodic health loop. */
  start(): void {
    if (this.loop) return;
    const signal = this.abort.signal;
    this.loop = (async () => {
      for (;;) {
        await sleep(this.intervalMs, signal);
        if (this.stopping()) break;
        await this.checkAll();
      }
    })();
  }

  private stopping(): boolean {
    return this.abort.signal.aborted;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await Promise.all([...this.hosts.values()].map((h) => h.client.close()));
  }

  onStatus(listener: HostStatusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  list(): HostView[] {
    return [...this.hosts.values()].map((h) => ({ ...h.view })).sort((a, b) => a.name.localeCompare(b.name));
  }

  has(name: string): boolean {
    return this.hosts.has(name);
  }

  get(name: string): HostView {
    const entry = this.hosts.get(name);
    if (!entry) throw new NotFoundError(`Host "${name}" not found`);
    return { ...entry.view };
  }

  client(name: string): HostClient {
    const entry = this.hosts.get(name);
    if (!entry) throw new NotFoundError(`Host "${name}" not found`);
    return entry.client;
  }

  clients(): HostClient[] {
    return [...this.hosts.values()].map((h) => h.client);
  }

  online(): HostView[] {
    return this.list().filter((h) => h.status === 'Online');
  }

  /** The names of the online hosts: the targets of fleet-wide work. */
  onlineNames(): string[] {
    return this.online().map((h) => h.name);
  }

  /**
   * Pairs a host: checks its certificate (token fingerprint, `--fingerprint`, or explicit acceptance),
   * presents the manager's client certificate with the password or token, and verifies the host now
   * trusts the manager. Nothing reaches the store unless every step succeeded.
   */
  async add(req: AddHostRequest): Promise<HostView> {
    if (!HOST_NAME.test(req.name)) throw new BadRequestError(`Invalid host name "${req.name}"`);
    if (this.hosts.has(req.name)) throw new ConflictError(`Host "${req.name}" already exists`);
    const url = normalizeUrl(req.url);
    for (const h of this.hosts.values()) {
      if (h.record.url === url) throw new ConflictError(`Host "${h.record.name}" already has the URL ${url}`);
    }

    let certificate = '';
    if (!isUnixUrl(url)) {
      const presented = await fetchServerCertificate(url, this.timeoutMs).catch((err: unknown) => {
        throw new BadRequestError(
          `Unable to connect to ${url}: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
      const actual = certificateFingerprint(presented);
      const token = req.token !== undefined ? decodeToken(req.token) : undefined;
      if (req.token !== undefined && token === undefined) throw new BadRequestError('Invalid join token');
      const expected = token?.fingerprint ?? req.fingerprint?.toLowerCase().replace(/:/g, '');
      if (expected !== undefined) {
        if (!actual.startsWith(expected) || expected.length < 12) {
          throw new BadRequestError(
            `Certificate fingerprint mismatch between ${url} (${actual}) and the expected ${expected}`,
          );
        }
      } else if (req.acceptCertificate !== true) {
        throw new BadRequestError(
          `The certificate of ${url} has fingerprint ${actual}: confirm it with --fingerprint or --accept-certificate`,
        );
      }
      for (const h of this.hosts.values()) {
        if (h.view.fingerprint === actual)
          throw new ConflictError(`Host "${h.record.name}" already has this certificate`);
      }
      certificate = presented;
    }

    const record: HostRecord = { name: req.name, url, certificate, createdAt: new Date().toISOString() };
    const client = new HostClient({
      name: req.name,
      url,
      certificate,
      clientCert: this.opts.clientCert,
      timeoutMs: 30_000,
    });
    try {
      let server = await client.get<LxdServer>('/1.0', { timeoutMs: this.timeoutMs });
      if (server.auth !== 'trusted') {
        const secret = req.token ?? req.password;
        if (secret === undefined)
          throw new BadRequestError(`Host ${url} does not trust the manager: give --password or --token`);
        await client
          .call('POST', '/1.0/certificates', {
            type: 'client',
            name: this.opts.managerName,
            password: secret,
            certificate: '',
            restricted: false,
            projects: null,
            token: false,
          })
          .catch((err: unknown) => {
            if (err instanceof UpstreamError && err.status === 403) {
              throw new BadRequestError(
                `Host ${url} refused the manager: wrong trust password or token (${err.lxdError})`,
              );
            }
            throw err;
          });
        server = await client.get<LxdServer>('/1.0', { timeoutMs: this.timeoutMs });
        if (server.auth !== 'trusted')
          throw new BadRequestError(`Host ${url} still does not trust the manager after pairing`);
      }
      await this.opts.store.addHost(record);
    } catch (err) {
      await client.close();
      throw err;
    }
    const entry = this.attach(record, client);
    await this.check(entry);
    this.opts.log?.info({ host: req.name, url }, 'host added');
    return { ...entry.view };
  }

  async remove(name: string): Promise<void> {
    const entry = this.hosts.get(name);
    if (!entry) throw new NotFoundError(`Host "${name}" not found`);
    await this.opts.store.deleteHost(name);
    this.hosts.delete(name);
    await entry.client.close();
    this.opts.log?.info({ host: name }, 'host removed');
  }

  /** Runs one health check of every host now. */
  async checkAll(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((h) => this.check(h)));
  }

  private attach(record: HostRecord, client?: HostClient): HostEntry {
    const entry: HostEntry = {
      record,
      client:
        client ??
        new HostClient({
          name: record.name,
          url: record.url,
          certificate: record.certificate || undefined,
          clientCert: this.opts.clientCert,
          timeoutMs: 30_000,
        }),
      view: {
        name: record.name,
        url: record.url,
        status: 'Offline',
        message: 'Not checked yet',
        fingerprint: record.certificate === '' ? '' : certificateFingerprint(record.certificate),
        server_name: '',
        server_version: '',
        architecture: '',
        architectures: [],
        cpus: 0,
        memory: { total: 0, used: 0 },
        last_seen: '',
        created_at: record.createdAt,
      },
    };
    this.hosts.set(record.name, entry);
    return entry;
  }

  private async check(entry: HostEntry): Promise<void> {
    const previous = entry.view.status;
    try {
      const [server, resources] = await Promise.all([
        entry.client.get<LxdServer>('/1.0', { timeoutMs: this.timeoutMs }),
        entry.client.get<LxdResources>('/1.0/resources', { timeoutMs: this.timeoutMs }),
      ]);
      if (server.auth !== 'trusted') throw new Error('the host no longer trusts the manager');
      Object.assign(entry.view, {
        status: 'Online',
        message: 'Fully operational',
        server_name: server.environment.server_name,
        server_version: server.environment.server_version,
        architecture: resources.cpu.architecture,
        architectures: server.environment.architectures,
        cpus: resources.cpu.total,
        memory: { total: resources.memory.total, used: resources.memory.used },
        last_seen: new Date().toISOString(),
      } satisfies Partial<HostView>);
    } catch (err) {
      entry.view.status = 'Offline';
      entry.view.message = err instanceof Error ? err.message : String(err);
    }
    if (!this.hosts.has(entry.record.name)) return;
    if (entry.view.status !== previous) {
      this.opts.log?.[entry.view.status === 'Online' ? 'info' : 'warn'](
        { host: entry.record.name, status: entry.view.status, message: entry.view.message },
        'host status changed',
      );
      for (const listener of this.listeners) listener({ ...entry.view }, previous);
    }
  }
}

function normalizeUrl(url: string): string {
  if (isUnixUrl(url)) return url;
  let parsed: URL;
  try {
    parsed = new URL(url.includes('://') ? url : `https://${url}`);
  } catch {
    throw new BadRequestError(`Invalid host URL "${url}"`);
  }
  if (parsed.protocol !== 'https:')
    throw new BadRequestError(`Host URL must be https:// or unix://, got "${url}"`);
  return `https://${parsed.hostname}:${parsed.port === '' ? '8443' : parsed.port}`;
}

async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  await wait(ms, undefined, { signal }).catch(() => undefined);
}
