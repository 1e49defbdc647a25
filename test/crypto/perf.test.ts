import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Bench } from "../../src/perf/harness.ts";
import { listSuites, registerSuite } from "../../src/perf/registry.ts";
import { reportToTable } from "../../src/perf/report.ts";
import { runSuite } from "../../src/perf/run.ts";

// The `firezone perf` harness lives with the crypto suite it was built for. No timed assertions:
// these check the bookkeeping (median, ratios, MB/s, output shapes), never a speed.

const main = join(import.meta.dir, "../../src/cli/main.ts");
const cli = (...args: string[]) => {
  const p = Bun.spawnSync([process.execPath, main, ...args], { env: { ...process.env, NO_COLOR: "1" } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
};

describe("harness", () => {
  test("counts ops, reports the median run, MB/s from bytes per op, and ratios within a group", () => {
    const bench = new Bench({ durationMs: 30, runs: 3, warmupMs: 5 });
    let calls = 0;
    const fast = bench.measure({ group: "g", name: "fast", baseline: "slow", bytesPerOp: 1000, op: () => ++calls });
    const slow = bench.measure({ group: "g", name: "slow", baseline: "slow", op: () => {
      let x = 0;
      for (let i = 0; i < 2000; i++) x += i;
      return x;
    } });
    bench.finish();
    expect(calls).toBeGreaterThan(0);
    expect(fast.samples.length).toBe(3);
    const sorted = [...fast.samples].sort((a, b) => a - b);
    expect(fast.opsPerSec).toBe(sorted[1]);
    expect(fast.mbPerSec).toBeCloseTo((fast.opsPerSec * 1000) / 1e6, 6);
    expect(slow.mbPerSec).toBeUndefined();
    expect(fast.ratio).toBeCloseTo(fast.opsPerSec / slow.opsPerSec, 9);
    expect(slow.ratio).toBe(1);
  });

  test("measureGroup gives every contender the same number of interleaved runs and a ratio", () => {
    const bench = new Bench({ durationMs: 30, runs: 3, warmupMs: 2 });
    const order: string[] = [];
    let last = "";
    const op = (name: string) => () => {
      if (last !== name) order.push(name);
      last = name;
      return 1;
    };
    const ms = bench.measureGroup({ group: "g2", baseline: "a", bytesPerOp: 10, contenders: [{ name: "a", op: op("a") }, { name: "b", op: op("b") }] });
    bench.finish();
    expect(ms.map((m) => m.samples.length)).toEqual([3, 3]);
    // Warm-up a, warm-up b, then a b a b a b.
    expect(order).toEqual(["a", "b", "a", "b", "a", "b", "a", "b"]);
    expect(ms[0].ratio).toBe(1);
    expect(ms[1].ratio).toBeCloseTo(ms[1].opsPerSec / ms[0].opsPerSec, 9);
    expect(ms[1].mbPerSec).toBeCloseTo((ms[1].opsPerSec * 10) / 1e6, 6);
  });

  test("the table names the baseline row and the ratio of the others", async () => {
    registerSuite({
      name: "test-fixed",
      description: "two contenders",
      run(b) {
        b.measure({ group: "grp", name: "base", baseline: "base", op: () => 1 });
        b.measure({ group: "grp", name: "other", baseline: "base", op: () => 2 });
        return { notes: ["a note"], environment: { lib: "x 1.0" } };
      },
    });
    const report = await runSuite("test-fixed", { durationMs: 10, runs: 1, warmupMs: 1 });
    expect(report.results.map((r) => r.name)).toEqual(["base", "other"]);
    const table = reportToTable(report);
    expect(table).toContain("perf test-fixed: two contenders");
    expect(table).toContain("lib: x 1.0");
    expect(table).toMatch(/base\s+\S+\s+baseline/);
    expect(table).toMatch(/other\s+\S+\s+[\d.]+x base/);
    expect(table).toContain("note: a note");
  });

  test("suite names are validated and cannot be registered twice", async () => {
    expect(() => registerSuite({ name: "Bad Name", description: "", run() {} })).toThrow(/lower-case/);
    expect(() => registerSuite({ name: "test-fixed", description: "", run() {} })).toThrow(/twice/);
    expect((await listSuites()).map((s) => s.name)).toContain("crypto");
    await expect(runSuite("no-such-suite", { durationMs: 1, runs: 1, warmupMs: 0 })).rejects.toThrow(/unknown perf suite/);
  });
});

describe("firezone perf", () => {
  test("without a suite lists the suites, as text and as JSON", () => {
    const text = cli("perf");
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^\s+crypto\s+AEAD/m);
    const json = cli("perf", "--json");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out).suites.map((s: { name: string }) => s.name)).toContain("crypto");
  });

  test("bad suite names and flag values are usage errors (exit 2)", () => {
    const r = cli("perf", "cryto");
    expect(r.code).toBe(2);
    expect(r.err).toContain('did you mean "crypto"');
    expect(cli("perf", "crypto", "--duration", "0").code).toBe(2);
    expect(cli("perf", "crypto", "--runs", "1.5").code).toBe(2);
  });

  test("perf crypto --json measures every AEAD backend, X25519 and the BLAKE2s family", () => {
    const r = cli("perf", "crypto", "--duration", "0.02", "--runs", "1", "--json");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.version).toBe(1);
    expect(report.suite).toBe("crypto");
    const rows = report.results as { group: string; name: string; opsPerSec: number; mbPerSec?: number; ratio?: number }[];
    const seal = rows.filter((m) => m.group === "aead seal 1420 B").map((m) => m.name);
    expect(seal).toEqual(expect.arrayContaining(["libcrypto", "libcrypto-1ctx", "noble"]));
    for (const m of rows) expect(m.opsPerSec).toBeGreaterThan(0);
    for (const m of rows.filter((x) => x.group.startsWith("aead"))) {
      expect(m.mbPerSec).toBeGreaterThan(0);
      expect(m.ratio).toBeGreaterThan(0);
    }
    expect(rows.some((m) => m.group === "x25519 DH" && m.name === "node:crypto")).toBe(true);
    expect(rows.some((m) => m.group === "kdf3")).toBe(true);
    expect(["libcrypto", "libsodium", "noble"]).toContain(report.environment["aead backend in use"]);
  });
});
