#!/usr/bin/env bun
/**
 * AEAD MB/s per backend (1420-byte packets, in place), X25519 DH/s (node:crypto vs noble),
 * BLAKE2s / HMAC / KDF ops/s, each with its ratio to @noble measured in the same run.
 * The measuring code is the `crypto` suite of `firezone perf` (src/perf/suites/crypto.ts);
 * this file only picks the options.
 *
 *   bun bench/crypto.ts            # ~25 s: 1 s per measurement, median of 5
 *   bun bench/crypto.ts --long     # ~2 min: 4 s per measurement, median of 9
 *   bun bench/crypto.ts --json     # machine-readable
 */
import { parseArgs } from "node:util";
import { DEFAULT_OPTIONS } from "../src/perf/harness.ts";
import { reportToJson, reportToTable } from "../src/perf/report.ts";
import { runSuite } from "../src/perf/run.ts";

const { values } = parseArgs({ options: { long: { type: "boolean" }, json: { type: "boolean" } } });
const options = values.long ? { durationMs: 4000, runs: 9, warmupMs: 500 } : { ...DEFAULT_OPTIONS };
const report = await runSuite("crypto", { ...options, progress: (line) => process.stderr.write(`  ${line}\n`) });
process.stdout.write(values.json ? reportToJson(report) : reportToTable(report));
