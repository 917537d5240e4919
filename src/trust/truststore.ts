import { randomBytes } from 'node:crypto';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../errors/index.js';
import type { CertificateRecord, Store } from '../store/index.js';
import { certificateFingerprint, normalizeCertificate } from './certificates.js';
import { verifyPassword } from './password.js';
import { decodeToken, encodeToken } from './tokens.js';

export interface PendingToken {
  name: string;
  secret: string;
  operationId: string;
}

export interface AddCertificateRequest {
  name: string;
  type: string;
  restricted: boolean;
  projects: string[];
  /** PEM or base64 DER; when empty, the TLS peer certificate is used. */
  certificate: string;
  password: string;
  peerCertificate: string | undefined;
  /** The request comes from an already trusted client (no password needed). */
  trustedCaller: boolean;
}

/**
 * The manager's trust store: the client certificates it trusts, the hashed trust password and the
 * pending single-use join tokens. Lookups are in memory; every change goes to the store first.
 */
export class TrustStore {
  private readonly trusted = new Map<string, CertificateRecord>();
  private readonly tokens = new Map<string, PendingToken>();

  constructor(private readonly store: Store) {}

  async load(): Promise<void> {
    this.trusted.clear();
    for (const cert of await this.store.listCertificates()) this.trusted.set(cert.fingerprint, cert);
  }

  isTrusted(fingerprint: string): boolean {
    return this.trusted.has(fingerprint);
  }

  list(): CertificateRecord[] {
    return [...this.trusted.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Finds a certificate by fingerprint or unique fingerprint prefix, as LXD does. */
  get(fingerprint: string): CertificateRecord {
    const matches = [...this.trusted.values()].filter((c) => c.fingerprint.startsWith(fingerprint));
    if (matches.length > 1) throw new BadRequestError('More than one certificate matches');
    const match = matches[0];
    if (match === undefined || fingerprint === '') throw new NotFoundError('Certificate not found');
    return match;
  }

  async remove(fingerprint: string): Promise<void> {
    const cert = this.get(fingerprint);
    await this.store.deleteCertificate(cert.fingerprint);
    this.trusted.delete(cert.fingerprint);
  }

  async update(
    fingerprint: string,
    patch: Partial<Pick<CertificateRecord, 'name' | 'restricted' | 'projects'>>,
  ): Promise<void> {
    const cert = this.get(fingerprint);
    const next = { ...cert, ...patch };
    await this.store.deleteCertificate(cert.fingerprint);
    await this.store.addCertificate(next);
    this.trusted.set(next.fingerprint, next);
  }

  /** Registers a single-use token and returns the text a client pastes into `lxc remote add`. */
  issueToken(name: string, serverFingerprint: string, addresses: string[]): PendingToken & { token: string } {
    const secret = randomBytes(32).toString('hex');
    const token = encodeToken({
      client_name: name,
      fingerprint: serverFingerprint,
      addresses,
      secret,
      expires_at: '0001-01-01T00:00:00Z',
    });
    // The same object stays in the map, so the caller can bind the operation id once it exists.
    const pending = { name, secret, operationId: '', token };
    this.tokens.set(secret, pending);
    return pending;
  }

  revokeToken(secret: string): void {
    this.tokens.delete(secret);
  }

  /**
   * `POST /1.0/certificates`: adds a certificate if the caller is trusted, or presents the trust password,
   * or a valid token (in `password`, as 5.0 clients send it, or `trust_token`). Returns the token used, if any.
   */
  async add(
    req: AddCertificateRequest,
    passwordHash: string | undefined,
  ): Promise<{ record: CertificateRecord; token?: PendingToken }> {
    const pem = req.certificate !== '' ? req.certificate : req.peerCertificate;
    if (pem === undefined || pem === '') throw new BadRequestError("Can't use TLS data on non-TLS link");
    let certificate: string;
    try {
      certificate = normalizeCertificate(pem);
    } catch {
      throw new BadRequestError('Invalid certificate material');
    }
    const fingerprint = certificateFingerprint(certificate);

    let token: PendingToken | undefined;
    if (!req.trustedCaller) {
      token = this.tokenFor(req.password);
      if (token === undefined) {
        const ok =
          passwordHash !== undefined &&
          req.password !== '' &&
          (await verifyPassword(req.password, passwordHash));
        if (!ok) throw new ForbiddenError('not authorized');
      }
    }
    if (this.trusted.has(fingerprint)) throw new ConflictError('Certificate already in trust store');

    const record: CertificateRecord = {
      fingerprint,
      name: token?.name ?? (req.name !== '' ? req.name : fingerprint.slice(0, 12)),
      type: req.type === '' ? 'client' : req.type,
      restricted: req.restricted,
      projects: req.projects,
      certificate,
    };
    await this.store.addCertificate(record);
    this.trusted.set(fingerprint, record);
    if (token) this.tokens.delete(token.secret);
    return { record, token };
  }

  private tokenFor(text: string): PendingToken | undefined {
    if (text === '') return undefined;
    const decoded = decodeToken(text);
    return decoded ? this.tokens.get(decoded.secret) : undefined;
  }
}
