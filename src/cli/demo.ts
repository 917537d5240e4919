import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupStaleFleets, startLocalFleet, type LocalFleet, type LocalHost } from '../localfleet/index.js';
import { startManager, type Manager } from '../server.js';
import { encodeToken } from '../trust/index.js';
import { managerClient } from './manager-client.js';
import { createUiLoginLink } from './ui-login.js';

export interface DemoOptions {
  listen: string;
  dataDir?: string;
  hostCount?: number;
}

/** Creates a join token on a host, as its administrator would with `lxc config trust add`. */
async function hostToken(host: LocalHost, name: string): Promise<string> {
  const res = await host.lxc(['config', 'trust', 'add', '--name', name, '--quiet']);
  const token = res.stdout.trim().split('\n').pop()?.trim() ?? '';
  if (res.code !== 0 || token === '')
    throw new Error(`could not create a token on ${host.name}: ${res.stderr}`);
  return token;
}

/**
 * `lxdpm demo`: three local LXD hosts, a manager on SQLite in front of them, paired through each of the
 * three ways (trust password, join token, unix socket), until interrupted; then everything is removed.
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const say = (msg: string) => process.stdout.write(`${msg}\n`);
  let fleet: LocalFleet | undefined;
  let manager: Manager | undefined;
  const ownDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'lxdpm-demo-')));

  const cleanup = async () => {
    say('\nStopping the manager and removing the demo hosts...');
    await manager?.stop().catch(() => undefined);
    // Before the fleet: the fleet's own signal hook may end the process once its daemons are gone.
    if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    await fleet?.teardown().catch(() => undefined);
    say('Done.');
  };

  try {
    await cleanupStaleFleets();
    say(`Starting ${opts.hostCount ?? 3} LXD hosts...`);
    fleet = await startLocalFleet({ count: opts.hostCount ?? 3, basePort: 18540, log: (m) => say(`  ${m}`) });
    manager = await startManager({ dataDir, listen: opts.listen });
    const client = managerClient(dataDir);
    const [first, second, ...rest] = fleet.hosts;
    const pairings: {
      name: string;
      url: string;
      password?: string;
      token?: string;
      accept_certificate?: boolean;
    }[] = [];
    if (first)
      pairings.push({ name: first.name, url: first.url, password: first.password, accept_certificate: true });
    if (second)
      pairings.push({ name: second.name, url: second.url, token: await hostToken(second, 'lxdpm-demo') });
    for (const h of rest) pairings.push({ name: h.name, url: `unix://${h.socket}` });
    for (const p of pairings) {
      await client.call('POST', '/1.0/hosts', p);
      say(
        `Host ${p.name} paired (${p.password !== undefined ? 'trust password' : p.token !== undefined ? 'join token' : 'unix socket'})`,
      );
    }
    const tokenOp = await client.call<{ metadata?: { secret?: string } }>('POST', '/1.0/certificates', {
      name: 'demo-client',
      type: 'client',
      token: true,
    });
    const op = await client.get<{ metadata: { secret: string; fingerprint: string; addresses: string[] } }>(
      tokenOp.operation,
    );
    const token = encodeToken({
      client_name: 'demo-client',
      fingerprint: op.metadata.fingerprint,
      addresses: op.metadata.addresses,
      secret: op.metadata.secret,
      expires_at: '0001-01-01T00:00:00Z',
    });
    const uiLink = await createUiLoginLink(client);
    await client.close();

    say('');
    say(`lxdpm is serving https://${manager.httpsAddress()} in front of ${fleet.hosts.length} LXD hosts.`);
    say('');
    say('Use it with the lxc client:');
    say(`  lxc remote add lxdpm ${token}`);
    say('  lxc cluster list lxdpm:');
    say('  lxc list lxdpm:');
    say('Or locally, through the unix socket:');
    say(`  LXD_DIR=${dataDir} lxc cluster list`);
    say(`  node bin/lxdpm.js --data-dir ${dataDir} host list`);
    say('');
    say('Or in a browser, with the web UI (one-time link, valid for 10 minutes):');
    say(`  ${uiLink.url}`);
    say(`  a new link: node bin/lxdpm.js --data-dir ${dataDir} ui-login`);
    say('');
    say('Press Ctrl+C to stop and remove everything.');

    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  } finally {
    await cleanup();
  }
}
