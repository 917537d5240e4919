import { basename, dirname, join } from 'node:path';

// Where things live inside a fleet root. Written down once because three parties read the same
// files: the fleet that made them, test workers that reattach to its hosts, and
// cleanupStaleFleets in a later run after a crash.

/** Fleet roots are `${os.tmpdir()}/lxdpm-fleet-XXXXXX` unless the caller picks a root. */
export const FLEET_DIR_PREFIX = 'lxdpm-fleet-';
/** JSON description of the fleet (LocalFleetInfo); its presence marks a directory as a fleet root. */
export const MARKER_FILE = 'lxdpm-fleet.json';
/** Pid of the node process that owns the fleet; a dead owner makes the fleet stale. */
export const OWNER_PID_FILE = 'owner.pid';

/** `ROOT/h1.pid`: pid of the daemon currently running on `ROOT/h1`. */
export function pidFileOf(hostDir: string): string {
  return join(dirname(hostDir), `${basename(hostDir)}.pid`);
}

/** The lxc client's own config dir (LXD_CONF), kept inside the fleet so nothing lands in ~/.config. */
export function clientConfDirOf(hostDir: string): string {
  return join(dirname(hostDir), 'lxc-client');
}

export function logFileOf(hostDir: string): string {
  return join(hostDir, 'lxd.log');
}

/** stdout/stderr of the daemon process (panics and early failures that never reach lxd.log). */
export function outputFileOf(hostDir: string): string {
  return join(hostDir, 'daemon.out');
}
