import { BadRequestError, HostUnavailableError, InternalError, NotFoundError } from '../errors/index.js';
import type { Fleet } from '../fleet/index.js';
import type { LxdImage, LxdImageAliasEntry } from '../lxd/index.js';

/** Extension field on image objects: the hosts that hold the image (LXD clients ignore unknown fields). */
export const IMAGE_HOSTS_FIELD = 'lxdpm_hosts';

/** An image as the fleet sees it: one LXD image object plus the hosts that hold it. */
export type FleetImage = LxdImage & { [IMAGE_HOSTS_FIELD]: string[] };

/** An alias as the fleet sees it, with the hosts where it exists. */
export interface FleetAlias extends LxdImageAliasEntry {
  hosts: string[];
}

/** What each online host holds right now. */
export interface FleetImageScan {
  images: Map<string, FleetImage>;
  aliases: Map<string, FleetAlias>;
  /** host → its images, keyed by fingerprint. */
  byHost: Map<string, Map<string, LxdImage>>;
  /** host → its aliases, keyed by name. */
  aliasesByHost: Map<string, Map<string, LxdImageAliasEntry>>;
  /** Online hosts that did not answer. */
  failed: { host: string; error: string }[];
}

export interface ImageCatalogOptions {
  fleet: Fleet;
  timeoutMs?: number;
}

/**
 * The fleet's images, read from the hosts: lists merged by fingerprint, aliases merged by name,
 * fingerprint prefixes and aliases resolved the way LXD resolves them.
 */
export class ImageCatalog {
  constructor(private readonly opts: ImageCatalogOptions) {}

  /**
   * Asks every online host (in parallel) for its images and aliases. `filter` is LXD's server-side
   * image filter (`api_filtering`), applied by each host to its own images.
   */
  async scan(hosts?: string[], filter?: string): Promise<FleetImageScan> {
    const names = hosts ?? this.opts.fleet.onlineNames();
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    const results = await Promise.allSettled(
      names.map(async (host) => {
        const client = this.opts.fleet.client(host);
        const [images, aliases] = await Promise.all([
          client.get<LxdImage[]>('/1.0/images', { query: { recursion: '1', filter }, timeoutMs }),
          client.get<LxdImageAliasEntry[]>('/1.0/images/aliases', { query: { recursion: '1' }, timeoutMs }),
        ]);
        return { host, images, aliases };
      }),
    );
    const scan: FleetImageScan = {
      images: new Map(),
      aliases: new Map(),
      byHost: new Map(),
      aliasesByHost: new Map(),
      failed: [],
    };
    results.forEach((result, i) => {
      const host = names[i] ?? '';
      if (result.status === 'rejected') {
        scan.failed.push({ host, error: errorText(result.reason) });
        return;
      }
      scan.byHost.set(host, new Map(result.value.images.map((img) => [img.fingerprint, img])));
      scan.aliasesByHost.set(host, new Map(result.value.aliases.map((a) => [a.name, a])));
      for (const img of result.value.images) {
        const known = scan.images.get(img.fingerprint);
        if (known === undefined) {
          scan.images.set(img.fingerprint, {
            ...img,
            aliases: [...(img.aliases ?? [])],
            [IMAGE_HOSTS_FIELD]: [host],
          });
          continue;
        }
        known[IMAGE_HOSTS_FIELD].push(host);
        const names = new Set((known.aliases ?? []).map((a) => a.name));
        for (const alias of img.aliases ?? []) if (!names.has(alias.name)) known.aliases?.push(alias);
      }
      for (const alias of result.value.aliases) {
        const known = scan.aliases.get(alias.name);
        if (known === undefined) scan.aliases.set(alias.name, { ...alias, hosts: [host] });
        else known.hosts.push(host);
      }
    });
    for (const img of scan.images.values()) img.aliases?.sort((a, b) => a.name.localeCompare(b.name));
    return scan;
  }

  /** The merged image list, sorted by fingerprint. */
  async list(filter?: string): Promise<FleetImage[]> {
    const scan = await this.scan(undefined, filter);
    return sortedImages(scan);
  }

  /** One image by full fingerprint or unique prefix, with LXD's errors. */
  async get(fingerprintOrPrefix: string): Promise<FleetImage> {
    const scan = await this.scan();
    return resolveImage(scan, fingerprintOrPrefix);
  }

  async aliases(): Promise<FleetAlias[]> {
    const scan = await this.scan();
    return sortedAliases(scan);
  }

  async alias(name: string): Promise<FleetAlias> {
    const scan = await this.scan();
    return resolveAlias(scan, name);
  }
}

export function sortedImages(scan: FleetImageScan): FleetImage[] {
  return [...scan.images.values()].sort((a, b) => a.fingerprint.localeCompare(b.fingerprint));
}

export function sortedAliases(scan: FleetImageScan): FleetAlias[] {
  return [...scan.aliases.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** LXD's prefix lookup: `Image not found` (404) for none, `More than one image matches` (500) for several. */
export function resolveImage(scan: FleetImageScan, fingerprintOrPrefix: string): FleetImage {
  const prefix = fingerprintOrPrefix.toLowerCase();
  if (prefix === '') throw new BadRequestError('No fingerprint prefix specified for the image');
  const exact = scan.images.get(prefix);
  if (exact !== undefined) return exact;
  const matches = [...scan.images.values()].filter((img) => img.fingerprint.startsWith(prefix));
  if (matches.length === 1 && matches[0] !== undefined) return matches[0];
  if (matches.length > 1) throw new InternalError('More than one image matches');
  if (scan.failed.length > 0 && scan.images.size === 0) {
    const first = scan.failed[0];
    if (first !== undefined) throw new HostUnavailableError(first.host, first.error);
  }
  throw new NotFoundError('Image not found');
}

export function resolveAlias(scan: FleetImageScan, name: string): FleetAlias {
  const alias = scan.aliases.get(name);
  if (alias === undefined) throw new NotFoundError('Image alias not found');
  return alias;
}

/** Drops the manager's extension fields before an object is compared with a host's. */
export function plainImage(img: FleetImage): LxdImage {
  const { [IMAGE_HOSTS_FIELD]: _hosts, ...rest } = img;
  return rest;
}

/** An alias object as LXD returns it. */
export function plainAlias(alias: FleetAlias): LxdImageAliasEntry {
  return { name: alias.name, description: alias.description, target: alias.target, type: alias.type };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
