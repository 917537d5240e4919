// The fleet that global-setup.ts starts, as test files see it. Test files run in worker processes,
// so they get a JSON description through Vitest's provide/inject and rebuild host handles from it.
import { attachLocalHost, type LocalFleetInfo, type LocalHost } from '../../src/localfleet/index.js';

export type FleetInfo = LocalFleetInfo;

declare module 'vitest' {
  export interface ProvidedContext {
    fleet: FleetInfo;
  }
}

/** Host handles whose stop()/start()/lxc() act on the shared fleet's daemons from this worker. */
export async function localHostsFromInfo(info: FleetInfo): Promise<LocalHost[]> {
  return Promise.all(info.hosts.map((host) => attachLocalHost(host)));
}
