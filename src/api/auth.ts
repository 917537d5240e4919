import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import { derToPem, fingerprintOfDer, type TrustStore } from '../trust/index.js';
import { cookieValue, SESSION_COOKIE, type UiSessions } from '../ui/index.js';
import type { CallerIdentity } from './context.js';

/**
 * Identifies the caller of a request: the unix socket is fully trusted (like LXD's); over TLS the client
 * certificate's SHA-256 is looked up in the trust store; without a trusted certificate, a valid web UI
 * session cookie makes the caller trusted too.
 */
export function identify(req: IncomingMessage, trust: TrustStore, sessions?: UiSessions): CallerIdentity {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket)) return { protocol: 'unix', trusted: true };
  const der = (socket.getPeerCertificate() as { raw?: Buffer }).raw;
  let byCertificate: CallerIdentity | undefined;
  if (der !== undefined && der.length > 0) {
    const fingerprint = fingerprintOfDer(der);
    byCertificate = {
      protocol: 'tls',
      trusted: trust.isTrusted(fingerprint),
      fingerprint,
      certificate: derToPem(der),
    };
    if (byCertificate.trusted) return byCertificate;
  }
  const session = sessions === undefined ? undefined : sessionOf(req, sessions);
  if (session !== undefined) return { protocol: 'session', trusted: true, session };
  return byCertificate ?? { protocol: 'tls', trusted: false };
}

/**
 * The UI session a request carries. The cookie is SameSite=Strict; the Origin check also covers websocket
 * handshakes, which browsers send cross-site with whatever Origin the page has.
 */
function sessionOf(req: IncomingMessage, sessions: UiSessions): string | undefined {
  const secret = cookieValue(req.headers.cookie, SESSION_COOKIE);
  if (secret === undefined || secret === '') return undefined;
  const origin = req.headers.origin;
  if (origin !== undefined && originHost(origin) !== req.headers.host) return undefined;
  return sessions.verify(secret)?.id;
}

function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}
