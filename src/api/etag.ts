import { createHash } from 'node:crypto';
import { PreconditionFailedError } from '../errors/index.js';

/** An ETag over the writable part of an object, as LXD computes one for each resource. */
export function etagOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** Checks an `If-Match` header (when present) against the current ETag. */
export function checkIfMatch(header: string | undefined, current: string): void {
  if (header === undefined || header === '') return;
  const given = header.replace(/^W\//, '').replace(/^"|"$/g, '');
  if (given !== current) throw new PreconditionFailedError(`ETag doesn't match: ${given} vs ${current}`);
}
