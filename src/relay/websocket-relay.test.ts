import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { UpstreamError } from '../errors/index.js';
import { isSendableCloseCode, openUpstream, relayWebSockets, type RelayEnd } from './websocket-relay.js';

interface Frame {
  data: Buffer;
  binary: boolean;
}

/**
 * A host (a plain ws server whose behaviour each test sets) behind a relay that works like the manager's
 * operation websocket route: dial the host, hold its frames, complete the client's upgrade, relay.
 */
async function setup(onHostSocket: (socket: WebSocket) => void, opts: { refuse?: boolean } = {}) {
  const host = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const hostWss = new WebSocketServer({ noServer: true });
  host.on('upgrade', (req, socket, head) => {
    if (opts.refuse === true) {
      const body = JSON.stringify({
        type: 'error',
        error_code: 403,
        error: 'not authorized',
        metadata: null,
      });
      socket.end(
        `HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    hostWss.handleUpgrade(req, socket, head, onHostSocket);
  });
  await listen(host);
  const hostUrl = `ws://127.0.0.1:${(host.address() as AddressInfo).port}/ws`;

  const relaySides: WebSocket[] = [];
  const ends: Promise<RelayEnd>[] = [];
  const errors: unknown[] = [];
  const relay = createServer();
  const relayWss = new WebSocketServer({ noServer: true });
  relay.on('upgrade', (req, socket, head) => {
    void (async () => {
      try {
        const held = await openUpstream(new WebSocket(hostUrl), 'h1', '/ws');
        const client = await new Promise<WebSocket>((resolve) => {
          relayWss.handleUpgrade(req, socket, head, resolve);
        });
        relaySides.push(client);
        ends.push(
          relayWebSockets(client, held.socket, {
            heldB: held,
            backpressure: { high: 512 * 1024, low: 128 * 1024 },
          }),
        );
      } catch (err) {
        errors.push(err);
        socket.destroy();
      }
    })();
  });
  await listen(relay);
  const relayUrl = `ws://127.0.0.1:${(relay.address() as AddressInfo).port}/ws`;
  servers.push(host, relay);
  return { relayUrl, relaySides, ends, errors, hostUrl };
}

const servers: Server[] = [];

async function listen(server: Server): Promise<void> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
}

afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

function collect(socket: WebSocket): Frame[] {
  const frames: Frame[] = [];
  socket.on('message', (data: Buffer, binary) => frames.push({ data, binary }));
  return frames;
}

async function connect(url: string): Promise<{ socket: WebSocket; frames: Frame[] }> {
  const socket = new WebSocket(url);
  const frames = collect(socket);
  await once(socket, 'open');
  return { socket, frames };
}

async function closed(socket: WebSocket): Promise<{ code: number; reason: string }> {
  const [code, reason] = (await once(socket, 'close')) as [number, Buffer];
  return { code, reason: reason.toString() };
}

describe('relayWebSockets', () => {
  it('keeps binary frames binary and text frames text, an empty text frame included, in both directions', async () => {
    let hostFrames: Frame[] = [];
    const hostGotThree = deferred<true>();
    const { relayUrl } = await setup((socket) => {
      // Sent the moment the host accepts: before the client's upgrade is complete.
      socket.send(Buffer.from([1, 2, 3]), { binary: true });
      socket.send('hello', { binary: false });
      socket.send('', { binary: false });
      hostFrames = collect(socket);
      socket.on('message', () => {
        if (hostFrames.length === 3) hostGotThree.resolve(true);
      });
    });
    const { socket, frames } = await connect(relayUrl);
    socket.send(Buffer.from('abc'), { binary: true });
    socket.send('', { binary: false });
    socket.send('{"command":"signal","signal":15}', { binary: false });
    await hostGotThree.promise;
    await waitFor(() => frames.length === 3);

    expect(frames.map((f) => [f.binary, f.data.toString('hex')])).toEqual([
      [true, '010203'],
      [false, Buffer.from('hello').toString('hex')],
      [false, ''],
    ]);
    expect(hostFrames.map((f) => [f.binary, f.data.toString()])).toEqual([
      [true, 'abc'],
      [false, ''],
      [false, '{"command":"signal","signal":15}'],
    ]);
    socket.close();
  });

  it.each([
    ['the client', 4001, 'bye'],
    ['the host', 4002, 'done'],
    ['the client', 1000, ''],
    ['the host', 1000, ''],
  ])('closes the other side with the code and reason %s closed with (%i)', async (who, code, reason) => {
    const hostSocket = deferred<WebSocket>();
    const { relayUrl, ends } = await setup((s) => {
      hostSocket.resolve(s);
    });
    const { socket } = await connect(relayUrl);
    const host = await hostSocket.promise;
    const [closer, other] = who === 'the client' ? [socket, host] : [host, socket];
    const seen = closed(other);
    closer.close(code, reason);
    expect(await seen).toEqual({ code, reason });
    const end = await ends[0];
    expect(end?.codes).toEqual({ a: code, b: code });
  });

  it('delivers everything the host sent, then ends the client socket, when the host drops it without a close frame', async () => {
    const payload = Buffer.alloc(3 * 1024 * 1024, 7);
    const { relayUrl } = await setup((s) => {
      s.send(payload, { binary: true });
      s.send('', { binary: false });
      // LXD closes exec data sockets like this: no close frame, just the TCP connection.
      s.send(Buffer.alloc(0), { binary: true }, () => {
        s.terminate();
      });
    });
    const { socket, frames } = await connect(relayUrl);
    const end = await closed(socket);
    expect(frames.map((f) => [f.binary, f.data.length])).toEqual([
      [true, payload.length],
      [false, 0],
      [true, 0],
    ]);
    // An empty close frame: the client sees a clean end (1005), not a broken connection (1006).
    expect(end.code).toBe(1005);
  });

  it('passes a refused upgrade on as the host error with its status', async () => {
    const { relayUrl, errors } = await setup(() => undefined, { refuse: true });
    const socket = new WebSocket(relayUrl);
    const ended = new Promise((resolve) => socket.on('close', resolve));
    socket.on('error', () => undefined);
    await ended;
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(UpstreamError);
    expect(errors[0]).toMatchObject({ host: 'h1', status: 403, lxdError: 'not authorized' });
  });

  it('stops reading from the host while the client does not read, then delivers every frame in order', async () => {
    const chunk = 256 * 1024;
    const count = 160; // 40 MiB: far more than socket buffers and the relay's high-water mark hold
    const hostSocket = deferred<WebSocket>();
    const { relayUrl, relaySides } = await setup((s) => {
      hostSocket.resolve(s);
    });
    const { socket, frames } = await connect(relayUrl);
    socket.pause();
    const host = await hostSocket.promise;
    for (let i = 0; i < count; i++) host.send(Buffer.alloc(chunk, i % 256), { binary: true });

    // The relay stops reading once its queue towards the client is full, so the data waits at the host.
    await waitFor(() => host.bufferedAmount > 8 * 1024 * 1024);
    const towardsClient = relaySides[0]?.bufferedAmount ?? Infinity;
    expect(towardsClient).toBeLessThanOrEqual(512 * 1024 + chunk);
    expect(host.bufferedAmount).toBeGreaterThan(8 * 1024 * 1024);

    socket.resume();
    await waitFor(() => frames.length === count, 20_000);
    expect(frames.every((f, i) => f.binary && f.data.length === chunk && f.data[0] === i % 256)).toBe(true);
    socket.close();
  });
});

describe('isSendableCloseCode', () => {
  it.each([
    [1000, true],
    [1001, true],
    [1005, false],
    [1006, false],
    [1011, true],
    [1015, false],
    [2000, false],
    [3000, true],
    [4999, true],
    [5000, false],
  ])('says whether %i may be sent in a close frame (%s)', (code, sendable) => {
    expect(isSendableCloseCode(code)).toBe(sendable);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await sleep(10);
  }
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
