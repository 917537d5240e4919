import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BadRequestError } from '../errors/index.js';
import { MultipartFingerprint, multipartBoundary } from './multipart.js';

/** An uploaded image body kept on disk until every host has it. */
export interface SpooledImage {
  path: string;
  size: number;
  /** The fingerprint LXD will compute for this upload. */
  fingerprint: string;
  /** Content type to send to the hosts (`application/octet-stream` or the client's multipart type). */
  contentType: string;
  remove(): Promise<void>;
}

/**
 * Streams an upload to a file under `dir` while computing its LXD fingerprint: the SHA-256 of the
 * file for a unified tarball, of the metadata and rootfs parts for a split (multipart) upload. The body
 * is never held in memory; it is needed on disk because it goes to several hosts.
 */
export async function spoolUpload(
  body: Readable,
  contentType: string | undefined,
  dir: string,
): Promise<SpooledImage> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `upload-${randomUUID()}`);
  const remove = () => rm(path, { force: true });
  const boundary = multipartBoundary(contentType);
  try {
    if (boundary !== undefined) {
      const parts = new MultipartFingerprint(boundary);
      const tee = new PassThrough();
      tee.pipe(parts);
      const parsed = new Promise<void>((resolve, reject) => {
        parts.once('finish', resolve);
        parts.once('error', reject);
      });
      await Promise.all([pipeline(body, tee, createWriteStream(path, { mode: 0o600 })), parsed]);
      if (parts.parts.length < 2) {
        throw new BadRequestError('Invalid multipart image upload: expected the metadata and rootfs parts');
      }
      const { size } = await stat(path);
      return { path, size, fingerprint: parts.fingerprint(), contentType: contentType ?? '', remove };
    }
    const hash = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    await pipeline(body, tap, createWriteStream(path, { mode: 0o600 }));
    const { size } = await stat(path);
    if (size === 0) throw new BadRequestError('Empty image upload');
    return { path, size, fingerprint: hash.digest('hex'), contentType: 'application/octet-stream', remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
