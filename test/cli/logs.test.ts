import { afterAll, describe, expect, test } from "bun:test";
import { appendFileSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileSink } from "../../src/log/file-sink.ts";

const main = join(import.meta.dir, "../../src/cli/main.ts");
const example = join(import.meta.dir, "../../examples/firezone-client.example.jsonl");
const root = mkdtempSync(join(tmpdir(), "fz-logs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function run(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) {
  const p = Bun.spawnSync([process.execPath, main, "logs", ...args], {
    env: { ...process.env, NO_COLOR: "1", TZ: "UTC", ...opts.env },
    stdin: opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin),
  });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString(), rss: p.resourceUsage?.maxRSS ?? 0 };
}

const rec = (t: string, severity: string, target: string, message: string, fields: Record<string, unknown> = {}) =>
  JSON.stringify({ time: t, severity, target, message, ...fields });

describe("firezone logs", () => {
  test("the example log: every record, the truncated line marked, a summary on stderr", () => {
    const r = run([example]);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    const input = readFileSync(example, "utf8").trimEnd().split("\n");
    expect(lines.length).toBe(input.length);
    expect(lines[0]).toBe(
      "2026-11-26T04:51:45.101203884Z INFO  firezone::connect: starting client version=0.1.0 role=client log_dir=/root/.local/state/firezone/logs",
    );
    expect(lines.at(-1)).toStartWith('[malformed] {"time":"2026-11-26T04:52:15');
    expect(r.out).toContain("connlib_client_shared::eventloop: connect{account=acme}: Tunnel ready");
    expect(r.out).toContain('ERROR tunnel::client: authorization failed for "Payroll" reason="policy denies access" status=403');
    expect(r.err).toBe("firezone logs: 1 malformed line shown with [malformed]\n");
    expect(r.out).not.toContain("\x1b[");
  });

  test("--level, --target, --grep, --json", () => {
    const warn = run(["--level", "warn", example]).out.trimEnd().split("\n");
    expect(warn.every((l) => / (WARN |ERROR) /.test(l))).toBe(true);
    expect(warn.length).toBe(3 + 1); // 3 WARN (one spelled WARNING), 1 ERROR; the truncated line cannot match a level
    expect(run(["--level", "warn", example]).err).toBe("firezone logs: 1 malformed line left out\n");
    expect(run(["--grep", "stopping|2026-11-26T04:52:15", example]).out).toStartWith("[malformed] ");
    const dns = run(["--target", "tunnel::dns", "--grep", "intranet", example]).out.trimEnd().split("\n");
    expect(dns.length).toBe(2);
    const json = run(["--json", "--level", "error", example]);
    expect(json.out.trimEnd().split("\n").map((l) => JSON.parse(l).message)).toEqual(['authorization failed for "Payroll"']);
    expect(json.err).toBe("firezone logs: 1 malformed line left out\n");
  });

  test("--since and --until take timestamps and durations", () => {
    const r = run(["--since", "2026-11-26T04:51:48.7Z", "--until", "2026-11-26T04:51:48.727900455Z", "--json", example]);
    expect(r.out.trimEnd().split("\n").map((l) => JSON.parse(l).time)).toEqual([
      "2026-11-26T04:51:48.705664310Z",
      "2026-11-26T04:51:48.706002371Z",
      "2026-11-26T04:51:48.727351902Z",
      "2026-11-26T04:51:48.727900455Z",
    ]);
    const now = new Date();
    const recent = [rec(new Date(now.getTime() - 3_600_000).toISOString(), "INFO", "t", "old"), rec(new Date(now.getTime() - 60_000).toISOString(), "INFO", "t", "new")];
    const file = join(root, "recent.jsonl");
    writeFileSync(file, recent.join("\n") + "\n");
    expect(run(["--since", "10m", file]).out).toMatch(/t: new\n$/);
    expect(run(["--until", "30m", file]).out).toMatch(/t: old\n$/);
    expect(run(["--since", "1h30m", file]).out.trimEnd().split("\n").length).toBe(2);
  });

  test("colour: FORCE_COLOR turns it on when piped, --no-color and NO_COLOR turn it off", () => {
    const env = { ...process.env, FORCE_COLOR: "1" } as Record<string, string>;
    delete env.NO_COLOR;
    const p = Bun.spawnSync([process.execPath, main, "logs", "--level", "error", "--grep", "Payroll", example], { env });
    expect(p.stdout.toString()).toContain(" \x1b[31mERROR\x1b[0m tunnel::client:");
    const off = Bun.spawnSync([process.execPath, main, "logs", "--no-color", "--level", "error", example], { env });
    expect(off.stdout.toString()).not.toContain("\x1b[");
    expect(run(["--level", "error", example], { env: { FORCE_COLOR: "1" } }).out).not.toContain("\x1b["); // NO_COLOR=1 from run()
  });

  test("--local shows local time with its offset", () => {
    const r = run(["--local", "--tail", "1", "--level", "error", example], { env: { TZ: "Asia/Kolkata" } });
    expect(r.out).toStartWith("2026-11-26T10:22:06.009331004+05:30 ERROR");
  });

  test("--tail N equals the last N records of the full output, across rotated files in a directory", () => {
    const dir = join(root, "rotated");
    mkdirSync(dir);
    // Written in an order readdir will not sort by time; names carry the time.
    const files = ["firezone-client.2026-11-26T04-00-02Z.jsonl", "firezone-client.2026-11-26T04-00-00Z.jsonl", "firezone-client.2026-11-26T04-00-01Z.jsonl"];
    for (const name of files) {
      const second = name.slice(-9, -7);
      const lines = Array.from({ length: 50 }, (_, i) => rec(`2026-11-26T04:00:${second}.${String(i).padStart(3, "0")}Z`, i % 7 === 0 ? "WARN" : "INFO", "t", `m${second}-${i}`));
      writeFileSync(join(dir, name), lines.join("\n") + (second === "02" ? "" : "\n")); // the newest lacks a final newline
    }
    writeFileSync(join(dir, "notes.txt"), "not a log\n");
    const all = run([dir]);
    expect(all.code).toBe(0);
    const lines = all.out.trimEnd().split("\n");
    expect(lines.length).toBe(150);
    expect(lines[0]).toContain("m00-0");
    expect(lines[149]).toContain("m02-49");
    const times = lines.map((l) => l.split(" ")[0]!);
    expect([...times].sort()).toEqual(times);
    for (const n of ["1", "7", "60", "500"]) expect(run(["--tail", n, dir]).out).toBe(lines.slice(-Number(n)).join("\n") + "\n");
    const warnAll = run(["--level", "warn", dir]).out.trimEnd().split("\n");
    expect(run(["--level", "warn", "--tail", "9", dir]).out).toBe(warnAll.slice(-9).join("\n") + "\n");
    expect(run(["--tail", "0", dir]).out).toBe("");
  });

  test("- reads stdin, also with --tail", () => {
    const input = readFileSync(example, "utf8");
    const all = run(["-"], { stdin: input });
    expect(all.out).toBe(run([example]).out);
    expect(run(["--tail", "2", "-"], { stdin: input }).out).toBe(all.out.trimEnd().split("\n").slice(-2).join("\n") + "\n");
  });

  test("no path: the client's log directory ($LOG_DIR)", () => {
    const dir = join(root, "default");
    mkdirSync(dir);
    writeFileSync(join(dir, "firezone-client.2026-11-26T04-00-00Z.jsonl"), rec("2026-11-26T04:00:00Z", "INFO", "t", "from the default dir") + "\n");
    expect(run([], { env: { LOG_DIR: dir } }).out).toBe("2026-11-26T04:00:00Z INFO  t: from the default dir\n");
    const missing = run([], { env: { LOG_DIR: join(root, "nope") } });
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("no client logs in");
  });

  test("usage errors exit 2, unreadable paths exit 1", () => {
    for (const bad of [["--level", "loud"], ["--since", "soon"], ["--tail", "x"], ["--grep", "("], ["--lvl", "warn"]]) {
      const r = run([...bad, example]);
      expect(r.code).toBe(2);
    }
    expect(run(["--lvl", "warn", example]).err).toContain("did you mean --level");
    const r = run([join(root, "missing.jsonl")]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("no such file or directory");
  });

  test("long and broken lines never stop the run", () => {
    const file = join(root, "broken.jsonl");
    const long = rec("2026-11-26T04:00:00Z", "INFO", "t", "long", { blob: "x".repeat(3 * 1024 * 1024) });
    writeFileSync(file, ["{", long, "\u0000\u0001garbage", '{"a":1}', ""].join("\n"));
    const r = run([file]);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    expect(lines.length).toBe(4);
    expect(lines[1]).toBe("2026-11-26T04:00:00Z INFO  t: long blob=" + "x".repeat(3 * 1024 * 1024));
    expect(lines[2]).toBe("[malformed] \\u0000\\u0001garbage");
    expect(lines[3]).toBe("a=1");
    expect(r.err).toContain("2 malformed lines");
  });

  test("constant memory: a 200 MB file is streamed and tailed without loading it", () => {
    const file = join(root, "big.jsonl");
    const fd = openSync(file, "w");
    const block = Buffer.from(
      Array.from({ length: 10_000 }, (_, i) => rec("2026-11-26T04:00:00.123456789Z", "DEBUG", "snownet::ice", "binding request sent", { i, pair: "host 10.0.0.1:52625 -> srflx 198.51.100.7:40000" })).join("\n") + "\n",
    );
    let size = 0;
    while (size < 200e6) size += writeSync(fd, block);
    closeSync(fd);
    const peak = (args: string[]) => {
      const p = Bun.spawnSync([process.execPath, join(import.meta.dir, "peak-rss.ts"), "logs", ...args], {
        env: { ...process.env, NO_COLOR: "1" },
        stdin: "ignore",
      });
      const kb = Number(/PEAK_RSS_KB (\d+)/.exec(p.stderr.toString())?.[1] ?? NaN);
      return { code: p.exitCode, out: p.stdout.toString(), bytes: kb * 1024 };
    };
    const full = peak(["--no-color", "--level", "error", file]);
    expect(full.code).toBe(0);
    const tail = peak(["--tail", "3", file]);
    expect(tail.out.trimEnd().split("\n").length).toBe(3);
    expect(tail.out).toContain("i=9999");
    // Bun alone takes about 40 MB and a run typically peaks near 50-80 MB; holding the 200 MB
    // file would take it past 240 MB. (Peaks vary with the machine, so the bound is loose.)
    expect(full.bytes).toBeLessThan(190e6);
    expect(tail.bytes).toBeLessThan(190e6);
    rmSync(file);
  });

  test("--follow prints appended records, follows rotation to new files, stops on SIGINT", async () => {
    const dir = join(root, "follow");
    mkdirSync(dir);
    const first = join(dir, "firezone-client.2026-11-26T04-00-00Z.jsonl");
    writeFileSync(first, rec("2026-11-26T04:00:00Z", "INFO", "t", "before start") + "\n");
    const p = Bun.spawn([process.execPath, main, "logs", "--follow", dir], { env: { ...process.env, NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe" });
    const reader = p.stdout.getReader();
    let seen = "";
    const waitFor = async (text: string) => {
      while (!seen.includes(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`output ended before ${JSON.stringify(text)}; got ${JSON.stringify(seen)}`);
        seen += new TextDecoder().decode(value);
      }
    };
    try {
      await waitFor("before start");
      appendFileSync(first, rec("2026-11-26T04:00:01Z", "INFO", "t", "appended") + "\n" + '{"time":"2026-11-26T04:00:02Z","sev');
      await waitFor("appended");
      // Rotation: the writer leaves a partial line behind and moves to a new file.
      writeFileSync(join(dir, "firezone-client.2026-11-26T04-00-03Z.jsonl"), rec("2026-11-26T04:00:03Z", "WARN", "t", "after rotation") + "\n");
      await waitFor("after rotation");
      expect(seen).toContain('[malformed] {"time":"2026-11-26T04:00:02Z","sev');
      expect(seen.indexOf("appended")).toBeLessThan(seen.indexOf("[malformed]"));
      expect(seen.indexOf("[malformed]")).toBeLessThan(seen.indexOf("after rotation"));
    } finally {
      p.kill("SIGINT");
    }
    expect(await p.exited).toBe(0);
    expect(await new Response(p.stderr).text()).toContain("1 malformed line");
  });

  test("--follow on one file keeps up with the file sink rotating to new files", async () => {
    const dir = join(root, "follow-sink");
    const sink = new FileSink({ dir, role: "client", maxFileBytes: 2048, maxTotalBytes: 1 << 20, bufferBytes: 4096, flushIntervalMs: 0 });
    const emit = (i: number) =>
      sink.write({ time: `2026-11-26T04:00:00.${String(i).padStart(9, "0")}Z`, severity: "INFO", target: "tunnel::client", message: "tick", fields: { i } });
    emit(0);
    sink.flush();
    const first = sink.path!;
    const p = Bun.spawn([process.execPath, main, "logs", "--follow", first], { env: { ...process.env, NO_COLOR: "1" }, stdout: "pipe" });
    const reader = p.stdout.getReader();
    let seen = "";
    try {
      while (!seen.includes("i=0\n")) seen += new TextDecoder().decode((await reader.read()).value);
      for (let i = 1; i < 100; i++) {
        emit(i);
        sink.flush();
      }
      expect(sink.stats.rotations).toBeGreaterThan(3);
      while (!seen.includes("i=99\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += new TextDecoder().decode(value);
      }
    } finally {
      p.kill("SIGTERM");
      sink.close();
    }
    expect(await p.exited).toBe(0);
    const ids = seen.trimEnd().split("\n").map((l) => Number(/ i=(\d+)$/.exec(l)?.[1]));
    expect(ids).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  test("--tail N --follow shows the last N, then only what is new", async () => {
    const file = join(root, "tail-follow.jsonl");
    writeFileSync(file, [1, 2, 3, 4, 5].map((i) => rec(`2026-11-26T04:00:0${i}Z`, "INFO", "t", `m${i}`)).join("\n") + "\n");
    const p = Bun.spawn([process.execPath, main, "logs", "--tail", "2", "--follow", file], { env: { ...process.env, NO_COLOR: "1" }, stdout: "pipe" });
    const reader = p.stdout.getReader();
    let seen = "";
    try {
      while (!seen.includes("m5\n")) seen += new TextDecoder().decode((await reader.read()).value);
      appendFileSync(file, rec("2026-11-26T04:00:06Z", "INFO", "t", "m6") + "\n");
      while (!seen.includes("m6\n")) seen += new TextDecoder().decode((await reader.read()).value);
    } finally {
      p.kill("SIGINT");
    }
    expect(await p.exited).toBe(0);
    expect(seen.trimEnd().split("\n").map((l) => l.split(": ")[1])).toEqual(["m4", "m5", "m6"]);
  });

  test("a closed pipe (| head) ends the run quietly with status 0", () => {
    const file = join(root, "pipe.jsonl");
    const line = rec("2026-11-26T04:00:00Z", "INFO", "t", "m", { pad: "y".repeat(100) }) + "\n";
    writeFileSync(file, line.repeat(100_000));
    const p = Bun.spawnSync(["bash", "-c", `"${process.execPath}" "${main}" logs "${file}" | head -1; echo "status=\${PIPESTATUS[0]}"`]);
    expect(p.stdout.toString()).toBe("2026-11-26T04:00:00Z INFO  t: m pad=" + "y".repeat(100) + "\nstatus=0\n");
    expect(p.stderr.toString()).toBe("");
  });

  test("--since on a large file gives exactly the records a full scan would", () => {
    const file = join(root, "since.jsonl");
    const base = Date.parse("2026-11-26T00:00:00Z");
    const lines: string[] = [];
    for (let i = 0; i < 150_000; i++) {
      const jitter = i % 11 === 5 ? -40 : 0; // a few records slightly out of order
      lines.push(rec(new Date(base + i * 100 + jitter).toISOString(), "INFO", "t", "m", { i }));
    }
    writeFileSync(file, lines.join("\n") + "\n");
    for (const since of ["2026-11-26T00:00:00Z", "2026-11-26T01:23:20.005Z", "2026-11-26T04:09:59.9Z", "2026-11-27T00:00:00Z"]) {
      const t = Date.parse(since);
      const expected = lines.filter((l) => Date.parse(JSON.parse(l).time) >= t);
      const r = run(["--json", "--since", since, file]);
      expect(r.code).toBe(0);
      expect(r.out).toBe(expected.length ? expected.join("\n") + "\n" : "");
    }
  });
});
