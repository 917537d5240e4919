// Exec and console through the manager, against containers on different hosts: the real `lxc` client
// (non-interactive, piped stdin, a terminal in tmux, signals), pylxd over the unix socket, and the
// operation websockets driven directly.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runCommand } from '../../src/localfleet/command.js';
import { HostClient, type LxdOperation } from '../../src/lxd/index.js';
import { eventually, startTestManager, type TestManager } from './harness.js';
import { deleteOnePerHost, launchOnePerHost } from './instance-helpers.js';

const NAMES = ['ex-c1', 'ex-c2', 'ex-c3'] as const;
let t: TestManager;

beforeAll(async () => {
  t = await startTestManager();
  await launchOnePerHost(t.hosts, NAMES);
  await t.manager.locations.rescan();
});

afterAll(async () => {
  await deleteOnePerHost(t.hosts, NAMES);
  await t.stop();
});

/** Runs something against host i's own API, over its unix socket. */
async function direct<T>(i: number, f: (host: HostClient) => Promise<T>): Promise<T> {
  const h = t.hosts[i];
  if (!h) throw new Error(`no host ${i}`);
  const client = new HostClient({ name: h.name, url: `unix://${h.socket}` });
  try {
    return await f(client);
  } finally {
    await client.close();
  }
}

interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | undefined;
  op: LxdOperation;
}

/** Reads one exec output socket to its end (an empty text frame, or the socket closing). */
async function readStream(socket: WebSocket): Promise<string> {
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => {
    socket.on('message', (data: Buffer, binary) => {
      if (!binary && data.length === 0) resolve();
      else chunks.push(data);
    });
    socket.on('close', () => {
      resolve();
    });
    socket.on('error', () => {
      resolve();
    });
  });
  return Buffer.concat(chunks).toString();
}

/** Opens an operation websocket and waits until it is connected, or refused (status and LXD error). */
async function openSocket(
  url: string | WebSocket | undefined,
  path: string,
  opts: WebSocket.ClientOptions = {},
) {
  const socket =
    url === undefined
      ? t.api.websocket(path)
      : typeof url === 'string'
        ? new WebSocket(url + path, opts)
        : url;
  const { status, error } = await new Promise<{ status: number; error?: string }>((resolve) => {
    socket.once('open', () => {
      resolve({ status: 101 });
    });
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, error: (JSON.parse(body) as { error: string }).error });
      });
    });
    socket.once('error', () => {
      resolve({ status: 0 });
    });
  });
  return { socket, status, error };
}

/** Runs a command with the exec API and its websockets, as pylxd does (no control socket). */
async function apiExec(
  name: string,
  command: string[],
  opts: { stdin?: string; collection?: string; query?: string } = {},
): Promise<ExecResult> {
  const { status, envelope } = await t.api.request(
    'POST',
    `/1.0/${opts.collection ?? 'instances'}/${name}/exec`,
    {
      command,
      environment: {},
      'wait-for-websocket': true,
      interactive: false,
    },
  );
  expect(status).toBe(202);
  if (envelope.type !== 'async') throw new Error(`not async: ${JSON.stringify(envelope)}`);
  const op = envelope.metadata;
  const fds = (op.metadata as { fds: Record<string, string> }).fds;
  const path = (fd: string) =>
    `/1.0/operations/${op.id}/websocket?secret=${fds[fd] ?? ''}${opts.query === undefined ? '' : `&${opts.query}`}`;
  const stdin = await openSocket(undefined, path('0'));
  const stdout = await openSocket(undefined, path('1'));
  const stderr = await openSocket(undefined, path('2'));
  expect([stdin.status, stdout.status, stderr.status]).toEqual([101, 101, 101]);
  const out = readStream(stdout.socket);
  const err = readStream(stderr.socket);
  if (opts.stdin !== undefined) stdin.socket.send(Buffer.from(opts.stdin), { binary: true });
  stdin.socket.send('', { binary: false });
  const [o, e] = await Promise.all([out, err]);
  const done = await t.api.get<LxdOperation>(`/1.0/operations/${op.id}/wait`);
  stdin.socket.close();
  return { stdout: o, stderr: e, code: (done.metadata as { return?: number } | null)?.return, op: done };
}

describe('exec through the operation websockets', () => {
  it('runs a command on each host and returns its output, exit code and host operation', async () => {
    const results = await Promise.all(
      NAMES.map((name) =>
        apiExec(name, ['sh', '-c', `cat; echo "on $(hostname)" >&2; exit 3`], { stdin: `in-${name}\n` }),
      ),
    );
    results.forEach((r, i) => {
      expect(r.stdout).toBe(`in-${NAMES[i]}\n`);
      expect(r.stderr).toBe(`on ${NAMES[i]}\n`);
      expect(r.code).toBe(3);
      expect(r.op).toMatchObject({ class: 'websocket', status: 'Success', location: t.hosts[i]?.name });
    });
  });

  it('serves the legacy /1.0/containers path and tolerates ?project= and ?target= on the websocket', async () => {
    const r = await apiExec('ex-c2', ['echo', 'legacy'], {
      collection: 'containers',
      query: `project=default&target=${t.hosts[1]?.name ?? ''}`,
    });
    expect(r).toMatchObject({ stdout: 'legacy\n', stderr: '', code: 0 });
  });

  it('passes environment, user, group and cwd on to the host', async () => {
    const { envelope } = await t.api.request('POST', '/1.0/instances/ex-c3/exec', {
      command: ['sh', '-c', 'echo "$FOO $(id -u):$(id -g) $(pwd)"'],
      environment: { FOO: 'bar' },
      'wait-for-websocket': false,
      'record-output': true,
      user: 1234,
      group: 2345,
      cwd: '/tmp',
    });
    if (envelope.type !== 'async') throw new Error(JSON.stringify(envelope));
    const op = await t.api.get<LxdOperation>(`/1.0/operations/${envelope.metadata.id}/wait`);
    const meta = op.metadata as { return: number; output: Record<string, string> };
    expect(meta.return).toBe(0);
    const out = await t.api.raw('GET', meta.output['1'] ?? '');
    expect(await out.body.text()).toBe('bar 1234:2345 /tmp\n');
  });

  it('records output to logs that can be listed, read and deleted', async () => {
    const { status, envelope } = await t.api.request('POST', '/1.0/containers/ex-c1/exec', {
      command: ['sh', '-c', 'echo rec-out; echo rec-err >&2; exit 2'],
      'wait-for-websocket': false,
      'record-output': true,
    });
    expect(status).toBe(202);
    if (envelope.type !== 'async') throw new Error(JSON.stringify(envelope));
    const op = await t.api.get<LxdOperation>(`/1.0/operations/${envelope.metadata.id}/wait`);
    expect(op.location).toBe(t.hosts[0]?.name);
    const meta = op.metadata as { return: number; output: Record<string, string> };
    expect(meta.return).toBe(2);
    const stdoutPath = meta.output['1'] ?? '';
    const stderrPath = meta.output['2'] ?? '';
    expect(stdoutPath).toMatch(/^\/1\.0\/instances\/ex-c1\/logs\/exec_.*\.stdout$/);

    const logs = await t.api.get<string[]>('/1.0/instances/ex-c1/logs');
    expect(logs).toEqual(expect.arrayContaining([stdoutPath, stderrPath]));
    const out = await t.api.raw('GET', stdoutPath);
    expect(out.status).toBe(200);
    expect(out.headers['x-lxdpm-host']).toBe(t.hosts[0]?.name);
    expect(await out.body.text()).toBe('rec-out\n');
    const err = await t.api.raw('GET', stderrPath.replace('/instances/', '/containers/'));
    expect(await err.body.text()).toBe('rec-err\n');

    await t.api.call('DELETE', stdoutPath);
    // Gone, with whatever the host itself answers for a missing log.
    const gone = await t.api.request('GET', stdoutPath);
    const fromHost = await direct(0, (h) => h.request('GET', stdoutPath));
    expect(gone.status).toBeGreaterThanOrEqual(400);
    expect(gone.envelope).toEqual(fromHost.envelope);
    // The host's own rules apply: lxc.log may not be deleted.
    const refused = await t.api.request('DELETE', '/1.0/instances/ex-c1/logs/lxc.log');
    expect(refused.envelope).toMatchObject({ type: 'error', error_code: 400 });
  });

  it('refuses a wrong secret with the host error, and a missing instance or operation with 404', async () => {
    const { envelope } = await t.api.request('POST', '/1.0/instances/ex-c1/exec', {
      command: ['sleep', '1'],
      'wait-for-websocket': true,
      interactive: false,
    });
    if (envelope.type !== 'async') throw new Error(JSON.stringify(envelope));
    const path = `/1.0/operations/${envelope.metadata.id}/websocket?secret=nope`;
    const wrong = await openSocket(undefined, path);
    const fromHost = await direct(0, (h) => openSocket(h.websocket(path), path));
    expect(fromHost.status).toBeGreaterThanOrEqual(400);
    expect({ status: wrong.status, error: wrong.error }).toEqual({
      status: fromHost.status,
      error: fromHost.error,
    });

    const unknown = await openSocket(
      undefined,
      '/1.0/operations/00000000-0000-0000-0000-000000000000/websocket?secret=x',
    );
    expect({ status: unknown.status, error: unknown.error }).toEqual({
      status: 404,
      error: 'Operation not found',
    });
    const missing = await t.api.request('POST', '/1.0/instances/ex-nope/exec', { command: ['true'] });
    expect(missing).toMatchObject({ status: 404, envelope: { error: 'Instance not found' } });
    // The operation times out waiting for its websockets, as on LXD.
    const op = await t.api.get<LxdOperation>(`/1.0/operations/${envelope.metadata.id}/wait`);
    expect(op.status).toBe('Failure');
  });

  it('lets a client without a trusted certificate use an operation websocket with its secret', async () => {
    const { envelope } = await t.api.request('POST', '/1.0/instances/ex-c2/exec', {
      command: ['echo', 'untrusted-ok'],
      'wait-for-websocket': true,
      interactive: false,
    });
    if (envelope.type !== 'async') throw new Error(JSON.stringify(envelope));
    const fds = (envelope.metadata.metadata as { fds: Record<string, string> }).fds;
    const base = `wss://${t.address}`;
    const path = (fd: string) => `/1.0/operations/${envelope.metadata.id}/websocket?secret=${fds[fd] ?? ''}`;
    const opts = { rejectUnauthorized: false };
    const sockets = await Promise.all(['0', '1', '2'].map((fd) => openSocket(base, path(fd), opts)));
    expect(sockets.map((s) => s.status)).toEqual([101, 101, 101]);
    const [stdin, stdout] = sockets.map((s) => s.socket);
    if (!stdin || !stdout) throw new Error('no sockets');
    const out = readStream(stdout);
    stdin.send('', { binary: false });
    expect(await out).toBe('untrusted-ok\n');
    for (const s of sockets) s.socket.close();
    // Everything else still needs a trusted certificate.
    expect(await untrustedStatus('/1.0/operations')).toBe(403);
  });
});

/** The HTTP status of a GET from a client that shows no certificate. */
async function untrustedStatus(path: string): Promise<number> {
  const [host, port] = t.address.split(':');
  const socket = tlsConnect({ host, port: Number(port), rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  socket.end(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  let text = '';
  for await (const chunk of socket) text += String(chunk);
  return Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0);
}

describe('lxc exec through the manager', () => {
  it('separates stdout and stderr and returns the exit code', async () => {
    const r = await t.lxc(['exec', 'mgr:ex-c1', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toEqual({ stdout: 'out\n', stderr: 'err\n', code: 3 });
  });

  it('feeds piped stdin to the command', async () => {
    const r = await t.lxc(['exec', 'mgr:ex-c2', '--', 'cat'], { input: 'hi\n' });
    expect(r).toEqual({ stdout: 'hi\n', stderr: '', code: 0 });
  });

  it('passes --env, --user, --group and --cwd', async () => {
    const r = await t.lxc([
      'exec',
      'mgr:ex-c3',
      '--env',
      'GREETING=hello there',
      '--user',
      '1000',
      '--group',
      '1001',
      '--cwd',
      '/tmp',
      '--',
      'sh',
      '-c',
      'echo "$GREETING $(id -u) $(id -g) $(pwd)"',
    ]);
    expect(r).toEqual({ stdout: 'hello there 1000 1001 /tmp\n', stderr: '', code: 0 });
  });

  it('forwards SIGTERM to the command', async () => {
    const child = spawn(
      'lxc',
      [
        'exec',
        'mgr:ex-c2',
        '--',
        'sh',
        '-c',
        'trap "echo got-term; exit 7" TERM; echo ready; while true; do sleep 0.2; done',
      ],
      { env: { ...process.env, LXD_CONF: t.confDir }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    await eventually(() => Promise.resolve(stdout.includes('ready')));
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(stdout, stderr).toBe('ready\ngot-term\n');
    expect(code).toBe(7);
  });

  it('runs 20 concurrent sessions across the hosts, each with its own output', async () => {
    const runs = Array.from({ length: 20 }, (_, i) => {
      const name = NAMES[i % NAMES.length] ?? '';
      return t.lxc([
        'exec',
        `mgr:${name}`,
        '--',
        'sh',
        '-c',
        `echo out-${i}-$(hostname); echo err-${i} >&2; exit ${i % 5}`,
      ]);
    });
    const results = await Promise.all(runs);
    results.forEach((r, i) => {
      expect(r).toEqual({
        stdout: `out-${i}-${NAMES[i % NAMES.length]}\n`,
        stderr: `err-${i}\n`,
        code: i % 5,
      });
    });
  });
});

describe('pylxd through the unix socket', () => {
  it('returns the exit code and both outputs of container.execute()', async () => {
    const script = `
import json, pylxd
client = pylxd.Client()
container = client.containers.get('ex-c3')
result = container.execute(['sh', '-c', 'echo py-out; echo py-err >&2; exit 5'])
print(json.dumps([result.exit_code, result.stdout, result.stderr]))
`;
    const r = await runCommand('/usr/bin/python3', ['-c', script], {
      env: { ...process.env, LXD_DIR: t.dataDir },
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([5, 'py-out\n', 'py-err\n']);
  });
});

/** A tmux server of its own, so interactive clients get a real terminal that can be resized. */
class Terminal {
  private readonly socket = `ex-tmux-${process.pid}`;

  async tmux(...args: string[]) {
    return runCommand('tmux', ['-L', this.socket, ...args], { timeoutMs: 30_000 });
  }

  async start(session: string, command: string, width = 80, height = 24): Promise<void> {
    await this.tmux('kill-session', '-t', session); // left by a failed first attempt of a retried test
    const r = await this.tmux(
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      String(width),
      '-y',
      String(height),
      // The exit status is printed on the screen: tmux does not always learn it when a pane ends.
      `${command}; echo "[exited $?]"`,
    );
    if (r.code !== 0) throw new Error(`tmux: ${r.stderr}`);
    await this.tmux('set-option', '-t', session, 'remain-on-exit', 'on');
  }

  async screen(session: string): Promise<string> {
    return (await this.tmux('capture-pane', '-p', '-t', session)).stdout;
  }

  async keys(session: string, ...keys: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', session, ...keys);
  }

  /** The exit status of the pane's command once it has ended (printed by start()'s wrapper). */
  async exitStatus(session: string): Promise<number | undefined> {
    const match = /\[exited (\d+)\]/.exec(await this.screen(session));
    return match?.[1] === undefined ? undefined : Number(match[1]);
  }

  async stop(): Promise<void> {
    await this.tmux('kill-server');
  }
}

describe('interactive sessions in a terminal', () => {
  const term = new Terminal();
  afterAll(async () => {
    await term.stop();
  });

  it('runs an interactive shell that follows a window resize', async () => {
    await term.start('ex-shell', `env LXD_CONF=${t.confDir} lxc exec mgr:ex-c1 -- sh`, 80, 24);
    await term.keys('ex-shell', 'echo $((6*7))-answer', 'Enter');
    await eventually(async () => (await term.screen('ex-shell')).includes('42-answer'));
    await term.keys('ex-shell', 'echo rows-cols $(stty size)', 'Enter');
    await eventually(async () => (await term.screen('ex-shell')).includes('rows-cols 24 80'));

    await term.tmux('resize-window', '-t', 'ex-shell', '-x', '100', '-y', '30');
    await eventually(async () => {
      await term.keys('ex-shell', 'echo rows-cols $(stty size)', 'Enter');
      return (await term.screen('ex-shell')).includes('rows-cols 30 100');
    });

    await term.keys('ex-shell', 'exit 4', 'Enter');
    expect(await eventually(async () => term.exitStatus('ex-shell'))).toBe(4);
  });

  it('attaches to the console, shows what the container writes to it, and detaches with ctrl+a q', async () => {
    await term.start('ex-console', `env LXD_CONF=${t.confDir} lxc console mgr:ex-c2`);
    await eventually(async () => (await term.screen('ex-console')).includes('To detach from the console'));
    // Output: written to /dev/console inside the container, seen in the attached terminal.
    await eventually(async () => {
      await t.hosts[1]?.lxc(['exec', 'ex-c2', '--', 'sh', '-c', 'echo console-hello > /dev/console']);
      return (await term.screen('ex-console')).includes('console-hello');
    });
    // Input: typed in the terminal, read from /dev/console inside the container.
    let echoed: { stdout: string; stderr: string } | undefined;
    void t.hosts[1]
      ?.lxc(['exec', 'ex-c2', '--', 'sh', '-c', 'read -r line < /dev/console; echo "$line"'], {
        timeoutMs: 60_000,
      })
      .then((r) => {
        echoed = r;
      });
    await eventually(async () => {
      await term.keys('ex-console', 'typed-in', 'Enter');
      return echoed !== undefined;
    });
    expect(echoed?.stdout.trim(), echoed?.stderr).toMatch(/typed-in$/);

    // lxc looks at the first byte of each read only: the two keys must arrive in separate writes.
    await term.keys('ex-console', 'C-a');
    await term.keys('ex-console', 'q');
    expect(await eventually(async () => term.exitStatus('ex-console'))).toBe(0);
  });
});

describe('console log', () => {
  it('returns what the host returns for --show-log', async () => {
    const viaManager = await t.lxc(['console', 'mgr:ex-c1', '--show-log']);
    const direct = await t.hosts[0]?.lxc(['console', 'ex-c1', '--show-log']);
    expect(viaManager).toEqual(direct);
  });

  it('clears the log with DELETE, answering as the host does', async () => {
    const viaManager = await t.lxc(['query', '-X', 'DELETE', 'mgr:/1.0/instances/ex-c1/console']);
    const direct = await t.hosts[0]?.lxc(['query', '-X', 'DELETE', '/1.0/instances/ex-c1/console']);
    expect(viaManager).toEqual(direct);
  });
});
