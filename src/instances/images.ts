import { BadRequestError, UpstreamError } from '../errors/index.js';
import type { Fleet } from '../fleet/index.js';
import { IMAGE_HOSTS_FIELD, resolveAlias, resolveImage, type ImageCatalog } from '../images/index.js';
import type { LxdImageAlias, LxdOperation } from '../lxd/index.js';
import type { Store } from '../store/index.js';
import { httpsEndpoint, type HttpsEndpoint } from './endpoints.js';

/** The image an instance is created from, and the hosts that hold it. */
export interface SourceImage {
  fingerprint: string;
  architecture: string;
  public: boolean;
  aliases: LxdImageAlias[];
  holders: string[];
}

/**
 * Resolves a create request's image source the way LXD does (an alias, a full fingerprint, or a unique
 * prefix), against what the online hosts hold right now.
 */
export async function resolveSourceImage(
  catalog: ImageCatalog,
  source: Record<string, unknown>,
): Promise<SourceImage> {
  const alias = typeof source.alias === 'string' ? source.alias : '';
  const fingerprint = typeof source.fingerprint === 'string' ? source.fingerprint : '';
  if (alias === '' && fingerprint === '') {
    throw new BadRequestError('Must specify one of alias or fingerprint for init from image');
  }
  const scan = await catalog.scan();
  const image = resolveImage(scan, fingerprint !== '' ? fingerprint : resolveAlias(scan, alias).target);
  return {
    fingerprint: image.fingerprint,
    architecture: image.architecture,
    public: image.public,
    aliases: (image.aliases ?? []).map((a) => ({ name: a.name, description: a.description })),
    holders: [...image[IMAGE_HOSTS_FIELD]],
  };
}

export interface ImageCopierOptions {
  fleet: Fleet;
  store: Store;
}

/**
 * Copies images from a host that holds them to one that does not. The target host pulls straight from
 * the holder over HTTPS with a one-time secret (as `lxc image copy` makes two LXD servers do); when the
 * holder serves no HTTPS, the image is streamed through the manager (export, then import). Concurrent
 * requests for the same image on the same host share one copy.
 */
export class ImageCopier {
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(private readonly opts: ImageCopierOptions) {}

  async ensure(image: SourceImage, host: string, signal?: AbortSignal): Promise<void> {
    if (image.holders.includes(host)) return;
    const key = `${host}/${image.fingerprint}`;
    let copy = this.inFlight.get(key);
    if (!copy) {
      copy = this.copy(image, host, signal).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, copy);
    }
    await copy;
  }

  private async copy(image: SourceImage, host: string, signal?: AbortSignal): Promise<void> {
    const target = this.opts.fleet.client(host);
    // Another create may have finished the same copy since the image was resolved.
    const present = await target.request('GET', `/1.0/images/${image.fingerprint}`, undefined, { signal });
    if (present.status === 200) return;

    const online = new Set(this.opts.fleet.onlineNames());
    const holder = image.holders.find((h) => online.has(h));
    if (holder === undefined) {
      throw new UpstreamError(
        host,
        'POST',
        '/1.0/images',
        503,
        `No online host holds image ${image.fingerprint}`,
      );
    }
    const endpoint = await httpsEndpoint(this.opts.fleet, this.opts.store, holder);
    if (endpoint === undefined) {
      await this.finish(host, holder, await this.relay(image, holder, host, signal), signal);
      // An import carries no aliases (a pull does): add them as the holder has them.
      for (const alias of image.aliases) {
        await target
          .request('POST', '/1.0/images/aliases', { ...alias, target: image.fingerprint }, { signal })
          .catch(() => undefined);
      }
      return;
    }
    const token = await this.opts.fleet
      .client(holder)
      .call<LxdOperation>('POST', `/1.0/images/${image.fingerprint}/secret`, {}, { signal });
    try {
      await this.finish(host, holder, await this.pull(image, host, endpoint, token.metadata, signal), signal);
    } finally {
      // A used secret is gone already; an unused one must not linger on the holder.
      await this.opts.fleet
        .client(holder)
        .request('DELETE', `/1.0/operations/${token.metadata.id}`)
        .catch(() => undefined);
    }
  }

  private async finish(host: string, holder: string, op: LxdOperation, signal?: AbortSignal): Promise<void> {
    const done = await this.opts.fleet.client(host).waitOperation(op.id, -1, signal);
    if (done.status !== 'Success' && !/already exists/i.test(done.err)) {
      throw new UpstreamError(
        host,
        'POST',
        '/1.0/images',
        400,
        `Copying the image from ${holder}: ${done.err}`,
      );
    }
  }

  /** The target host pulls the image from the holder itself. */
  private async pull(
    image: SourceImage,
    host: string,
    endpoint: HttpsEndpoint,
    token: LxdOperation,
    signal?: AbortSignal,
  ): Promise<LxdOperation> {
    const secret = token.metadata?.secret;
    if (typeof secret !== 'string') {
      throw new UpstreamError(host, 'POST', '/1.0/images', 500, 'The holder returned no image secret');
    }
    const { metadata } = await this.opts.fleet.client(host).call<LxdOperation>(
      'POST',
      '/1.0/images',
      {
        source: {
          type: 'image',
          mode: 'pull',
          server: endpoint.url,
          protocol: 'lxd',
          certificate: endpoint.certificate,
          fingerprint: image.fingerprint,
          secret,
        },
        aliases: image.aliases,
        public: image.public,
        auto_update: false,
      },
      { signal },
    );
    return metadata;
  }

  /** Streams the holder's export into the target's import, through the manager. */
  private async relay(
    image: SourceImage,
    holder: string,
    host: string,
    signal?: AbortSignal,
  ): Promise<LxdOperation> {
    const path = `/1.0/images/${image.fingerprint}/export`;
    const exported = await this.opts.fleet
      .client(holder)
      .raw('GET', path, undefined, { signal, timeoutMs: 600_000 });
    if (exported.status !== 200) {
      const text = await exported.body.text();
      throw new UpstreamError(holder, 'GET', path, exported.status, text);
    }
    const contentType = exported.headers['content-type'];
    const headers: Record<string, string> = {
      'content-type': typeof contentType === 'string' ? contentType : 'application/octet-stream',
      'x-lxd-public': image.public ? '1' : '0',
    };
    const imported = await this.opts.fleet
      .client(host)
      .raw('POST', '/1.0/images', exported.body, { headers, signal, timeoutMs: 600_000 });
    const envelope = (await imported.body.json()) as { type: string; error?: string; metadata: LxdOperation };
    if (envelope.type !== 'async') {
      throw new UpstreamError(
        host,
        'POST',
        '/1.0/images',
        imported.status,
        envelope.error ?? 'Image import failed',
      );
    }
    return envelope.metadata;
  }
}
