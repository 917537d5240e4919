import type { Fleet } from '../fleet/index.js';
import { isUnixUrl, type LxdServer } from '../lxd/index.js';
import type { Store } from '../store/index.js';

/** Where another host can reach a host directly, and the certificate to pin when it does. */
export interface HttpsEndpoint {
  url: string;
  certificate: string;
}

/**
 * The HTTPS endpoint of a host for host-to-host transfers (image pulls, migrations). Hosts paired over
 * HTTPS are reached at their paired URL with their pinned certificate; hosts paired over a unix socket
 * are asked for their own `environment.addresses`. Undefined when the host serves no HTTPS at all.
 */
export async function httpsEndpoint(
  fleet: Fleet,
  store: Store,
  host: string,
): Promise<HttpsEndpoint | undefined> {
  const view = fleet.get(host);
  if (!isUnixUrl(view.url)) {
    const record = await store.getHost(host);
    if (record !== undefined && record.certificate !== '') {
      return { url: view.url, certificate: record.certificate };
    }
  }
  const server = await fleet.client(host).get<LxdServer>('/1.0', { timeoutMs: 10_000 });
  const address = server.environment.addresses[0];
  if (address === undefined || address === '' || server.environment.certificate === '') return undefined;
  return { url: `https://${address}`, certificate: server.environment.certificate };
}
