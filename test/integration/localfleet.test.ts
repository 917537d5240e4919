import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LocalHost } from '../../src/localfleet/index.js';
import { localHostsFromInfo } from './fleet-context.js';

const fleet = inject('fleet');
let hosts: LocalHost[];

beforeAll(async () => {
  hosts = await localHostsFromInfo(fleet);
});

/** GET url/1.0 over HTTPS as an untrusted client would; curl's exit code tells refusals apart. */
async function curlApi(url: string): Promise<{ code: number; body: unknown }> {
  try {
    const { stdout } = await promisify(execFile)('curl', ['-k', '-s', '--max-time', '10', `${url}/1.0`]);
    return { code: 0, body: JSON.parse(stdout) };
  } catch (err) {
    return {
      code: typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1,
      body: undefined,
    };
  }
}

async function query(host: LocalHost, path: string): Promise<unknown> {
  const result = await host.lxc(['query', path]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

/** Gone or a zombie: a daemon started by another process may wait a moment to be reaped. */
async function isProcessGone(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

describe('local LXD fleet', () => {
  it('has three hosts, each answering on its unix socket with its own address configured', async () => {
    expect(hosts.map((host) => host.name)).toEqual(['h1', 'h2', 'h3']);
    expect(new Set(hosts.map((host) => host.address)).size).toBe(3);
    for (const host of hosts) {
      expect(host.pid()).toBeTypeOf('number');
      const server = await query(host, '/1.0');
      expect(server).toMatchObject({
        auth: 'trusted',
        config: { 'core.https_address': host.address, 'core.trust_password': true },
        environment: { server_name: expect.any(String) as unknown },
      });
    }
  });

  it('answers HTTPS on each host address', async () => {
    for (const host of hosts) {
      const { code, body } = await curlApi(host.url);
      expect(code).toBe(0);
      expect(body).toMatchObject({ type: 'sync', metadata: { api_version: '1.0', auth: 'untrusted' } });
    }
  });

  it('has the busybox image under its alias on every host', async () => {
    expect(fleet.image.alias).toBe('busybox');
    expect(fleet.image.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    for (const host of hosts) {
      const alias = await query(host, '/1.0/images/aliases/busybox');
      expect(alias).toMatchObject({ target: fleet.image.fingerprint });
    }
  });

  describe('busybox containers', () => {
    const names = ['lf-c1', 'lf-c2', 'lf-c3'];

    afterAll(async () => {
      await Promise.all(hosts.map((host, i) => host.lxc(['delete', '--force', names[i] ?? ''])));
    });

    it('launch on every host, reach Running and run a command', async () => {
      // Distinct names per host: containers of different daemons share the machine's cgroup names.
      await Promise.all(
        hosts.map(async (host, i) => {
          const name = names[i] ?? '';
          const launched = await host.lxc(['launch', 'busybox', name]);
          expect(launched.code, launched.stderr).toBe(0);
          expect(await query(host, `/1.0/instances/${name}`)).toMatchObject({ status: 'Running' });
          const echoed = await host.lxc(['exec', name, '--', 'echo', 'hi']);
          expect(echoed).toMatchObject({ code: 0, stdout: 'hi\n' });
        }),
      );
    });
  });

  it('stops one host and starts it again on the same address', async () => {
    const host = hosts[2];
    if (host === undefined) throw new Error('fleet has no h3');
    const before = host.pid();
    if (before === undefined) throw new Error('h3 is not running');

    await host.stop();
    expect(host.pid()).toBeUndefined();
    expect(await isProcessGone(before)).toBe(true);
    expect((await host.lxc(['info'])).code).not.toBe(0);
    expect((await curlApi(host.url)).code).toBe(7); // connection refused
    // The other hosts do not notice.
    expect((await hosts[0]?.lxc(['info']))?.code).toBe(0);

    await host.start();
    expect(host.pid()).toBeTypeOf('number');
    expect(host.pid()).not.toBe(before);
    expect(await query(host, '/1.0')).toMatchObject({ config: { 'core.https_address': host.address } });
    expect((await curlApi(host.url)).code).toBe(0);
    expect(await query(host, '/1.0/images/aliases/busybox')).toMatchObject({
      target: fleet.image.fingerprint,
    });
  });
});
