#!/usr/bin/env bun
/**
 * WireGuard engine throughput: encapsulate+decapsulate of 1420-byte packets through two tunnels
 * (MB/s and packets/s, ratio to a bare AEAD seal+open measured in the same run) and complete
 * handshakes/s, then the handshake cost split by side (a gateway only pays the responder's).
 * The AEAD backend is the process's: run once per backend.
 * The measuring code is the `wireguard` suite (src/wireguard/perf-suite.ts) plus the split below.
 *
 *   bun bench/wireguard.ts                          # native AEAD, ~15 s
 *   FIREZONE_CRYPTO=noble bun bench/wireguard.ts    # pure-JS AEAD
 *   bun bench/wireguard.ts --long | --json
 */
import { parseArgs } from "node:util";
import { x25519GenerateKeyPair } from "../src/crypto/index.ts";
import { DEFAULT_OPTIONS } from "../src/perf/harness.ts";
import { reportToJson, reportToTable } from "../src/perf/report.ts";
import { runSuite } from "../src/perf/run.ts";
import { RateLimiter } from "../src/wireguard/rate-limiter.ts";
import { Tunnel } from "../src/wireguard/tunnel.ts";
import "../src/wireguard/perf-suite.ts";

const { values } = parseArgs({ options: { long: { type: "boolean" }, json: { type: "boolean" } } });
const options = values.long ? { durationMs: 4000, runs: 9, warmupMs: 500 } : { ...DEFAULT_OPTIONS };
const report = await runSuite("wireguard", { ...options, progress: (line) => process.stderr.write(`  ${line}\n`) });

/** Handshake work per side: initiator = message 1 + consuming message 2; responder = the rest. */
function handshakeSplit(count: number): { initiator: number; responder: number } {
  let now = 1_000_000;
  const wall = () => 1_764_000_000_000 + now;
  const ka = x25519GenerateKeyPair();
  const kb = x25519GenerateKeyPair();
  const a = new Tunnel({ privateKey: ka.privateKey, peerPublicKey: kb.publicKey, wallClock: wall, rateLimiter: new RateLimiter(Infinity) });
  const b = new Tunnel({ privateKey: kb.privateKey, peerPublicKey: ka.publicKey, wallClock: wall, rateLimiter: new RateLimiter(Infinity) });
  const buf = new Uint8Array(2048);
  let ti = 0;
  let tr = 0;
  for (let i = 0; i < count; i++) {
    now += 25;
    let t0 = performance.now();
    const init = a.rollOver(now).bytes().slice();
    let t1 = performance.now();
    ti += t1 - t0;
    const resp = b.decapsulate(init, buf, now).bytes().slice();
    t0 = performance.now();
    tr += t0 - t1;
    const keepalive = a.decapsulate(resp, buf, now).bytes().slice();
    t1 = performance.now();
    ti += t1 - t0;
    b.decapsulate(keepalive, buf, now);
    tr += performance.now() - t1;
  }
  return { initiator: (count / ti) * 1000, responder: (count / tr) * 1000 };
}

const rounds = values.long ? 5 : 3;
const splits = Array.from({ length: rounds }, () => handshakeSplit(values.long ? 2000 : 600));
const median = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1];
const split = { initiator: median(splits.map((s) => s.initiator)), responder: median(splits.map((s) => s.responder)) };

// Issue 3's targets, read off this run (one core, native backend).
const row = (group: string, name: string) => report.results.find((m) => m.group === group && m.name === name);
const hs = row("handshake", "full handshake (init, response, keepalive)")?.opsPerSec ?? 0;
const dataMb = row("encapsulate+decapsulate 1420 B", "engine a→b")?.mbPerSec ?? 0;
const targets = [
  `full handshakes ${hs.toFixed(0)}/s (target ≥ 2000: ${hs >= 2000 ? "met" : "NOT met"})`,
  `engine encapsulate+decapsulate ${dataMb.toFixed(0)} MB/s on one core (target ≥ 600: ${dataMb >= 600 ? "met" : "NOT met"})`,
];

if (values.json) {
  process.stdout.write(reportToJson(report).trimEnd() + "\n");
  process.stdout.write(JSON.stringify({ handshakeSidesPerSecond: split }) + "\n");
} else {
  process.stdout.write(reportToTable(report));
  process.stdout.write(
    `\nhandshake by side (median of ${rounds}): initiator ${split.initiator.toFixed(0)}/s, responder ${split.responder.toFixed(0)}/s\n`,
  );
  process.stdout.write(`targets: ${targets.join("; ")}\n`);
}
