// One real LXD fleet per integration run (SPEC §7): started once here, shared by every test file,
// torn down at the end. Leftovers of a run that crashed are removed first.
import { performance } from 'node:perf_hooks';
import type { TestProject } from 'vitest/node';
import { cleanupStaleFleets, fleetInfo, startLocalFleet } from '../../src/localfleet/index.js';
import './fleet-context.js';

function log(msg: string): void {
  if (process.env.LXDPM_FLEET_DEBUG) console.log(`[localfleet] ${msg}`);
}

// Several projects (integration, e2e) use this setup; in one `vitest run` they share one fleet.
const SHARED = Symbol.for('lxdpm.test.fleet');
type SharedFleet = { [SHARED]?: ReturnType<typeof fleetInfo> };

export default async function setup({ provide }: TestProject): Promise<() => Promise<void>> {
  const shared = (globalThis as SharedFleet)[SHARED];
  if (shared !== undefined) {
    provide('fleet', shared);
    return () => Promise.resolve();
  }
  await cleanupStaleFleets({ log });
  const started = performance.now();
  const basePort = process.env.LXDPM_FLEET_BASE_PORT ? Number(process.env.LXDPM_FLEET_BASE_PORT) : undefined;
  const fleet = await startLocalFleet({ count: 3, log, basePort });
  console.log(
    `[localfleet] ${fleet.hosts.length} LXD hosts ready in ${Math.round(performance.now() - started)} ms ` +
      `(${fleet.hosts.map((host) => `${host.name}=${host.address}`).join(', ')}) at ${fleet.root}`,
  );
  // A daemon that crashes mid-run is shown with its last words and started again, so the failure stays
  // with the tests that were running when it happened instead of spreading to every later file.
  fleet.supervise(({ host, pid, lastWords, restart }) => {
    console.log(`[localfleet] ${host}: lxd pid ${pid} exited unasked; ${restart}\n${lastWords}`);
  });
  provide('fleet', fleetInfo(fleet));
  (globalThis as SharedFleet)[SHARED] = fleetInfo(fleet);

  return async () => {
    const begun = performance.now();
    (globalThis as SharedFleet)[SHARED] = undefined;
    await fleet.teardown();
    console.log(`[localfleet] fleet torn down in ${Math.round(performance.now() - begun)} ms`);
  };
}
