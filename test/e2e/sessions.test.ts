// Browser sessions without a browser: the sign-in exchange, the cookie, what it opens and what it does
// not, over the manager's real HTTPS listener, and the `lxdpm ui-login` command on its unix socket.
import { Command } from 'commander';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { registerUiLoginCommand } from '../../src/cli/ui-login.js';
import { startTestManager, type TestManager } from '../integration/harness.js';

const insecure = new Agent({ connect: { rejectUnauthorized: false } });

/** Runs `lxdpm --data-dir DIR ARGS…` in process and returns what it printed. */
async function lxdpm(dataDir: string, args: string[]): Promise<string> {
  const program = new Command('lxdpm').option('--data-dir <dir>').option('--format <format>', '', 'table');
  registerUiLoginCommand(program);
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  };
  try {
    await program.parseAsync(['node', 'lxdpm', '--data-dir', dataDir, ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out.join('');
}

describe('web UI sessions', () => {
  let t: TestManager;
  let base: string;
  let cookie: string;

  const get = (path: string, headers: Record<string, string> = {}) =>
    request(`${base}${path}`, { dispatcher: insecure, headers });

  const signIn = async (): Promise<string> => {
    const printed = await lxdpm(t.dataDir, ['ui-login']);
    const url = /https:\/\/\S+/.exec(printed)?.[0] ?? '';
    const token = new URL(url).searchParams.get('token') ?? '';
    const res = await request(`${base}/ui/session`, {
      dispatcher: insecure,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const setCookie = String(res.headers['set-cookie']);
    return setCookie.split(';')[0] ?? '';
  };

  beforeAll(async () => {
    t = await startTestManager({ hostNames: ['h1'] });
    base = `https://${t.address}`;
  });
  afterAll(async () => {
    await (t as TestManager | undefined)?.stop();
    await insecure.close();
  });

  it('prints a one-time link to the manager that signs in once', async () => {
    const printed = await lxdpm(t.dataDir, ['ui-login']);
    expect(printed).toContain(`${base}/ui/login?token=`);
    const token = new URL(/https:\/\/\S+/.exec(printed)?.[0] ?? '').searchParams.get('token') ?? '';
    const exchange = () =>
      request(`${base}/ui/session`, {
        dispatcher: insecure,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
      });
    const first = await exchange();
    expect(first.statusCode).toBe(200);
    await first.body.dump();
    expect(String(first.headers['set-cookie'])).toMatch(
      /^lxdpm_session=[\w-]{20,}; Path=\/; Max-Age=43(19\d|200); Secure; HttpOnly; SameSite=Strict$/,
    );
    const second = await exchange();
    expect(second.statusCode).toBe(403);
    expect(((await second.body.json()) as { error: string }).error).toMatch(
      /invalid, expired or already used/,
    );
  });

  it('serves the app to anyone but the API only with a valid session', async () => {
    const page = await get('/ui/instances/some-name');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(String(page.headers['content-security-policy'])).toContain("default-src 'self'");
    expect(await page.body.text()).toContain('<div id="root">');

    const closed = await get('/1.0/instances');
    expect(closed.statusCode).toBe(403);
    await closed.body.dump();

    cookie = await signIn();
    const open = await get('/1.0/instances', { cookie });
    expect(open.statusCode).toBe(200);
    await open.body.dump();
    const server = (await (await get('/1.0', { cookie })).body.json()) as { metadata: { auth: string } };
    expect(server.metadata.auth).toBe('trusted');
  });

  it.each([
    ['a forged session', () => ({ cookie: 'lxdpm_session=forged-value' })],
    ['a request from another site', () => ({ cookie, origin: 'https://evil.example' })],
  ])('keeps %s untrusted', async (_what, headers) => {
    const res = await get('/1.0/instances', headers());
    expect(res.statusCode).toBe(403);
    await res.body.dump();
  });

  it('opens the event stream websocket with the session cookie, and not without', async () => {
    const connect = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`wss://${t.address}/1.0/events`, { rejectUnauthorized: false, headers });
        ws.once('open', () => {
          ws.close();
          resolve(101);
        });
        ws.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.once('error', () => undefined);
      });
    expect(await connect({ cookie, origin: base })).toBe(101);
    expect(await connect({})).toBe(403);
  });

  it('lists sessions and signs every one out', async () => {
    expect(await lxdpm(t.dataDir, ['ui-login', '--list'])).toMatch(/ID\s*\|\s*SIGNED IN\s*\|\s*EXPIRES/);
    expect(await lxdpm(t.dataDir, ['ui-login', '--revoke-all'])).toMatch(
      /Signed out [1-9]\d* web UI sessions?/,
    );
    const res = await get('/1.0/instances', { cookie });
    expect(res.statusCode).toBe(403);
    await res.body.dump();
  });
});
