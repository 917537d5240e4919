import { Transform, type TransformCallback } from 'node:stream';

export interface CoalesceOptions {
  /** Bytes gathered before a write goes out. */
  bytes?: number;
  /** Longest a smaller batch waits for more data, so a slow trickle still flows. */
  maxDelayMs?: number;
}

/**
 * Gathers the small chunks a TLS socket yields (16 KiB records, smaller HTTP chunks) into larger writes
 * on the other side. Each write costs a TLS record header, an encryption call and a syscall, and a
 * chunked upload adds framing per chunk: relaying 16 KiB at a time cost a proxy a quarter of its
 * throughput. Memory stays bounded by `bytes` per stream; backpressure passes through unchanged.
 */
export class Coalescer extends Transform {
  private readonly limit: number;
  private readonly maxDelayMs: number;
  private pending: Buffer[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: CoalesceOptions = {}) {
    super();
    this.limit = opts.bytes ?? 256 * 1024;
    this.maxDelayMs = opts.maxDelayMs ?? 10;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.size += chunk.length;
    if (this.size >= this.limit) this.flushPending();
    else
      this.timer ??= setTimeout(() => {
        this.flushPending();
      }, this.maxDelayMs);
    done();
  }

  override _flush(done: TransformCallback): void {
    this.flushPending();
    done();
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    clearTimeout(this.timer);
    this.pending = [];
    done(err);
  }

  private flushPending(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.size === 0) return;
    const data = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.size);
    this.pending = [];
    this.size = 0;
    this.push(data);
  }
}
