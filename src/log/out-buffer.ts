import { writeSync } from "node:fs";

/**
 * Output collected in one large buffer and written in big chunks. A line being rendered is
 * never split across writes: `begin()` marks its start, so a filter can still `rollback()` it,
 * and the buffer grows rather than flush half a line.
 */
export class OutBuffer {
  buf: Buffer;
  pos = 0;
  private lineStart = 0;
  private readonly encoder = new TextEncoder();

  constructor(private readonly sink: (bytes: Uint8Array) => void, size = 1 << 20) {
    this.buf = Buffer.allocUnsafe(size);
  }

  begin(): void {
    this.lineStart = this.pos;
  }

  rollback(): void {
    this.pos = this.lineStart;
  }

  /** Room for `n` more bytes at `pos`. Writes out finished lines first, grows only for a huge line. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.lineStart > 0) {
      this.sink(this.buf.subarray(0, this.lineStart));
      this.buf.copyWithin(0, this.lineStart, this.pos);
      this.pos -= this.lineStart;
      this.lineStart = 0;
    }
    if (this.pos + n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(bigger, 0, 0, this.pos);
      this.buf = bigger;
    }
  }

  bytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    if (n < 48) for (let i = start; i < end; i++) buf[p++] = src[i]!;
    else {
      buf.set(src.subarray(start, end), p);
      p += n;
    }
    this.pos = p;
  }

  string(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.encoder.encodeInto(s, this.buf.subarray(this.pos)).written;
  }

  /** Writes everything out; call between lines. */
  flush(): void {
    if (this.pos > 0) this.sink(this.buf.subarray(0, this.pos));
    this.pos = 0;
    this.lineStart = 0;
  }
}

/** Output closed by the reader (`firezone logs | head`): stop quietly. */
export class OutputClosed extends Error {}

/** Writes all bytes to a file descriptor, waiting out a non-blocking pipe, ending on EPIPE. */
export function fdSink(fd: number): (bytes: Uint8Array) => void {
  return (bytes) => {
    let off = 0;
    while (off < bytes.length) {
      try {
        off += writeSync(fd, bytes, off, bytes.length - off);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") Bun.sleepSync(1);
        else if (code === "EPIPE") throw new OutputClosed("output closed");
        else throw error;
      }
    }
  };
}
