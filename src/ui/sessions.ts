import { createHash, randomBytes } from 'node:crypto';
import type { Store, UiSessionRecord } from '../store/index.js';

/** Name of the browser session cookie. */
export const SESSION_COOKIE = 'lxdpm_session';

export interface UiSessionsOptions {
  store: Store;
  /** How long a session lasts after sign-in. */
  sessionTtlMs?: number;
  /** How long a one-time sign-in token stays valid. */
  loginTtlMs?: number;
  now?: () => number;
  random?: (bytes: number) => Buffer;
}

export interface LoginToken {
  token: string;
  expiresAt: string;
}

export interface SessionGrant {
  /** The cookie value: shown once, only its hash is kept. */
  secret: string;
  session: UiSessionView;
}

/** A session as the API lists it: never the secret, only a short public id. */
export interface UiSessionView {
  id: string;
  created_at: string;
  expires_at: string;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Browser sign-in without client certificates: a trusted client (the `lxdpm ui-login` command on the unix
 * socket) asks for a one-time token, the browser exchanges it for a session cookie. Tokens live in memory
 * for minutes; sessions are kept hashed in the store so they survive a restart, and are checked
 * synchronously from memory on every request.
 */
export class UiSessions {
  private readonly tokens = new Map<string, number>();
  private readonly sessions = new Map<string, UiSessionRecord>();
  private readonly sessionTtlMs: number;
  private readonly loginTtlMs: number;
  private readonly now: () => number;
  private readonly random: (bytes: number) => Buffer;

  constructor(private readonly opts: UiSessionsOptions) {
    this.sessionTtlMs = opts.sessionTtlMs ?? 12 * 60 * 60 * 1000;
    this.loginTtlMs = opts.loginTtlMs ?? 10 * 60 * 1000;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? randomBytes;
  }

  async load(): Promise<void> {
    const expired: string[] = [];
    for (const rec of await this.opts.store.listUiSessions()) {
      if (Date.parse(rec.expiresAt) <= this.now()) expired.push(rec.hash);
      else this.sessions.set(rec.hash, rec);
    }
    if (expired.length > 0) await this.opts.store.deleteUiSessions(expired);
  }

  /** A one-time sign-in token, valid for a few minutes. */
  createLoginToken(): LoginToken {
    this.sweepTokens();
    const token = this.random(32).toString('base64url');
    const expires = this.now() + this.loginTtlMs;
    this.tokens.set(sha256(token), expires);
    return { token, expiresAt: new Date(expires).toISOString() };
  }

  /** Exchanges a sign-in token for a new session; undefined when the token is unknown, used or expired. */
  async exchange(token: string): Promise<SessionGrant | undefined> {
    const key = sha256(token);
    const expires = this.tokens.get(key);
    this.tokens.delete(key);
    if (expires === undefined || expires <= this.now()) return undefined;
    const secret = this.random(32).toString('base64url');
    const created = this.now();
    const rec: UiSessionRecord = {
      hash: sha256(secret),
      createdAt: new Date(created).toISOString(),
      expiresAt: new Date(created + this.sessionTtlMs).toISOString(),
    };
    await this.opts.store.putUiSession(rec);
    this.sessions.set(rec.hash, rec);
    return { secret, session: view(rec) };
  }

  /** The session a cookie value belongs to, if it is valid now. Synchronous: runs on every request. */
  verify(secret: string): UiSessionView | undefined {
    // Looked up by hash: comparing hashes leaks nothing useful about the secret.
    const hash = sha256(secret);
    const rec = this.sessions.get(hash);
    if (rec === undefined) return undefined;
    if (Date.parse(rec.expiresAt) <= this.now()) {
      this.sessions.delete(hash);
      void this.opts.store.deleteUiSessions([hash]).catch(() => undefined);
      return undefined;
    }
    return view(rec);
  }

  list(): UiSessionView[] {
    const now = this.now();
    return [...this.sessions.values()]
      .filter((r) => Date.parse(r.expiresAt) > now)
      .map(view)
      .sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  /** Revokes one session by its public id. Returns false when there is none. */
  async revoke(id: string): Promise<boolean> {
    const rec = [...this.sessions.values()].find((r) => view(r).id === id);
    if (rec === undefined) return false;
    this.sessions.delete(rec.hash);
    await this.opts.store.deleteUiSessions([rec.hash]);
    return true;
  }

  /** Revokes every session; returns how many there were. */
  async revokeAll(): Promise<number> {
    const hashes = [...this.sessions.keys()];
    this.sessions.clear();
    this.tokens.clear();
    if (hashes.length > 0) await this.opts.store.deleteUiSessions(hashes);
    return hashes.length;
  }

  private sweepTokens(): void {
    const now = this.now();
    for (const [key, expires] of this.tokens) if (expires <= now) this.tokens.delete(key);
  }
}

function view(rec: UiSessionRecord): UiSessionView {
  return { id: rec.hash.slice(0, 16), created_at: rec.createdAt, expires_at: rec.expiresAt };
}

/** Reads one cookie from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value for a session (or, with maxAgeSeconds 0, its removal). */
export function sessionCookie(secret: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${secret}; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; Secure; HttpOnly; SameSite=Strict`;
}
