/**
 * The registry of `firezone perf` suites.
 *
 * A suite is a named benchmark: `{ name, description, run(bench) }`. `run` receives a `Bench`
 * (src/perf/harness.ts) already configured from the command line (`--duration`, `--runs`) and
 * calls `bench.measure({ group, name, op, bytesPerOp?, baseline? })` once per contender; the
 * harness does the warm-up, the timed runs, the median, MB/s and the ratio to the baseline named
 * in the same group. `run` may also return notes (strings) and environment facts to print.
 *
 * Adding a suite (wireguard, tun, relay, …):
 *   1. Write a module that calls `registerSuite({...})` at its top level. Keep its imports light
 *      and load heavy code inside `run` (`await import(...)`): listing suites imports every module.
 *   2. Add one line for it to SUITE_MODULES below. That is all: `firezone perf` lists it,
 *      `firezone perf <name>` runs it, `--json` emits it; bench/<name>.ts can call `runSuite`.
 * Suites that need root or namespaces create and remove them inside `run` (try/finally).
 */
import type { Bench, Measurement, PerfOptions } from "./harness.ts";

export interface SuiteOutput {
  /** Facts that explain the numbers: library versions, chosen backends, packet sizes. */
  environment?: Record<string, string>;
  notes?: string[];
}

export interface PerfSuite {
  name: string;
  description: string;
  run(bench: Bench): Promise<SuiteOutput | void> | SuiteOutput | void;
}

export interface SuiteReport {
  suite: string;
  description: string;
  options: PerfOptions;
  environment: Record<string, string>;
  results: Measurement[];
  notes: string[];
}

/** Modules that register the built-in suites; each is imported once when suites are listed. */
const SUITE_MODULES: Record<string, () => Promise<unknown>> = {
  crypto: () => import("./suites/crypto.ts"),
  wireguard: () => import("../wireguard/perf-suite.ts"),
};

const suites = new Map<string, PerfSuite>();

export function registerSuite(suite: PerfSuite): void {
  if (!/^[a-z][a-z0-9-]*$/.test(suite.name)) throw new Error(`perf suite name "${suite.name}" must be lower-case letters, digits and dashes`);
  if (suites.has(suite.name)) throw new Error(`perf suite "${suite.name}" is registered twice`);
  suites.set(suite.name, suite);
}

let loaded: Promise<void> | undefined;

/** Imports every built-in suite module (once). */
export function loadSuites(): Promise<void> {
  loaded ??= Promise.all(Object.values(SUITE_MODULES).map((load) => load())).then(() => undefined);
  return loaded;
}

/** Registered suites, sorted by name. */
export async function listSuites(): Promise<PerfSuite[]> {
  await loadSuites();
  return [...suites.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export async function getSuite(name: string): Promise<PerfSuite | undefined> {
  await loadSuites();
  return suites.get(name);
}
