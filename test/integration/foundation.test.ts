// The foundation as users meet it: `lxc remote add` to the manager (password, token), the manager's own
// identity in `lxc info`, pairing hosts with `lxdpm host add` (password, token, unix) and its failures,
// the fleet as cluster members with health, and LXD-style errors for bad requests.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { request as httpsRequestRaw } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFingerprint, generateKeyPair, type KeyPair } from '../../src/trust/index.js';
import { eventually, runLxc, startTestManager, TRUST_PASSWORD, type TestManager } from './harness.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '../../bin/lxdpm.js');

async function lxdpm(
  dataDir: string,
  args: string[],
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run('node', [cli, '--data-dir', dataDir, ...args], { timeout: 60_000 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

type ErrorJson = { type: string; error_code: number; error: string };

/** Sends a request and reads the JSON answer, to see exactly what a client would get. */
async function requestJson(
  send: (onResponse: (res: IncomingMessage) => void) => ClientRequest,
  body?: string | Buffer,
): Promise<{ status: number; json: ErrorJson }> {
  return new Promise((resolve, reject) => {
    const req = send((res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as ErrorJson,
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A raw request over the manager's unix socket. */
async function rawRequest(socketPath: string, method: string, path: string, body?: string | Buffer) {
  return requestJson(
    (onResponse) =>
      request({ socketPath, method, path, headers: { 'content-type': 'application/json' } }, onResponse),
    body,
  );
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return port;
}

/** A request over HTTPS presenting a given client certificate. */
async function httpsRequest(address: string, method: string, path: string, client: KeyPair) {
  const [host, port] = address.split(':');
  return requestJson(
    (onResponse) =>
      httpsRequestRaw(
        {
          host,
          port: Number(port),
          method,
          path,
          cert: client.cert,
          key: client.key,
          rejectUnauthorized: false,
        },
        onResponse,
      ),
    method === 'GET' ? undefined : '{}',
  );
}

describe('clients pair with the manager', () => {
  let t: TestManager;
  const dirs: string[] = [];

  beforeAll(async () => {
    t = await startTestManager({ hostNames: [] });
  });
  afterAll(async () => {
    await t.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function freshConf(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'lxdpm-conf-'));
    dirs.push(d);
    return d;
  }

  it('trusts a client that gives the trust password, and lxc info shows the manager itself', async () => {
    const info = await t.lxc(['info', 'mgr:']);
    expect(info.code).toBe(0);
    expect(info.stdout).toContain('auth: trusted');
    expect(info.stdout).toContain(`- ${t.address}`);
    expect(info.stdout).toContain(`certificate_fingerprint: ${t.manager.fingerprint}`);
    expect(info.stdout).toContain('server_clustered: true');
    expect(certificateFingerprint(t.manager.certificate)).toBe(t.manager.fingerprint);
  });

  it('refuses a wrong password and leaves the client untrusted', async () => {
    const conf = await freshConf();
    const added = await runLxc(
      [
        'remote',
        'add',
        'bad',
        `https://${t.address}`,
        '--accept-certificate',
        '--password',
        'not-the-password',
      ],
      { LXD_CONF: conf },
    );
    expect(added.code).not.toBe(0);
    expect(added.stderr).toContain('not authorized');
    const trusted = await t.api.get<unknown[]>('/1.0/certificates');
    expect(trusted).toHaveLength(1); // only the harness's own client
  });

  it('trusts a client that presents a single-use token from `lxc config trust add`', async () => {
    // lxc 5.0.2 makes tokens only on the default remote.
    expect((await t.lxc(['remote', 'switch', 'mgr'])).code).toBe(0);
    const made = await t.lxc(['config', 'trust', 'add', '--name', 'tokclient', '--quiet']);
    expect(made.stderr).not.toContain('Error');
    expect((await t.lxc(['config', 'trust', 'list-tokens', 'mgr:', '--format', 'csv'])).stdout).toContain(
      'tokclient',
    );
    const token = made.stdout.trim();
    const conf = await freshConf();
    const added = await runLxc(['remote', 'add', 'tok', token], { LXD_CONF: conf });
    expect(added.stderr).not.toContain('Error');
    expect(added.code).toBe(0);
    const list = await runLxc(['config', 'trust', 'list', 'tok:', '--format', 'csv'], { LXD_CONF: conf });
    expect(list.stdout).toContain('tokclient');
    // Single use: a second client cannot reuse it.
    const again = await runLxc(['remote', 'add', 'tok2', token], { LXD_CONF: await freshConf() });
    expect(again.code).not.toBe(0);
  });
});

describe('lxdpm host add', () => {
  let t: TestManager;

  beforeAll(async () => {
    t = await startTestManager({ hostNames: [] });
  });
  afterAll(async () => {
    await t.stop();
  });

  async function hostNames(): Promise<string[]> {
    const hosts = await t.api.get<{ name: string }[]>('/1.0/hosts', { query: { recursion: '1' } });
    return hosts.map((h) => h.name);
  }

  it('refuses a wrong host password and stores nothing', async () => {
    const h1 = t.hosts[0];
    if (!h1) throw new Error('fleet has no hosts');
    const res = await lxdpm(t.dataDir, [
      'host',
      'add',
      'h1',
      h1.url,
      '--password',
      'wrong',
      '--accept-certificate',
    ]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/refused the manager.*wrong trust password/);
    expect(await hostNames()).toEqual([]);
  });

  it('refuses an unreachable URL and stores nothing', async () => {
    const res = await lxdpm(t.dataDir, [
      'host',
      'add',
      'gone',
      'https://127.0.0.1:9',
      '--password',
      'x',
      '--accept-certificate',
    ]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('Unable to connect to https://127.0.0.1:9');
    expect(await hostNames()).toEqual([]);
  });

  it('refuses a certificate that does not match the given fingerprint', async () => {
    const h1 = t.hosts[0];
    if (!h1) throw new Error('fleet has no hosts');
    const res = await lxdpm(t.dataDir, [
      'host',
      'add',
      'h1',
      h1.url,
      '--password',
      h1.password,
      '--fingerprint',
      'ab'.repeat(32),
    ]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('Certificate fingerprint mismatch');
    expect(await hostNames()).toEqual([]);
  });

  it('pairs hosts by password, token and unix socket, and refuses a duplicate name', async () => {
    const [h1, h2, h3] = t.hosts;
    if (!h1 || !h2 || !h3) throw new Error('fleet needs three hosts');
    const byPassword = await lxdpm(t.dataDir, [
      'host',
      'add',
      'h1',
      h1.url,
      '--password',
      h1.password,
      '--accept-certificate',
    ]);
    expect(byPassword.stderr).not.toContain('Error');
    expect(byPassword.stdout).toContain('Host h1 added (Online');

    const made = await h2.lxc(['config', 'trust', 'add', '--name', `lxdpm-test-${Date.now()}`, '--quiet']);
    expect(made.code).toBe(0);
    const byToken = await lxdpm(t.dataDir, ['host', 'add', 'h2', h2.url, '--token', made.stdout.trim()]);
    expect(byToken.stderr).not.toContain('Error');
    expect(byToken.stdout).toContain('Host h2 added (Online');

    const byUnix = await lxdpm(t.dataDir, ['host', 'add', 'h3', `unix://${h3.socket}`]);
    expect(byUnix.stdout).toContain('Host h3 added (Online');

    const duplicate = await lxdpm(t.dataDir, [
      'host',
      'add',
      'h1',
      h1.url,
      '--password',
      h1.password,
      '--accept-certificate',
    ]);
    expect(duplicate.code).not.toBe(0);
    expect(duplicate.stderr).toContain('Host "h1" already exists');

    const list = await lxdpm(t.dataDir, ['host', 'list', '--format', 'json']);
    const hosts = JSON.parse(list.stdout) as {
      name: string;
      status: string;
      server_version: string;
      cpus: number;
    }[];
    expect(hosts.map((h) => [h.name, h.status])).toEqual([
      ['h1', 'Online'],
      ['h2', 'Online'],
      ['h3', 'Online'],
    ]);
    expect(hosts.every((h) => h.server_version.startsWith('5.') && h.cpus > 0)).toBe(true);

    const removed = await lxdpm(t.dataDir, ['host', 'remove', 'h3']);
    expect(removed.code).toBe(0);
    expect(await hostNames()).toEqual(['h1', 'h2']);
  });
});

describe('the fleet as an LXD cluster', () => {
  let t: TestManager;

  beforeAll(async () => {
    t = await startTestManager({ healthIntervalMs: 500 });
  });
  afterAll(async () => {
    await t.stop();
  });

  async function members(): Promise<Map<string, string>> {
    const res = await t.lxc(['cluster', 'list', 'mgr:', '--format', 'csv']);
    expect(res.code).toBe(0);
    return new Map(
      res.stdout
        .trim()
        .split('\n')
        .map((line) => {
          const cols = line.split(',');
          return [cols[0] ?? '', cols[6] ?? ''];
        }),
    );
  }

  it('shows one Online member per host, Offline while its daemon is down, Online again after', async () => {
    expect(await members()).toEqual(
      new Map([
        ['h1', 'ONLINE'],
        ['h2', 'ONLINE'],
        ['h3', 'ONLINE'],
      ]),
    );
    const h3 = t.hosts[2];
    if (!h3) throw new Error('fleet needs three hosts');
    await h3.stop();
    try {
      await eventually(async () => (await members()).get('h3') === 'OFFLINE', { timeoutMs: 15_000 });
      const member = await t.api.get<{ status: string; message: string }>('/1.0/cluster/members/h3');
      expect(member.status).toBe('Offline');
      expect(member.message).not.toBe('');
    } finally {
      await h3.start();
    }
    await eventually(async () => (await members()).get('h3') === 'ONLINE', { timeoutMs: 30_000 });
  });
});

describe('bad requests get LXD errors and the manager keeps serving', () => {
  let t: TestManager;

  beforeAll(async () => {
    t = await startTestManager({ hostNames: [] });
  });
  afterAll(async () => {
    await t.stop();
  });

  it.each([
    ['malformed JSON', 'PATCH', '/1.0', '{"config": ', 400, /Invalid JSON body/],
    ['an oversized JSON body', 'PUT', '/1.0', Buffer.alloc(9 * 1024 * 1024, 0x20), 413, /larger than/],
    ['an unknown endpoint', 'GET', '/1.0/no-such-thing', undefined, 404, /not found/],
    ['an unknown config key', 'PATCH', '/1.0', '{"config":{"core.nope":"1"}}', 400, /Invalid config key/],
  ])('answers %s with an error envelope', async (_what, method, path, body, status, message) => {
    const res = await rawRequest(t.manager.socketPath, method, path, body);
    expect(res.status).toBe(status);
    expect(res.json.type).toBe('error');
    expect(res.json.error_code).toBe(status);
    expect(res.json.error).toMatch(message);
    const still = await t.lxc(['info', 'mgr:']);
    expect(still.code).toBe(0);
  });

  it('moves the HTTPS listener when core.https_address changes, and stores it', async () => {
    const port = await freePort();
    const set = await t.lxcLocal(['config', 'set', 'core.https_address', `127.0.0.1:${port}`]);
    expect(set.stderr).not.toContain('Error');
    const moved = t.manager.httpsAddress();
    expect(moved).toBe(`127.0.0.1:${port}`);
    const { status } = await httpsRequest(moved, 'GET', '/1.0', await generateKeyPair('probe'));
    expect(status).toBe(200);
    expect(await t.manager.store.getConfig('core.https_address')).toBe(moved);
    const shown = await t.lxcLocal(['config', 'get', 'core.https_address']);
    expect(shown.stdout.trim()).toBe(moved);
    // The old address is closed.
    await expect(httpsRequest(t.address, 'GET', '/1.0', await generateKeyPair('probe'))).rejects.toThrow();
    const bad = await t.lxcLocal(['config', 'set', 'core.https_address', '203.0.113.1:8443']);
    expect(bad.code).not.toBe(0);
    expect(t.manager.httpsAddress()).toBe(moved);
  });

  it('keeps the trust password hashed and shows it as true', async () => {
    const server = await t.api.get<{ config: Record<string, unknown> }>('/1.0');
    expect(server.config['core.trust_password']).toBe(true);
    const stored = await t.manager.store.getConfig('core.trust_password');
    expect(stored).toMatch(/^scrypt\$/);
    expect(stored).not.toContain(TRUST_PASSWORD);
  });

  it('refuses everything but GET /, GET /1.0 and POST /1.0/certificates to untrusted clients', async () => {
    const stranger = await generateKeyPair('stranger');
    const ask = async (method: string, path: string) => {
      const { status, json } = await httpsRequest(t.manager.httpsAddress(), method, path, stranger);
      return [status, json.error] as const;
    };
    expect((await ask('GET', '/'))[0]).toBe(200);
    expect((await ask('GET', '/1.0'))[0]).toBe(200);
    expect(await ask('GET', '/1.0/hosts')).toEqual([403, 'not authorized']);
    expect(await ask('GET', '/1.0/certificates')).toEqual([403, 'not authorized']);
    expect(await ask('PATCH', '/1.0')).toEqual([403, 'not authorized']);
    expect(await ask('POST', '/1.0/certificates')).toEqual([403, 'not authorized']);
  });
});
