import { closeSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseLogFileName } from "./file-sink.ts";

export type LineHandler = (buf: Buffer, start: number, end: number) => void;

/** Longest line kept whole; a longer one is handed on in pieces (each shown as malformed). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * Splits a byte stream into lines with constant memory: one buffer that bytes are read into,
 * complete lines handed out as views, the unfinished tail moved to the front. The buffer only
 * grows for a line longer than itself, up to MAX_LINE_BYTES.
 */
export class LineSplitter {
  private buf: Buffer;
  private len = 0;

  constructor(private readonly onLine: LineHandler, size = 1 << 20, private readonly maxLine = MAX_LINE_BYTES) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Bytes held back because their line has not ended yet. */
  get pending(): number {
    return this.len;
  }

  /** Reads once from `fd` (at `position`, or the current offset when null) and hands out lines. */
  readFrom(fd: number, position: number | null): number {
    this.makeRoom();
    const n = readSync(fd, this.buf, this.len, this.buf.length - this.len, position);
    this.len += n;
    this.drain();
    return n;
  }

  push(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      this.makeRoom();
      const n = Math.min(chunk.length - off, this.buf.length - this.len);
      this.buf.set(chunk.subarray(off, off + n), this.len);
      this.len += n;
      off += n;
      this.drain();
    }
  }

  /** The input ended: an unterminated last line is still a line (often a truncated one). */
  end(): void {
    if (this.len > 0) this.onLine(this.buf, 0, this.len);
    this.len = 0;
  }

  private drain(): void {
    const buf = this.buf;
    const len = this.len;
    let start = 0;
    let nl = buf.indexOf(10, 0);
    while (nl !== -1 && nl < len) {
      this.onLine(buf, start, nl);
      start = nl + 1;
      nl = start < len ? buf.indexOf(10, start) : -1;
    }
    if (start > 0) {
      if (start < len) buf.copyWithin(0, start, len);
      this.len = len - start;
    }
  }

  private makeRoom(): void {
    if (this.len < this.buf.length) return;
    if (this.buf.length < this.maxLine) {
      const bigger = Buffer.allocUnsafe(Math.min(this.maxLine, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.len);
      this.buf = bigger;
      return;
    }
    this.onLine(this.buf, 0, this.len);
    this.len = 0;
  }
}

/**
 * The last `count` lines that `accept` takes, from the newest file backwards, reading each file
 * from its end in blocks, so a 1 GB log costs only the blocks that hold those lines. Returns
 * copies of the lines, oldest first.
 */
export function lastLines(
  paths: string[],
  count: number,
  accept: (buf: Buffer, start: number, end: number) => boolean,
  blockSize = 64 * 1024,
  /** Read each file only up to this size (what a follower has already taken as seen). */
  sizes?: number[],
): Buffer[] {
  const found: Buffer[] = [];
  if (count <= 0) return found;
  for (let f = paths.length - 1; f >= 0 && found.length < count; f--) {
    const fd = openSync(paths[f]!, "r");
    try {
      let pos = sizes?.[f] ?? statSync(paths[f]!).size;
      // carry holds the start of a line whose beginning is in a block not read yet.
      let carry: Buffer = Buffer.alloc(0);
      while (found.length < count) {
        if (pos === 0) {
          if (carry.length > 0 && accept(carry, 0, carry.length)) found.push(Buffer.from(carry));
          break;
        }
        const size = Math.min(blockSize, pos);
        pos -= size;
        const data = Buffer.allocUnsafe(size + carry.length);
        let got = 0;
        while (got < size) {
          const n = readSync(fd, data, got, size - got, pos + got);
          if (n === 0) break;
          got += n;
        }
        carry.copy(data, size);
        let end = data.length;
        let nl = end > 0 ? data.lastIndexOf(10, end - 1) : -1;
        while (nl !== -1 && found.length < count) {
          if (nl + 1 < end && accept(data, nl + 1, end)) found.push(Buffer.from(data.subarray(nl + 1, end)));
          end = nl;
          nl = end > 0 ? data.lastIndexOf(10, end - 1) : -1;
        }
        if (found.length >= count) break;
        if (end > MAX_LINE_BYTES) end = MAX_LINE_BYTES;
        carry = data.subarray(0, end);
      }
    } finally {
      closeSync(fd);
    }
  }
  return found.reverse();
}

/**
 * The JSONL log files of a directory in time order: by the timestamp in Firezone's file names
 * (`firezone-<role>.<timestamp>.jsonl`), by modification time for other `.jsonl` files.
 */
export function listLogFiles(dir: string): string[] {
  const files: Array<{ path: string; key: number; name: string }> = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.name.endsWith(".jsonl") || entry.isDirectory()) continue;
    const path = join(dir, entry.name);
    files.push({ path, key: fileTimeKey(path, entry.name), name: entry.name });
  }
  files.sort((a, b) => a.key - b.key || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return files.map((f) => f.path);
}

function fileTimeKey(path: string, name: string): number {
  const parsed = parseLogFileName(name);
  if (parsed) {
    const [date, time] = parsed.stamp.split("T") as [string, string];
    const ms = Date.parse(`${date}T${time.replace(/^(\d\d)-(\d\d)-/, "$1:$2:")}`);
    if (Number.isFinite(ms)) return ms;
  }
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** How far before the binary search's answer reading starts, for records slightly out of order. */
export const SINCE_BACKOFF_BYTES = 1024 * 1024;

/**
 * A byte offset (the start of a line) from which reading a time-ordered log finds every record
 * at or after `since`, found by binary search over the file instead of reading it all; the
 * caller still filters each record, so the answer only has to be early enough. `timeOf` gives
 * a line's time in ms (NaN when it has none; the search then stops where it is).
 */
export function seekSince(fd: number, size: number, since: number, timeOf: (line: Buffer) => number, backoff = SINCE_BACKOFF_BYTES): number {
  const probe = Buffer.allocUnsafe(64 * 1024);
  /** The first whole line starting after `pos`: its start and its time. */
  const lineAfter = (pos: number): { start: number; time: number } | undefined => {
    const n = readSync(fd, probe, 0, probe.length, pos);
    const nl = probe.subarray(0, n).indexOf(10);
    if (nl < 0) return undefined;
    const start = pos + nl + 1;
    const m = readSync(fd, probe, 0, probe.length, start);
    const end = probe.subarray(0, m).indexOf(10);
    if (end < 0) return undefined;
    return { start, time: timeOf(probe.subarray(0, end)) };
  };
  let lo = 0;
  let hi = size;
  while (hi - lo > probe.length) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const line = lineAfter(mid);
    if (!line || !Number.isFinite(line.time)) break;
    if (line.time < since) lo = line.start;
    else hi = mid;
  }
  if (lo <= backoff) return 0;
  return lineAfter(lo - backoff)?.start ?? 0;
}
