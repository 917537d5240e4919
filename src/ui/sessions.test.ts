import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../store/index.js';
import { cookieValue, sessionCookie, UiSessions } from './sessions.js';

describe('UiSessions', () => {
  let store: Store;
  let now: number;
  const make = () => new UiSessions({ store, now: () => now, sessionTtlMs: 60_000, loginTtlMs: 5_000 });

  beforeEach(async () => {
    store = await openStore(':memory:');
    now = Date.parse('2030-01-01T00:00:00Z');
  });
  afterEach(async () => {
    await store.close();
  });

  it('exchanges a sign-in token once for a session that verifies', async () => {
    const sessions = make();
    const { token } = sessions.createLoginToken();
    const grant = await sessions.exchange(token);
    expect(grant).toBeDefined();
    expect(sessions.verify(grant?.secret ?? '')?.id).toBe(grant?.session.id);
    expect(await sessions.exchange(token)).toBeUndefined();
  });

  it('refuses a sign-in token after it expires', async () => {
    const sessions = make();
    const { token } = sessions.createLoginToken();
    now += 5_001;
    expect(await sessions.exchange(token)).toBeUndefined();
  });

  it('rejects unknown secrets and sessions past their lifetime', async () => {
    const sessions = make();
    const grant = await sessions.exchange(sessions.createLoginToken().token);
    expect(sessions.verify('not-a-session')).toBeUndefined();
    now += 60_001;
    expect(sessions.verify(grant?.secret ?? '')).toBeUndefined();
    expect(sessions.list()).toEqual([]);
  });

  it('keeps only hashes in the store and restores sessions after a restart', async () => {
    const first = make();
    const ok = await first.exchange(first.createLoginToken().token);
    const stored = await store.listUiSessions();
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(ok?.secret ?? '');
    const second = make();
    await second.load();
    expect(second.verify(ok?.secret ?? '')?.id).toBe(ok?.session.id);
  });

  it('revokes one session by id and all sessions at once', async () => {
    const sessions = make();
    const a = await sessions.exchange(sessions.createLoginToken().token);
    const b = await sessions.exchange(sessions.createLoginToken().token);
    expect(await sessions.revoke(a?.session.id ?? '')).toBe(true);
    expect(sessions.verify(a?.secret ?? '')).toBeUndefined();
    expect(sessions.verify(b?.secret ?? '')).toBeDefined();
    expect(await sessions.revokeAll()).toBe(1);
    expect(sessions.verify(b?.secret ?? '')).toBeUndefined();
    expect(await store.listUiSessions()).toEqual([]);
  });
});

describe('session cookies', () => {
  it('are Secure, HttpOnly and SameSite=Strict', () => {
    expect(sessionCookie('abc', 3600)).toBe(
      'lxdpm_session=abc; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Strict',
    );
  });

  it.each([
    ['lxdpm_session=abc', 'abc'],
    ['a=1; lxdpm_session=xyz; b=2', 'xyz'],
    ['other=1', undefined],
    [undefined, undefined],
  ])('reads the session from the header %s', (header, expected) => {
    expect(cookieValue(header, 'lxdpm_session')).toBe(expected);
  });
});
