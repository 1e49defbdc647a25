#!/usr/bin/env bun
/**
 * WireGuard engine throughput: encapsulate+decapsulate of 1420-byte packets through two tunnels
 * (MB/s and packets/s, ratio to a bare AEAD seal+open measured in the same run) and complete
 * handshakes/s. The AEAD backend is the process's: run once per backend.
 * The measuring code is the `wireguard` suite (src/wireguard/perf-suite.ts).
 *
 *   bun bench/wireguard.ts                          # native AEAD, ~15 s
 *   FIREZONE_CRYPTO=noble bun bench/wireguard.ts    # pure-JS AEAD
 *   bun bench/wireguard.ts --long | --json
 */
import { parseArgs } from "node:util";
import { DEFAULT_OPTIONS } from "../src/perf/harness.ts";
import { reportToJson, reportToTable } from "../src/perf/report.ts";
import { runSuite } from "../src/perf/run.ts";
import "../src/wireguard/perf-suite.ts";

const { values } = parseArgs({ options: { long: { type: "boolean" }, json: { type: "boolean" } } });
const options = values.long ? { durationMs: 4000, runs: 9, warmupMs: 500 } : { ...DEFAULT_OPTIONS };
const report = await runSuite("wireguard", { ...options, progress: (line) => process.stderr.write(`  ${line}\n`) });
process.stdout.write(values.json ? reportToJson(report) : reportToTable(report));
