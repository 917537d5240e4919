// A manager for one integration test file, in front of the shared real LXD fleet, plus `lxc` clients
// pointed at it: `mgr:` over HTTPS (trusted with the trust password) and the unix socket (LXD_DIR).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { inject } from 'vitest';
import { HostClient } from '../../src/lxd/index.js';
import type { LocalHost } from '../../src/localfleet/index.js';
import { startManager, type Manager } from '../../src/server.js';
import { localHostsFromInfo } from './fleet-context.js';

const run = promisify(execFile);

export interface LxcResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface TestManager {
  manager: Manager;
  dataDir: string;
  /** `127.0.0.1:PORT` of the manager's HTTPS listener. */
  address: string;
  /** The manager's API over its unix socket (fully trusted). */
  api: HostClient;
  /** The shared fleet's hosts (stop/start/lxc on them directly). */
  hosts: LocalHost[];
  /** `lxc` with a config dir whose remote `mgr` is the manager over HTTPS. Never throws on exit code. */
  lxc(args: string[], opts?: { input?: string; env?: Record<string, string> }): Promise<LxcResult>;
  /** `lxc` against the manager's unix socket (LXD_DIR=dataDir), as lxd-benchmark and pylxd see it. */
  lxcLocal(args: string[], opts?: { input?: string }): Promise<LxcResult>;
  /** LXD_CONF of `lxc()`. */
  confDir: string;
  stop(): Promise<void>;
}

export const TRUST_PASSWORD = 'manager-secret';

export async function runLxc(
  args: string[],
  env: Record<string, string>,
  input?: string,
): Promise<LxcResult> {
  const child = run('lxc', args, {
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 180_000,
  });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  } else {
    child.child.stdin?.end();
  }
  try {
    const { stdout, stderr } = await child;
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

export interface StartOptions {
  /** How hosts are paired: over HTTPS with their trust password (default) or their unix sockets. */
  pairing?: 'https' | 'unix';
  /** Which fleet hosts to add (default: all). */
  hostNames?: string[];
  healthIntervalMs?: number;
  rescanIntervalMs?: number;
}

export async function startTestManager(opts: StartOptions = {}): Promise<TestManager> {
  const hosts = await localHostsFromInfo(inject('fleet'));
  const dataDir = await mkdtemp(join(tmpdir(), 'lxdpm-test-'));
  const confDir = await mkdtemp(join(tmpdir(), 'lxdpm-lxc-'));
  const logger = pino({ level: process.env.LXDPM_TEST_LOG ?? 'silent' });
  const manager = await startManager({
    dataDir,
    listen: '127.0.0.1:0',
    healthIntervalMs: opts.healthIntervalMs ?? 1000,
    healthTimeoutMs: 2000,
    rescanIntervalMs: opts.rescanIntervalMs ?? 2000,
    logger,
  }).catch(async (err: unknown) => {
    await rm(dataDir, { recursive: true, force: true });
    await rm(confDir, { recursive: true, force: true });
    throw err;
  });
  const api = new HostClient({ name: 'manager', url: `unix://${manager.socketPath}`, timeoutMs: 120_000 });
  const stop = async () => {
    await api.close();
    await manager.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(confDir, { recursive: true, force: true });
  };
  try {
    await api.call('PATCH', '/1.0', { config: { 'core.trust_password': TRUST_PASSWORD } });
    for (const h of hosts) {
      if (opts.hostNames && !opts.hostNames.includes(h.name)) continue;
      const body =
        opts.pairing === 'unix'
          ? { name: h.name, url: `unix://${h.socket}` }
          : { name: h.name, url: h.url, password: h.password, accept_certificate: true };
      await api.call('POST', '/1.0/hosts', body);
    }
    const address = manager.httpsAddress();
    const added = await runLxc(
      ['remote', 'add', 'mgr', `https://${address}`, '--accept-certificate', '--password', TRUST_PASSWORD],
      { LXD_CONF: confDir },
    );
    if (added.code !== 0) throw new Error(`lxc remote add failed: ${added.stderr}`);
    return {
      manager,
      dataDir,
      address,
      api,
      hosts,
      confDir,
      lxc: (args, o) => runLxc(args, { LXD_CONF: confDir, ...o?.env }, o?.input),
      lxcLocal: (args, o) => runLxc(args, { LXD_DIR: dataDir, LXD_CONF: confDir }, o?.input),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Polls a condition until it holds (for state that changes on a health or rescan interval). */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  { timeoutMs = 30_000, intervalMs = 250 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `condition not met in ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
