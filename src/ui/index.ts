/**
 * The web UI's server side: browser sessions (one-time sign-in links exchanged for a session cookie) and
 * serving the built single-page app under `/ui/`.
 */
export { UiSessions, SESSION_COOKIE, cookieValue, sessionCookie } from './sessions.js';
export type { LoginToken, SessionGrant, UiSessionView, UiSessionsOptions } from './sessions.js';
export { defaultUiDir, openUiFile, contentTypeOf } from './static.js';
export type { StaticFile } from './static.js';
