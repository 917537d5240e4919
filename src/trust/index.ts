/**
 * Trust: the manager's own certificates, its trust store of client certificates, the trust password
 * and LXD join tokens.
 */
export {
  certificateFingerprint,
  derToPem,
  fingerprintOfDer,
  generateKeyPair,
  loadOrCreateKeyPair,
  normalizeCertificate,
} from './certificates.js';
export type { KeyPair } from './certificates.js';
export { hashPassword, verifyPassword } from './password.js';
export { decodeToken, encodeToken } from './tokens.js';
export type { TrustToken } from './tokens.js';
export { TrustStore } from './truststore.js';
export type { AddCertificateRequest, PendingToken } from './truststore.js';
