import { closeSync, fstatSync, openSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseLogFileName } from "./file-sink.ts";
import { LineFormatter, LineResult, type LineFormatOptions } from "./line-format.ts";
import { lastLines, LineSplitter, listLogFiles, seekSince } from "./line-source.ts";
import { OutBuffer } from "./out-buffer.ts";
import { timeKey } from "./pretty.ts";

/** One thing to read: a file, a directory of rotated files, or standard input. */
export type LogSource = { kind: "file"; path: string } | { kind: "dir"; path: string } | { kind: "stdin" };

export interface ReadLogsOptions {
  sources: LogSource[];
  format: LineFormatOptions;
  /** Show only the last N matching records (undefined: all). */
  tail?: number;
  /** Keep reading as files grow, rotate and appear, until `signal` aborts. */
  follow?: boolean;
  signal?: AbortSignal;
  /** Poll interval while following. */
  pollMs?: number;
  /** Where output goes. */
  out: OutBuffer;
  stdin?: () => AsyncIterable<Uint8Array>;
}

export interface ReadLogsResult {
  shown: number;
  malformed: number;
  /** Malformed lines that the filters left out. */
  malformedHidden: number;
}

/**
 * `firezone logs` without the command line: reads the sources in order through one formatter,
 * in constant memory (chunked reads, `--tail` from the end backwards), then optionally follows.
 */
export async function readLogs(options: ReadLogsOptions): Promise<ReadLogsResult> {
  const { out, format } = options;
  const fmt = new LineFormatter(format, out);
  const onLine = (b: Buffer, s: number, e: number) => {
    fmt.line(b, s, e);
  };
  const cursors: FileCursor[] = [];
  const follow = options.follow === true;
  const files = (source: LogSource) => (source.kind === "dir" ? listLogFiles(source.path) : source.kind === "file" ? [source.path] : []);

  if (options.tail !== undefined) {
    // A probe decides which lines count towards N without printing or counting anything.
    const probe = new LineFormatter(format, new OutBuffer(() => {}));
    const accept = (b: Buffer, s: number, e: number) => {
      const r = probe.line(b, s, e);
      probe.out.rollback();
      return r === LineResult.Shown || (r === LineResult.Malformed && !format.json);
    };
    const fileSources = options.sources.filter((s) => s.kind !== "stdin");
    const paths = fileSources.flatMap(files);
    // Followers start where the tail ends, so no record is shown twice or lost in between.
    if (follow) for (const path of paths) cursors.push(FileCursor.atEnd(path, onLine));
    const sizes = follow ? cursors.map((c) => c.pos) : undefined;
    for (const line of lastLines(paths, options.tail, accept, undefined, sizes)) fmt.line(line, 0, line.length);
    out.flush();
    if (options.sources.some((s) => s.kind === "stdin")) await readStdinTail(options, accept, onLine, options.tail);
  } else {
    for (const source of options.sources) {
      if (source.kind === "stdin") {
        await readStream(options.stdin?.() ?? stdinChunks(), onLine, out);
        continue;
      }
      for (const path of files(source)) {
        const cursor = format.since === undefined ? FileCursor.atStart(path, onLine) : FileCursor.atSince(path, onLine, format.since);
        cursor.readAvailable(out);
        if (follow) cursors.push(cursor);
        else cursor.finish();
      }
    }
    out.flush();
  }

  if (follow) await followSources(options, cursors, onLine);
  for (const c of cursors) c.finish();
  out.flush();
  return { shown: fmt.shown, malformed: fmt.malformed, malformedHidden: fmt.malformedHidden };
}

/** A file being read: its descriptor, how far it was read, the unfinished last line. */
class FileCursor {
  private splitter: LineSplitter;

  private constructor(readonly path: string, private fd: number, private ino: number, public pos: number, private readonly onLine: (b: Buffer, s: number, e: number) => void) {
    this.splitter = new LineSplitter(onLine);
  }

  static atStart(path: string, onLine: (b: Buffer, s: number, e: number) => void): FileCursor {
    const fd = openSync(path, "r");
    return new FileCursor(path, fd, fstatSync(fd).ino, 0, onLine);
  }

  /** Starts at the first record that can be at or after `since` (binary search by time). */
  static atSince(path: string, onLine: (b: Buffer, s: number, e: number) => void, since: number): FileCursor {
    const fd = openSync(path, "r");
    const st = fstatSync(fd);
    return new FileCursor(path, fd, st.ino, seekSince(fd, st.size, since, recordTime), onLine);
  }

  static atEnd(path: string, onLine: (b: Buffer, s: number, e: number) => void): FileCursor {
    const fd = openSync(path, "r");
    const st = fstatSync(fd);
    return new FileCursor(path, fd, st.ino, st.size, onLine);
  }

  /** Reads to the current end; flushes output between chunks so memory stays flat. */
  readAvailable(out: OutBuffer): number {
    let total = 0;
    for (;;) {
      const n = this.splitter.readFrom(this.fd, this.pos);
      if (n === 0) return total;
      this.pos += n;
      total += n;
      out.flush();
    }
  }

  /** The file was replaced (new inode) or truncated: start over from its beginning. */
  restart(): void {
    this.closeFd();
    this.fd = openSync(this.path, "r");
    this.ino = fstatSync(this.fd).ino;
    this.pos = 0;
    this.splitter = new LineSplitter(this.onLine);
  }

  get pending(): number {
    return this.splitter.pending;
  }

  inode(): number {
    return this.ino;
  }

  /** No more data will come: an unterminated last line is shown as it is. */
  finish(): void {
    this.splitter.end();
    this.closeFd();
  }

  private closeFd(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = -1;
  }
}

async function followSources(options: ReadLogsOptions, cursors: FileCursor[], onLine: (b: Buffer, s: number, e: number) => void): Promise<void> {
  const { out, signal } = options;
  const known = new Set(cursors.map((c) => c.path));
  // Directories to watch for new files: given ones, and the directory of a Firezone log file
  // (its later rotations carry the same role).
  const watches: Array<{ dir: string; role?: string; after?: string }> = [];
  for (const source of options.sources) {
    if (source.kind === "dir") watches.push({ dir: source.path });
    if (source.kind === "file") {
      const parsed = parseLogFileName(basename(source.path));
      if (parsed) watches.push({ dir: dirname(source.path), role: parsed.role, after: parsed.stamp });
    }
  }
  const pollMs = options.pollMs ?? 200;
  while (!signal?.aborted) {
    for (const w of watches) {
      let fresh: string[];
      try {
        fresh = w.role === undefined ? listLogFiles(w.dir) : rotationsOf(w.dir, w.role, w.after!);
      } catch {
        continue; // directory gone for now; it may come back
      }
      for (const path of fresh) {
        if (known.has(path)) continue;
        try {
          cursors.push(FileCursor.atStart(path, onLine));
          known.add(path);
        } catch {
          // vanished between listing and opening
        }
      }
    }
    for (let i = 0; i < cursors.length; i++) {
      const c = cursors[i]!;
      let size: number;
      let ino: number;
      try {
        const st = statSync(c.path);
        size = st.size;
        ino = st.ino;
      } catch {
        // Deleted (the total-size cap): whatever it held has been read.
        c.finish();
        cursors.splice(i--, 1);
        known.delete(c.path);
        continue;
      }
      if (ino !== c.inode() || size < c.pos) c.restart();
      const got = c.readAvailable(out);
      // A rotated-away file will not finish its last line; show it once a newer file exists.
      if (got === 0 && c.pending > 0 && i < cursors.length - 1) c.finish();
    }
    out.flush();
    await sleep(pollMs, signal);
  }
}

function rotationsOf(dir: string, role: string, after: string): string[] {
  const out: Array<{ path: string; stamp: string }> = [];
  for (const name of readdirSync(dir)) {
    const parsed = parseLogFileName(name);
    if (parsed && parsed.role === role && parsed.stamp > after) out.push({ path: join(dir, name), stamp: parsed.stamp });
  }
  return out.sort((a, b) => (a.stamp < b.stamp ? -1 : 1)).map((f) => f.path);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

async function readStream(chunks: AsyncIterable<Uint8Array>, onLine: (b: Buffer, s: number, e: number) => void, out: OutBuffer): Promise<void> {
  const splitter = new LineSplitter(onLine);
  for await (const chunk of chunks) {
    splitter.push(chunk);
    out.flush();
  }
  splitter.end();
}

/** `--tail N` on a pipe: a ring of the last N matching lines (copies), printed at the end. */
async function readStdinTail(
  options: ReadLogsOptions,
  accept: (b: Buffer, s: number, e: number) => boolean,
  onLine: (b: Buffer, s: number, e: number) => void,
  count: number,
): Promise<void> {
  const ring: Buffer[] = [];
  let next = 0;
  const splitter = new LineSplitter((b, s, e) => {
    if (count === 0 || !accept(b, s, e)) return;
    const copy = Buffer.from(b.subarray(s, e));
    if (ring.length < count) ring.push(copy);
    else {
      ring[next] = copy;
      next = (next + 1) % count;
    }
  });
  for await (const chunk of options.stdin?.() ?? stdinChunks()) splitter.push(chunk);
  splitter.end();
  for (let i = 0; i < ring.length; i++) {
    const line = ring[(next + i) % ring.length]!;
    onLine(line, 0, line.length);
  }
  options.out.flush();
}

async function* stdinChunks(): AsyncIterable<Uint8Array> {
  for await (const chunk of Bun.stdin.stream()) yield chunk;
}

/** A record's time in ms for the `--since` search; NaN for anything without one. */
function recordTime(line: Buffer): number {
  try {
    const o = JSON.parse(line.toString("utf8"));
    const t = o?.time ?? o?.timestamp;
    return typeof t === "string" ? timeKey(t) : NaN;
  } catch {
    return NaN;
  }
}
