import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeSync, openSync } from "node:fs";
import { lastLines, LineSplitter, listLogFiles, seekSince } from "../../src/log/line-source.ts";

const root = mkdtempSync(join(tmpdir(), "fz-lines-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function sample(n: number, seed: number): string[] {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) >>> 0) >>> 8;
  return Array.from({ length: n }, (_, i) => `line ${i} ` + "x".repeat(next() % 300));
}

describe("LineSplitter", () => {
  test("any chunking gives the same lines; the unterminated tail comes at end()", () => {
    const lines = sample(500, 7);
    const text = Buffer.from(lines.join("\n"));
    for (const chunk of [1, 3, 64, 1000, 70_000]) {
      const got: string[] = [];
      // A small buffer forces compaction and growth on the long lines.
      const sp = new LineSplitter((b, s, e) => got.push(b.toString("utf8", s, e)), 128);
      for (let i = 0; i < text.length; i += chunk) sp.push(text.subarray(i, i + chunk));
      expect(got.length).toBe(499);
      sp.end();
      expect(got).toEqual(lines);
    }
  });

  test("a line longer than the cap is handed on in pieces, not held whole", () => {
    const got: number[] = [];
    const sp = new LineSplitter((_b, s, e) => got.push(e - s), 64, 256);
    sp.push(Buffer.from("a".repeat(1000) + "\nshort\n"));
    sp.end();
    expect(got.reduce((a, b) => a + b, 0)).toBe(1005);
    expect(Math.max(...got)).toBeLessThanOrEqual(256);
    expect(got.at(-1)).toBe(5);
  });
});

describe("lastLines", () => {
  test("reads backwards across blocks and files, with a filter", () => {
    const a = sample(300, 1);
    const b = sample(200, 2);
    const fa = join(root, "a.jsonl");
    const fb = join(root, "b.jsonl");
    writeFileSync(fa, a.join("\n") + "\n");
    writeFileSync(fb, b.join("\n")); // no final newline
    const all = [...a, ...b];
    for (const block of [7, 100, 4096, 1 << 20]) {
      for (const n of [1, 5, 250, 499, 500, 900]) {
        const got = lastLines([fa, fb], n, () => true, block).map((l) => l.toString());
        expect(got).toEqual(all.slice(-n));
      }
      const even = lastLines([fa, fb], 10, (buf, s, e) => Number(buf.toString("utf8", s, e).split(" ")[1]) % 2 === 0, block).map((l) => l.toString());
      expect(even).toEqual(all.filter((l) => Number(l.split(" ")[1]) % 2 === 0).slice(-10));
    }
  });
});

describe("listLogFiles", () => {
  test("Firezone names sort by their timestamp, other .jsonl files by modification time", () => {
    const dir = join(root, "dir");
    mkdirSync(dir);
    const names = ["firezone-client.2026-11-26T05-00-00Z.jsonl", "firezone-client.2026-11-26T04-00-00.5Z.jsonl", "firezone-client.2026-11-26T04-00-00.25Z.jsonl", "other.jsonl", "notes.txt"];
    for (const n of names) writeFileSync(join(dir, n), "{}\n");
    const t = Date.parse("2026-11-26T04:30:00Z") / 1000;
    utimesSync(join(dir, "other.jsonl"), t, t);
    expect(listLogFiles(dir).map((p) => p.slice(dir.length + 1))).toEqual([
      "firezone-client.2026-11-26T04-00-00.25Z.jsonl",
      "firezone-client.2026-11-26T04-00-00.5Z.jsonl",
      "other.jsonl",
      "firezone-client.2026-11-26T05-00-00Z.jsonl",
    ]);
  });
});

describe("seekSince", () => {
  test("finds an offset at or before the first record at or after the time, without reading everything", () => {
    const file = join(root, "sorted.jsonl");
    const lines: string[] = [];
    const starts: number[] = [];
    let offset = 0;
    for (let i = 0; i < 60_000; i++) {
      // Mostly ordered, with small reorderings as concurrent writers produce.
      const t = i * 10 + (i % 7 === 3 ? -25 : 0);
      const line = JSON.stringify({ t, pad: "z".repeat(i % 50) });
      starts.push(offset);
      lines.push(line);
      offset += line.length + 1;
    }
    writeFileSync(file, lines.join("\n") + "\n");
    const fd = openSync(file, "r");
    try {
      const timeOf = (l: Buffer) => JSON.parse(l.toString()).t as number;
      for (const since of [-100, 0, 5, 10_000, 123_456, 400_000, 599_990, 10_000_000]) {
        const off = seekSince(fd, offset, since, timeOf, 4096);
        expect(starts).toContain(off); // a line start
        const first = lines.findIndex((l) => JSON.parse(l).t >= since);
        if (first >= 0) expect(off).toBeLessThanOrEqual(starts[first]!);
        // Far into the file the search skips most of it: within the back-off and one probe.
        if (first > 20_000) expect(off).toBeGreaterThan(starts[first]! - 4096 - 65_536);
      }
      // No time to go by: read from the start.
      expect(seekSince(fd, offset, 1000, () => NaN, 4096)).toBe(0);
    } finally {
      closeSync(fd);
    }
  });
});
