import { join } from 'node:path';
import { HostClient } from '../lxd/index.js';

/** The CLI's connection to the running manager: its unix socket, fully trusted, like `lxc` to `lxd`. */
export function managerClient(dataDir: string): HostClient {
  return new HostClient({
    name: 'manager',
    url: `unix://${join(dataDir, 'unix.socket')}`,
    timeoutMs: 120_000,
  });
}

export function defaultDataDir(): string {
  return process.env.LXDPM_DIR ?? '/var/lib/lxdpm';
}
