/**
 * LXD trust tokens: base64 of a JSON document naming the server (fingerprint, addresses) and a secret.
 * `lxc remote add NAME TOKEN` decodes it, checks the server certificate against the fingerprint, then
 * sends the whole token back as the password.
 */
export interface TrustToken {
  client_name: string;
  fingerprint: string;
  addresses: string[];
  secret: string;
  expires_at: string;
}

export function encodeToken(token: TrustToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64');
}

/** Returns undefined for anything that is not a well-formed token. */
export function decodeToken(text: string): TrustToken | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(text.trim(), 'base64').toString('utf8')) as Partial<TrustToken>;
    if (typeof parsed.secret !== 'string' || typeof parsed.fingerprint !== 'string') return undefined;
    return {
      client_name: parsed.client_name ?? '',
      fingerprint: parsed.fingerprint,
      addresses: Array.isArray(parsed.addresses) ? parsed.addresses : [],
      secret: parsed.secret,
      expires_at: parsed.expires_at ?? '0001-01-01T00:00:00Z',
    };
  } catch {
    return undefined;
  }
}
