import { NotFoundError } from '../errors/index.js';
import type { Fleet } from '../fleet/index.js';

/**
 * Routes host operations by id. Ids pass through from the hosts unchanged; this map says which host
 * owns each (learned from 202 responses and from the hosts' operation events). An id it has not seen
 * is looked up on every online host.
 */
export class OperationRouter {
  private readonly hosts = new Map<string, { host: string; at: number }>();

  constructor(
    private readonly fleet: Fleet,
    private readonly retentionMs = 60 * 60 * 1000,
  ) {}

  remember(id: string, host: string): void {
    this.hosts.set(id, { host, at: Date.now() });
    if (this.hosts.size > 10_000) this.prune();
  }

  hostOf(id: string): string | undefined {
    return this.hosts.get(id)?.host;
  }

  /** The host that owns an operation, asking the hosts when the id is unknown. */
  async locate(id: string): Promise<string> {
    const known = this.hostOf(id);
    if (known !== undefined && this.fleet.has(known)) return known;
    const found = await Promise.any(
      this.fleet.online().map(async (h) => {
        await this.fleet.client(h.name).get(`/1.0/operations/${encodeURIComponent(id)}`, { timeoutMs: 5000 });
        return h.name;
      }),
    ).catch(() => undefined);
    if (found === undefined) throw new NotFoundError('Operation not found');
    this.remember(id, found);
    return found;
  }

  private prune(): void {
    const cutoff = Date.now() - this.retentionMs;
    for (const [id, entry] of this.hosts) if (entry.at < cutoff) this.hosts.delete(id);
  }
}
