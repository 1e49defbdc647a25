import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileSink, logFileName, parseLogFileName } from "../../src/log/file-sink.ts";
import { defaultLogDir } from "../../src/log/log-dir.ts";
import type { LogRecord } from "../../src/log/index.ts";

const root = mkdtempSync(join(tmpdir(), "fz-filesink-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `d${n++}`);

function record(i: number, extra: Record<string, unknown> = {}): LogRecord {
  return { time: "2026-11-26T04:51:45.123456789Z", severity: "INFO", target: "test::sink", message: `record ${i}`, fields: { i, ...extra } };
}

function readAll(dir: string): { files: string[]; lines: string[] } {
  const files = readdirSync(dir).sort();
  const lines = files.flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n").filter((l) => l !== ""));
  return { files, lines };
}

describe("file names", () => {
  test("carry role and a sortable timestamp without colons", () => {
    const name = logFileName("client", 1_764_132_705_123_456_789n);
    expect(name).toBe("firezone-client.2025-11-26T04-51-45.123456789Z.jsonl");
    expect(parseLogFileName(name)).toEqual({ role: "client", stamp: "2025-11-26T04-51-45.123456789Z" });
    expect(parseLogFileName("other.jsonl")).toBeUndefined();
  });
});

describe("FileSink", () => {
  test("buffers records and writes them as JSONL on flush", () => {
    const dir = freshDir();
    const sink = new FileSink({ dir, role: "client", flushIntervalMs: 0 });
    for (let i = 0; i < 10; i++) sink.write(record(i));
    expect(sink.path).toBeUndefined(); // nothing written before a flush or a full buffer
    sink.flush();
    const { files, lines } = readAll(dir);
    expect(files.length).toBe(1);
    expect(parseLogFileName(files[0]!)?.role).toBe("client");
    expect(lines.length).toBe(10);
    const first = JSON.parse(lines[0]!);
    expect(Object.keys(first)).toEqual(["time", "severity", "target", "message", "i"]);
    expect(first.message).toBe("record 0");
    expect(sink.stats.written).toBe(10);
    sink.close();
  });

  test("writes when the buffer fills, without a flush", () => {
    const dir = freshDir();
    const sink = new FileSink({ dir, role: "relay", bufferBytes: 4096, flushIntervalMs: 0 });
    for (let i = 0; i < 200; i++) sink.write(record(i));
    const before = readAll(dir).lines.length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(200);
    sink.close();
    expect(readAll(dir).lines.length).toBe(200);
  });

  test("a record larger than the buffer is written whole", () => {
    const dir = freshDir();
    const sink = new FileSink({ dir, role: "client", bufferBytes: 4096, flushIntervalMs: 0 });
    sink.write(record(1, { blob: "x".repeat(10_000) }));
    sink.write(record(2));
    sink.close();
    const { lines } = readAll(dir);
    expect(lines.length).toBe(2);
    expect(JSON.parse(lines[0]!).blob.length).toBe(10_000);
  });

  test("rotates by size and deletes the oldest files past the total cap", () => {
    const dir = freshDir();
    const sink = new FileSink({ dir, role: "gateway", maxFileBytes: 4096, maxTotalBytes: 16384, bufferBytes: 4096, flushIntervalMs: 0 });
    const other = join(dir, "firezone-client.2000-01-01T00-00-00Z.jsonl");
    for (let i = 0; i < 2000; i++) {
      sink.write(record(i));
      if (i === 0) {
        sink.flush();
        writeFileSync(other, "{}\n"); // another role's file in the same directory is never deleted
      }
    }
    sink.close();
    const { files } = readAll(dir);
    const own = files.filter((f) => parseLogFileName(f)?.role === "gateway");
    expect(sink.stats.rotations).toBeGreaterThan(10);
    expect(sink.stats.deletedFiles).toBeGreaterThan(0);
    expect(files).toContain("firezone-client.2000-01-01T00-00-00Z.jsonl");
    let total = 0;
    for (const f of own) {
      const size = readFileSync(join(dir, f)).length;
      expect(size).toBeLessThanOrEqual(4096);
      total += size;
    }
    expect(total).toBeLessThanOrEqual(16384);
    // The newest records survive and are in order across the remaining files.
    const lines = own.sort().flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n").filter(Boolean));
    const ids = lines.map((l) => JSON.parse(l).i as number);
    expect(ids[ids.length - 1]).toBe(1999);
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe(ids[i - 1]! + 1);
  });

  test("an unusable directory costs records, never an exception", () => {
    const file = join(root, "not-a-dir");
    writeFileSync(file, "");
    const sink = new FileSink({ dir: join(file, "logs"), role: "client", flushIntervalMs: 0 });
    expect(() => {
      sink.write(record(1));
      sink.flush();
      sink.write(record(2, { big: 10n, err: new Error("boom"), bytes: new Uint8Array([1, 2]) }));
      sink.close();
    }).not.toThrow();
    expect(sink.stats.dropped).toBe(2);
    expect(sink.stats.lastError).toBeString();
  });

  test("a value JSON cannot carry is written readably", () => {
    const dir = freshDir();
    const sink = new FileSink({ dir, role: "client", flushIntervalMs: 0 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    sink.write(record(1, { big: 10n, err: new Error("boom"), bytes: new Uint8Array([1, 255]) }));
    sink.write(record(2, { cyclic })); // cannot serialise: dropped and counted
    sink.close();
    const { lines } = readAll(dir);
    expect(lines.length).toBe(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ big: "10", err: "boom", bytes: "01ff" });
    expect(sink.stats.dropped).toBe(1);
  });
});

describe("defaultLogDir", () => {
  test("LOG_DIR wins, root gets one directory per role, people get XDG state", () => {
    expect(defaultLogDir("client", { LOG_DIR: "/x/logs" }, 0)).toBe("/x/logs");
    expect(defaultLogDir("gateway", {}, 0)).toBe("/var/log/firezone/gateway");
    expect(defaultLogDir("client", { XDG_STATE_HOME: "/s", HOME: "/h" }, 1000)).toBe("/s/firezone/logs");
    expect(defaultLogDir("client", { HOME: "/h" }, 1000)).toBe("/h/.local/state/firezone/logs");
    expect(defaultLogDir("client", { XDG_STATE_HOME: "relative", HOME: "/h" }, 1000)).toBe("/h/.local/state/firezone/logs");
  });
});
