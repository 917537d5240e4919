import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostClient } from '../lxd/index.js';
import { clientResponseHeaders, hasRequestBody, hostRequestHeaders, proxyStream } from './stream-proxy.js';

describe('hostRequestHeaders', () => {
  it.each([
    [
      'keeps LXD file headers',
      { 'x-lxd-uid': '1000', 'x-lxd-mode': '0600', 'x-lxd-type': 'file' },
      { 'x-lxd-uid': '1000', 'x-lxd-mode': '0600', 'x-lxd-type': 'file' },
    ],
    [
      'keeps the write mode and body type',
      { 'x-lxd-write': 'append', 'content-type': 'application/octet-stream' },
      { 'x-lxd-write': 'append', 'content-type': 'application/octet-stream' },
    ],
    ['keeps a known length', { 'content-length': '12' }, { 'content-length': '12' }],
    [
      'drops a length next to chunked encoding',
      { 'content-length': '12', 'transfer-encoding': 'chunked' },
      {},
    ],
    [
      'drops connection, auth and host headers',
      { host: 'mgr:8443', connection: 'close', authorization: 'x', cookie: 'c', expect: '100-continue' },
      {},
    ],
    [
      'keeps range and conditional headers',
      { range: 'bytes=0-9', 'if-modified-since': 'Mon, 01 Jan 2024 00:00:00 GMT' },
      { range: 'bytes=0-9', 'if-modified-since': 'Mon, 01 Jan 2024 00:00:00 GMT' },
    ],
  ])('%s', (_what, input, expected) => {
    expect(hostRequestHeaders(input)).toEqual(expected);
  });
});

describe('clientResponseHeaders', () => {
  it.each([
    [
      'keeps LXD file headers and the length',
      { 'x-lxd-type': 'file', 'x-lxd-modified': '2024-01-01 00:00:00 +0000 UTC', 'content-length': '5' },
      { 'x-lxd-type': 'file', 'x-lxd-modified': '2024-01-01 00:00:00 +0000 UTC', 'content-length': '5' },
    ],
    [
      'drops hop-by-hop headers',
      {
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        'content-type': 'application/json',
      },
      { 'content-type': 'application/json' },
    ],
    [
      'drops headers the connection header names',
      { connection: 'close, x-hop', 'x-hop': '1', 'x-lxd-uid': '0' },
      { 'x-lxd-uid': '0' },
    ],
  ])('%s', (_what, input, expected) => {
    expect(clientResponseHeaders(input)).toEqual(expected);
  });
});

describe('hasRequestBody', () => {
  it.each([
    [{}, false],
    [{ 'content-length': '0' }, false],
    [{ 'content-length': '3' }, true],
    [{ 'transfer-encoding': 'chunked' }, true],
  ])('%j → %s', (headers, expected) => {
    expect(hasRequestBody(headers)).toBe(expected);
  });
});

describe('proxyStream', () => {
  let dir: string;
  let host: Server;
  let client: HostClient;
  let app: FastifyInstance;
  let base: string;
  const seen: { headers: IncomingMessage['headers']; bytes: number }[] = [];
  let hostAborted = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lxdpm-stream-'));
    // A host that counts what it is sent, and serves files of any size generated on the fly.
    host = createServer((req, res) => {
      if (req.method === 'POST') {
        let bytes = 0;
        req.on('data', (c: Buffer) => (bytes += c.length));
        req.on('end', () => {
          seen.push({ headers: req.headers, bytes });
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"type":"sync","metadata":{}}');
        });
        return;
      }
      const size = Number(new URL(req.url ?? '/', 'http://h').searchParams.get('size') ?? '0');
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(size),
        'x-lxd-type': 'file',
        'x-lxd-mode': '0640',
      });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      res.on('close', () => {
        if (!res.writableFinished) hostAborted += 1;
      });
      let left = size;
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!res.write(chunk.subarray(0, n))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    host.listen(join(dir, 'host.socket'));
    await once(host, 'listening');
    client = new HostClient({ name: 'h1', url: `unix://${join(dir, 'host.socket')}` });

    app = Fastify();
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_req, payload, done) => {
      done(null, payload);
    });
    app.route({
      method: ['GET', 'HEAD', 'POST'],
      url: '/f',
      exposeHeadRoute: false,
      handler: async (request, reply) =>
        proxyStream(client, request, reply, request.method as 'GET' | 'HEAD' | 'POST', '/f', {
          query: request.query as Record<string, string>,
          body: request.body as Readable | undefined,
          headers: { 'X-LXDPM-Host': 'h1' },
        }),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app.close();
    await client.close();
    host.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('streams a chunked upload to the host with its LXD headers', async () => {
    const size = 32 * 1024 * 1024;
    const body = Readable.from(
      (function* () {
        for (let sent = 0; sent < size; sent += 1024 * 1024) yield Buffer.alloc(1024 * 1024, 2);
      })(),
    );
    const res = await fetch(`${base}/f?path=tmp%2Fx`, {
      method: 'POST',
      body: Readable.toWeb(body),
      duplex: 'half',
      headers: { 'x-lxd-uid': '1000', 'x-lxd-mode': '0600', 'x-lxd-type': 'file' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-lxdpm-host')).toBe('h1');
    const last = seen.at(-1);
    expect(last?.bytes).toBe(size);
    expect(last?.headers).toMatchObject({ 'x-lxd-uid': '1000', 'x-lxd-mode': '0600', 'x-lxd-type': 'file' });
    expect(last?.headers['transfer-encoding']).toBe('chunked');
  });

  it('streams a download back with its length and LXD headers', async () => {
    const size = 48 * 1024 * 1024 + 3;
    const res = await fetch(`${base}/f?size=${size}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(size));
    expect(res.headers.get('x-lxd-mode')).toBe('0640');
    let bytes = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
    expect(bytes).toBe(size);
  });

  it('answers HEAD with the headers only', async () => {
    const res = await fetch(`${base}/f?size=10`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-lxd-type')).toBe('file');
    expect(res.headers.get('content-length')).toBe('10');
  });

  it('stops the host transfer when the client goes away', async () => {
    const before = hostAborted;
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${base}/f?size=${1024 * 1024 * 1024}`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.end();
    });
    const deadline = Date.now() + 10_000;
    while (hostAborted === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(hostAborted).toBe(before + 1);
  });
});
