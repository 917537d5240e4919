import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { readMarker, teardownFleet } from './fleet.js';
import { attachDaemonHost } from './host.js';
import { FLEET_DIR_PREFIX, OWNER_PID_FILE } from './layout.js';
import { isAlive, readCmdline, readPidFile } from './pids.js';

export interface CleanupOptions {
  log?: (msg: string) => void;
  /** Where to look for `lxdpm-fleet-*` roots. Default os.tmpdir(). */
  tmpDir?: string;
}

/** The owner is alive only if its pid still runs node; a reused pid belongs to someone else. */
async function ownerAlive(pid: number | undefined): Promise<boolean> {
  if (pid === undefined) return false;
  if (pid === process.pid) return true;
  if (!(await isAlive(pid))) return false;
  return ((await readCmdline(pid))?.[0] ?? '').includes('node');
}

/**
 * Removes fleets left by earlier runs that crashed or were killed: roots under tmpDir named
 * `lxdpm-fleet-*` that carry our marker file and whose owning process is gone. Only the daemons
 * recorded in their pidfiles (and checked to be lxd on that directory) are stopped.
 */
export async function cleanupStaleFleets(opts: CleanupOptions = {}): Promise<void> {
  const log = opts.log ?? (() => undefined);
  const base = opts.tmpDir ?? tmpdir();
  for (const entry of await readdir(base)) {
    if (!entry.startsWith(FLEET_DIR_PREFIX)) continue;
    const root = join(base, entry);
    const marker = await readMarker(root);
    if (marker === undefined) continue; // not made by startLocalFleet, leave it alone
    const owner = await readPidFile(join(root, OWNER_PID_FILE));
    if (await ownerAlive(owner)) continue;

    log(`removing stale fleet ${root} (owner pid ${owner ?? '?'} is gone)`);
    // A marker naming directories outside its own root is not ours to act on.
    const hostInfos = marker.hosts.filter((info) => dirname(info.dir) === root);
    const hosts = await Promise.all(hostInfos.map((info) => attachDaemonHost(info, { log })));
    await teardownFleet(root, hosts, log);
  }
}
