import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import { BadRequestError, ForbiddenError, NotFoundError, PayloadTooLargeError } from '../errors/index.js';
import { identify } from './auth.js';
import type { ApiContext, CallerIdentity } from './context.js';
import { errorEnvelope, syncEnvelope } from './envelope.js';
import { toErrorEnvelope } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: CallerIdentity;
  }
  interface FastifyContextConfig {
    /** Reachable by untrusted clients. */
    public?: boolean;
    /** The handler gets the request body as a stream instead of parsed JSON. */
    rawBody?: boolean;
  }
}

/** Largest JSON request body accepted; uploads (files, images) are streams and have no such limit. */
export const JSON_BODY_LIMIT = 8 * 1024 * 1024;

export interface WebSocketContext {
  req: IncomingMessage;
  url: URL;
  match: RegExpMatchArray;
  caller: CallerIdentity;
  /** Completes the upgrade. */
  accept: () => Promise<WebSocket>;
  /** Refuses the upgrade with an LXD error envelope. */
  reject: (err: unknown) => void;
}

export interface WebSocketRoute {
  pattern: RegExp;
  /** Reachable without a trusted certificate (the route checks its own secret). */
  public?: boolean;
  handle: (ctx: WebSocketContext) => void | Promise<void>;
}

export interface RouteModule {
  (app: FastifyInstance, ctx: ApiContext, ws: WebSocketRoute[]): void;
}

export interface Api {
  app: FastifyInstance;
  handler: RequestListener;
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

async function readLimited(stream: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      stream.resume();
      throw new PayloadTooLargeError(`Request body larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new BadRequestError(`Invalid JSON body: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Builds the HTTP API: one Fastify instance whose handler serves both the HTTPS listener and the unix
 * socket, the auth gate, the body parsers, the single error mapping, and the websocket upgrade router.
 */
export async function buildApi(ctx: ApiContext, modules: RouteModule[]): Promise<Api> {
  let handler: RequestListener | undefined;
  const app = Fastify({
    loggerInstance: ctx.log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: JSON_BODY_LIMIT,
    // The listeners are created by the server module; this one only captures the request handler.
    serverFactory: (h) => {
      handler = h;
      return createServer(h);
    },
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 1000 },
  });

  app.decorateRequest('caller', undefined as unknown as CallerIdentity);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, payload, done) => {
    if (request.routeOptions.config.rawBody === true) {
      done(null, payload);
      return;
    }
    readLimited(payload, JSON_BODY_LIMIT)
      .then(parseJson)
      .then(
        (body) => {
          done(null, body);
        },
        (err: unknown) => {
          done(err as Error);
        },
      );
  });

  app.addHook('onRequest', (request, _reply, done) => {
    request.caller = identify(request.raw, ctx.trust, ctx.uiSessions);
    if (
      !request.caller.trusted &&
      request.routeOptions.config.public !== true &&
      request.routeOptions.url !== undefined
    ) {
      done(new ForbiddenError());
      return;
    }
    done();
  });

  app.setErrorHandler((err, request, reply) => {
    const envelope = toErrorEnvelope(err, request.log);
    return reply.code(envelope.error_code).send(envelope);
  });

  app.setNotFoundHandler((_request, reply) => {
    return reply.code(404).send(errorEnvelope(404, 'not found'));
  });

  const wsRoutes: WebSocketRoute[] = [];
  for (const register of modules) register(app, ctx, wsRoutes);

  await app.ready();
  if (handler === undefined) throw new Error('fastify did not create its server');

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://lxdpm');
    const path = url.pathname.replace(/\/+$/, '');
    const caller = identify(req, ctx.trust, ctx.uiSessions);
    const reject = (err: unknown) => {
      const envelope = toErrorEnvelope(err, ctx.log);
      const body = JSON.stringify(envelope);
      socket.end(
        `HTTP/1.1 ${envelope.error_code} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    for (const route of wsRoutes) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      if (!caller.trusted && route.public !== true) {
        reject(new ForbiddenError());
        return;
      }
      const accept = () =>
        new Promise<WebSocket>((resolve) => {
          wss.handleUpgrade(req, socket, head, resolve);
        });
      Promise.resolve(route.handle({ req, url, match, caller, accept, reject })).catch(reject);
      return;
    }
    reject(new NotFoundError('not found'));
  }

  return { app, handler, upgrade };
}

/** Sends an LXD sync response, with an ETag when one is given. */
export function sendSync(
  reply: FastifyReply,
  metadata: unknown,
  opts: { status?: number; etag?: string; location?: string } = {},
) {
  if (opts.etag !== undefined) void reply.header('ETag', `"${opts.etag}"`);
  if (opts.location !== undefined) void reply.header('Location', opts.location);
  return reply.code(opts.status ?? 200).send(syncEnvelope(metadata));
}

export type { IncomingMessage, ServerResponse };
