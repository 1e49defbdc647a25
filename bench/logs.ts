/**
 * `firezone logs` throughput against jq on the same generated JSONL file, in the same run.
 *
 *   bun bench/logs.ts                 # 200 MB file (short run)
 *   bun bench/logs.ts --size 1GB      # the 1 GB run
 *   bun bench/logs.ts --keep          # keep the generated file in .bench/ (reused next time)
 *   bun bench/logs.ts --runs 3        # best of 3 for each tool (the machine may be shared)
 *
 * Both tools write to /dev/null; the pretty-printer runs with --no-color. Reports lines per
 * second for each and the ratio (target: at least 3x jq).
 */
import { closeSync, existsSync, mkdirSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const size = parseSize(flag("--size") ?? "200MB");
const keep = args.includes("--keep");
const runs = Math.max(1, Number(flag("--runs") ?? "1"));
const root = join(import.meta.dir, "..");
const dir = join(root, ".bench");
mkdirSync(dir, { recursive: true });
const file = join(dir, `logs-${size}.jsonl`);

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?$/i.exec(text);
  if (!m) throw new Error(`bad --size ${text}: use e.g. 200MB or 1GB`);
  const unit = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9 }[(m[2] ?? "B").toUpperCase() as "B"]!;
  return Math.round(Number(m[1]) * unit);
}

/** A client session's worth of record shapes, as our logger writes them. */
function generate(path: string, bytes: number): number {
  const targets = ["snownet::ice", "snownet::node", "tunnel::dns", "wireguard::session", "turn::allocation", "io::tun", "tunnel::dns", "portal::channel"];
  const severities = ["TRACE", "DEBUG", "DEBUG", "DEBUG", "INFO", "INFO", "WARN", "ERROR"];
  const messages = ["binding request sent", "pair nominated", "query answered", "handshake complete", "allocation refreshed", "packet dropped", "upstream timed out, trying next", "joined channel"];
  const fd = openSync(path, "w");
  const chunk: string[] = [];
  let written = 0;
  let lines = 0;
  let t = Date.parse("2026-11-26T04:00:00Z") * 1000; // microseconds: exact in a double
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed >>> 8) % n;
  };
  while (written < bytes) {
    t += 1 + rand(5000);
    const ms = Math.floor(t / 1000);
    const frac = String((t % 1_000_000) * 1000 + rand(1000)).padStart(9, "0");
    const time = new Date(ms).toISOString().slice(0, 19) + "." + frac + "Z";
    const i = rand(8);
    const rec: Record<string, unknown> = { time, severity: severities[rand(8)], target: targets[i], message: messages[i] };
    switch (i) {
      case 0:
        rec.pair = `host 192.168.1.${rand(255)}:52625 -> srflx 198.51.100.${rand(255)}:${40000 + rand(20000)}`;
        rec.tx_id = (seed * 7919).toString(16).padStart(24, "0");
        break;
      case 1:
        rec.cid = "a6b2d8c1-0e4f-47a9-9c55-1d9e4b7f3a10";
        rec.rtt_ms = rand(200) + rand(10) / 10;
        break;
      case 2:
        rec.qname = `host${rand(100)}.corp.example`;
        rec.qtype = "A";
        rec.rcode = "NOERROR";
        rec.upstream = "1.1.1.1:53";
        break;
      case 3:
        rec.peer = "gateway a6b2d8c1";
        rec.rtt_ms = rand(80);
        rec.keepalive_s = 25;
        break;
      case 4:
        rec.relay = `203.0.113.${rand(255)}:3478`;
        rec.lifetime_s = 600;
        rec.channel = 16384 + rand(100);
        break;
      case 5:
        rec.reason = "no route";
        rec.dst = `100.96.0.${rand(255)}`;
        rec.len = rand(1400);
        break;
      case 6:
        rec.upstream = "8.8.8.8:53";
        rec.timeout_ms = 2000;
        rec.attempt = 1 + rand(3);
        break;
      default:
        rec.topic = "client";
        rec.ref = rand(1000);
        rec.ok = true;
    }
    const line = JSON.stringify(rec);
    chunk.push(line);
    written += line.length + 1;
    lines++;
    if (chunk.length === 10_000) {
      writeSync(fd, chunk.join("\n") + "\n");
      chunk.length = 0;
    }
  }
  if (chunk.length) writeSync(fd, chunk.join("\n") + "\n");
  closeSync(fd);
  return lines;
}

function countLines(path: string): number {
  const p = Bun.spawnSync(["wc", "-l", path]);
  return Number(p.stdout.toString().trim().split(/\s+/)[0]);
}

function time(label: string, cmd: string[]): number {
  const devnull = openSync("/dev/null", "w");
  const start = performance.now();
  const p = Bun.spawnSync(cmd, { stdout: devnull, stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const seconds = (performance.now() - start) / 1000;
  closeSync(devnull);
  if (p.exitCode !== 0) throw new Error(`${label} failed (${p.exitCode}): ${p.stderr.toString()}`);
  return seconds;
}

let lines: number;
if (existsSync(file) && statSync(file).size >= size) {
  lines = countLines(file);
  console.log(`using ${file} (${(statSync(file).size / 1e6).toFixed(0)} MB, ${lines} lines)`);
} else {
  const g0 = performance.now();
  lines = generate(file, size);
  console.log(`generated ${file}: ${(statSync(file).size / 1e6).toFixed(0)} MB, ${lines} lines in ${((performance.now() - g0) / 1000).toFixed(1)} s`);
}

try {
  const firezone = [process.execPath, join(root, "src/cli/main.ts"), "logs", "--no-color", file];
  const jq = ["jq", "-r", '"\\(.time) \\(.severity) \\(.message)"', file];
  // Warm the page cache so neither side pays for the disk.
  time("cat", ["cat", file]);
  let fz = Infinity;
  let jqs = Infinity;
  for (let r = 0; r < runs; r++) {
    fz = Math.min(fz, time("firezone logs", firezone));
    jqs = Math.min(jqs, time("jq", jq));
  }
  console.log(`commands (best of ${runs}, output to /dev/null):\n  ${firezone.join(" ")}\n  ${jq.map((a) => (a.includes(" ") ? `'${a}'` : a)).join(" ")}`);
  const fzRate = lines / fz;
  const jqRate = lines / jqs;
  console.log(`firezone logs: ${fz.toFixed(2)} s, ${Math.round(fzRate).toLocaleString("en")} lines/s, ${(statSync(file).size / 1e6 / fz).toFixed(0)} MB/s`);
  console.log(`jq -r:         ${jqs.toFixed(2)} s, ${Math.round(jqRate).toLocaleString("en")} lines/s, ${(statSync(file).size / 1e6 / jqs).toFixed(0)} MB/s`);
  console.log(`ratio: ${(fzRate / jqRate).toFixed(2)}x jq (target >= 3x)`);
} finally {
  if (!keep) rmSync(file, { force: true });
}
