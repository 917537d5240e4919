import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { Coalescer } from './coalesce.js';

async function collect(
  chunks: Buffer[],
  opts: ConstructorParameters<typeof Coalescer>[0],
): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    new Coalescer(opts),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        out.push(chunk);
        done();
      },
    }),
  );
  return out;
}

describe('Coalescer', () => {
  it.each([
    ['gathers small chunks into writes of the threshold size', 256, 16, 1024, [1024, 1024, 1024, 1024]],
    ['sends the remainder at the end', 10, 100, 256, [300, 300, 300, 100]],
    ['passes a chunk larger than the threshold on whole', 3, 5000, 1024, [5000, 5000, 5000]],
  ])('%s', async (_what, count, size, bytes, expected) => {
    const chunks = Array.from({ length: count }, (_, i) => Buffer.alloc(size, i));
    const out = await collect(chunks, { bytes, maxDelayMs: 1000 });
    expect(out.map((c) => c.length)).toEqual(expected);
    expect(Buffer.concat(out).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('lets a small batch go after the delay when no more data comes', async () => {
    const c = new Coalescer({ bytes: 1024 * 1024, maxDelayMs: 5 });
    const got = new Promise<Buffer>((resolve) => c.once('data', resolve));
    c.write(Buffer.from('trickle'));
    expect((await got).toString()).toBe('trickle');
    c.destroy();
  });
});
