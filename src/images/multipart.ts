import { createHash, type Hash } from 'node:crypto';
import { Writable } from 'node:stream';
import { BadRequestError } from '../errors/index.js';

/** The boundary of a `multipart/form-data` content type, or undefined for anything else. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined || !/^multipart\/form-data\b/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

type State = 'preamble' | 'headers' | 'body' | 'done';

/**
 * Computes an LXD split image's fingerprint while the upload streams by: the SHA-256 of the part bodies
 * (metadata, then rootfs) concatenated, as LXD hashes them. Holds at most one boundary's length of data.
 */
export class MultipartFingerprint extends Writable {
  private readonly delimiter: Buffer;
  private readonly hash: Hash = createHash('sha256');
  private pending: Buffer;
  private state: State = 'preamble';
  /** Form field names of the parts, in order. */
  readonly parts: string[] = [];

  constructor(boundary: string) {
    super();
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
    // The first boundary has no CRLF before it; a virtual one keeps the search uniform.
    this.pending = Buffer.from('\r\n');
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      this.consume();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.state !== 'done' || this.parts.length === 0) {
      callback(new BadRequestError('Invalid multipart image upload: truncated body'));
      return;
    }
    callback();
  }

  fingerprint(): string {
    return this.hash.digest('hex');
  }

  private consume(): void {
    for (;;) {
      switch (this.state) {
        case 'preamble':
        case 'body': {
          const at = this.pending.indexOf(this.delimiter);
          if (at < 0) {
            // Keep a tail that may hold the start of a delimiter split across chunks.
            const keep = Math.min(this.pending.length, this.delimiter.length - 1);
            if (this.state === 'body') this.hash.update(this.pending.subarray(0, this.pending.length - keep));
            this.pending = this.pending.subarray(this.pending.length - keep);
            return;
          }
          if (this.state === 'body') this.hash.update(this.pending.subarray(0, at));
          const after = at + this.delimiter.length;
          if (this.pending.length < after + 2) {
            // Not enough data to tell a part from the end: keep the delimiter for the next chunk.
            this.pending = this.pending.subarray(at);
            return;
          }
          const next = this.pending.subarray(after, after + 2).toString('latin1');
          this.pending = this.pending.subarray(after + 2);
          this.state = next === '--' ? 'done' : 'headers';
          break;
        }
        case 'headers': {
          const end = this.pending.indexOf('\r\n\r\n');
          if (end < 0) {
            if (this.pending.length > 16 * 1024)
              throw new BadRequestError('Invalid multipart image upload: part headers too long');
            return;
          }
          const headers = this.pending.subarray(0, end).toString('utf8');
          const name = /name="([^"]*)"/i.exec(headers)?.[1] ?? '';
          this.parts.push(name);
          this.pending = this.pending.subarray(end + 4);
          this.state = 'body';
          break;
        }
        case 'done':
          this.pending = Buffer.alloc(0);
          return;
      }
    }
  }
}
