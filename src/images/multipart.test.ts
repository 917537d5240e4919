import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { MultipartFingerprint, multipartBoundary } from './multipart.js';

const BOUNDARY = 'b0undary1234';

function body(parts: { name: string; data: Buffer }[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(
      Buffer.from(
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"; filename="${p.name}.bin"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
      ),
      p.data,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

async function fingerprintOf(data: Buffer, chunkSize: number): Promise<MultipartFingerprint> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) pieces.push(data.subarray(i, i + chunkSize));
  const fp = new MultipartFingerprint(BOUNDARY);
  await pipeline(Readable.from(pieces), fp);
  return fp;
}

describe('multipart image fingerprints', () => {
  const meta = Buffer.from('metadata tarball \r\n--almost a boundary\r\n');
  const rootfs = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  const expected = createHash('sha256').update(meta).update(rootfs).digest('hex');

  it.each([1, 2, 7, 13, 64, 4096, 100_000])(
    'hashes the metadata and rootfs parts the way LXD does, whatever the chunk size (%i)',
    async (chunkSize) => {
      const fp = await fingerprintOf(
        body([
          { name: 'metadata', data: meta },
          { name: 'rootfs', data: rootfs },
        ]),
        chunkSize,
      );
      expect(fp.parts).toEqual(['metadata', 'rootfs']);
      expect(fp.fingerprint()).toBe(expected);
    },
  );

  it('rejects a body that ends before its closing boundary', async () => {
    const whole = body([{ name: 'metadata', data: meta }]);
    await expect(fingerprintOf(whole.subarray(0, whole.length - 10), 50)).rejects.toThrow(/truncated/);
  });

  it.each([
    ['multipart/form-data; boundary=abc', 'abc'],
    ['multipart/form-data; boundary="a b"', 'a b'],
    ['application/octet-stream', undefined],
    [undefined, undefined],
  ])('reads the boundary of %s', (contentType, boundary) => {
    expect(multipartBoundary(contentType)).toBe(boundary);
  });
});
