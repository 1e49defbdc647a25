import { closeSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { nowNanos, rfc3339Nanos } from "./clock.ts";
import { recordToJson, type LogRecord, type LogSink } from "./logger.ts";

export interface FileSinkOptions {
  /** Directory for the log files; created when missing. */
  dir: string;
  /** Role in the file name: `firezone-<role>.<timestamp>.jsonl`. */
  role: string;
  /** A file is closed and a new one started once it would grow past this. Default 10 MiB. */
  maxFileBytes?: number;
  /** Oldest files of this role are deleted while all of them together exceed this. Default 100 MiB. */
  maxTotalBytes?: number;
  /** Records collect in a buffer of this size before one write. Default 64 KiB. */
  bufferBytes?: number;
  /** Buffered records are written at least this often; 0 turns the timer off. Default 200 ms. */
  flushIntervalMs?: number;
}

/** What a file sink has lost, so a status command or a test can see it instead of an exception. */
export interface FileSinkStats {
  written: number;
  dropped: number;
  rotations: number;
  deletedFiles: number;
  lastError: string | undefined;
}

const FILE_RE = /^firezone-(.+)\.(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(?:\.\d+)?Z)(?:-\d+)?\.jsonl$/;

/** `firezone-client.2026-11-26T04-51-45.123456789Z.jsonl`: sorts by time, no `:` (portable names). */
export function logFileName(role: string, nanos: bigint = nowNanos()): string {
  return `firezone-${role}.${rfc3339Nanos(nanos).replaceAll(":", "-")}.jsonl`;
}

/** The role and timestamp in a log file's name, or undefined for any other file. */
export function parseLogFileName(name: string): { role: string; stamp: string } | undefined {
  const m = FILE_RE.exec(name);
  return m ? { role: m[1]!, stamp: m[2]! } : undefined;
}

/**
 * JSONL records into size-rotated files in one directory. Records are encoded into one
 * preallocated buffer and written with a single `writeSync` when it fills, on a timer, on
 * `flush()` (exit, SIGTERM). Every failure is counted in `stats` and never thrown: a full disk
 * or a deleted directory costs records, not the program.
 */
export class FileSink implements LogSink {
  readonly dir: string;
  readonly role: string;
  readonly stats: FileSinkStats = { written: 0, dropped: 0, rotations: 0, deletedFiles: 0, lastError: undefined };
  private readonly maxFileBytes: number;
  private readonly maxTotalBytes: number;
  private readonly buf: Uint8Array;
  private readonly encoder = new TextEncoder();
  private used = 0;
  /** Records in `buf`, counted as dropped if their write fails. */
  private pending = 0;
  private fd = -1;
  private fileBytes = 0;
  private currentPath: string | undefined;
  private retryOpenAt = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(options: FileSinkOptions) {
    this.dir = options.dir;
    this.role = options.role;
    this.maxFileBytes = Math.max(1024, options.maxFileBytes ?? 10 * 1024 * 1024);
    this.maxTotalBytes = Math.max(this.maxFileBytes, options.maxTotalBytes ?? 100 * 1024 * 1024);
    this.buf = new Uint8Array(new ArrayBuffer(Math.max(4096, options.bufferBytes ?? 64 * 1024)));
    const interval = options.flushIntervalMs ?? 200;
    if (interval > 0) {
      this.timer = setInterval(() => this.flush(), interval);
      this.timer.unref?.();
    }
  }

  /** The file being written, once the first flush has opened one. */
  get path(): string | undefined {
    return this.currentPath;
  }

  write(record: LogRecord): void {
    if (this.closed) return;
    let line: string;
    try {
      line = recordToJson(record) + "\n";
    } catch (error) {
      this.fail(error, 1);
      return;
    }
    // A UTF-16 unit takes at most 3 bytes in UTF-8, so this bound never under-reserves.
    if (line.length * 3 > this.buf.length - this.used) this.flush();
    if (line.length * 3 > this.buf.length) {
      this.writeOut(this.encoder.encode(line), 1);
      return;
    }
    const { written } = this.encoder.encodeInto(line, this.buf.subarray(this.used));
    this.used += written;
    this.pending++;
  }

  flush(): void {
    if (this.used === 0) return;
    const n = this.used;
    const records = this.pending;
    this.used = 0;
    this.pending = 0;
    this.writeOut(this.buf.subarray(0, n), records);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.closeFile();
  }

  private writeOut(bytes: Uint8Array, records: number): void {
    if (this.fd >= 0 && this.fileBytes > 0 && this.fileBytes + bytes.length > this.maxFileBytes) {
      this.closeFile();
      this.stats.rotations++;
    }
    if (this.fd < 0 && !this.open()) {
      this.stats.dropped += records;
      return;
    }
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
      this.fileBytes += bytes.length;
      this.stats.written += records;
    } catch (error) {
      this.fail(error, records);
      // The file may be gone or the disk full; the next write starts a fresh file.
      this.closeFile();
    }
  }

  private open(): boolean {
    const now = Date.now();
    if (now < this.retryOpenAt) return false;
    try {
      mkdirSync(this.dir, { recursive: true });
      let nanos = nowNanos();
      let path = join(this.dir, logFileName(this.role, nanos));
      // Two rotations within one clock tick must not share a file.
      for (let i = 0; this.currentPath === path || exists(path); i++) path = join(this.dir, logFileName(this.role, ++nanos));
      this.fd = openSync(path, "a", 0o640);
      this.currentPath = path;
      this.fileBytes = 0;
      this.enforceTotalCap();
      return true;
    } catch (error) {
      this.fail(error, 0);
      this.retryOpenAt = now + 5000;
      return false;
    }
  }

  /** Deletes this role's oldest files until all of them fit under the cap; never the current one. */
  private enforceTotalCap(): void {
    try {
      const files: Array<{ path: string; stamp: string; size: number }> = [];
      for (const name of readdirSync(this.dir)) {
        const parsed = parseLogFileName(name);
        if (!parsed || parsed.role !== this.role) continue;
        const path = join(this.dir, name);
        try {
          files.push({ path, stamp: parsed.stamp, size: statSync(path).size });
        } catch {
          // Deleted between listing and stat: nothing to count.
        }
      }
      files.sort((a, b) => (a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : a.path < b.path ? -1 : 1));
      let total = files.reduce((sum, f) => sum + f.size, 0) + this.maxFileBytes;
      for (const f of files) {
        if (total <= this.maxTotalBytes) break;
        if (f.path === this.currentPath) continue;
        try {
          unlinkSync(f.path);
          this.stats.deletedFiles++;
          total -= f.size;
        } catch (error) {
          this.fail(error, 0);
        }
      }
    } catch (error) {
      this.fail(error, 0);
    }
  }

  private closeFile(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {
      // Already closed or invalid: the descriptor is gone either way.
    }
    this.fd = -1;
  }

  private fail(error: unknown, records: number): void {
    this.stats.dropped += records;
    this.stats.lastError = error instanceof Error ? error.message : String(error);
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
