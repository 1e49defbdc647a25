import { defineCommand } from "citty";
import { DEFAULT_OPTIONS, type PerfOptions } from "../perf/harness.ts";
import { listSuites } from "../perf/registry.ts";
import { reportToJson, reportToTable } from "../perf/report.ts";
import { runSuite } from "../perf/run.ts";
import { UsageError } from "./exit.ts";
import { closest } from "./suggest.ts";

export default defineCommand({
  meta: { name: "perf", description: "Run the built-in benchmarks (without a suite: list the suites)" },
  args: {
    suite: { type: "positional", required: false, valueHint: "SUITE", description: "Suite to run, e.g. crypto; omit to list suites" },
    duration: { type: "string", valueHint: "SECONDS", description: `Timed seconds per measurement, split over the runs (default ${DEFAULT_OPTIONS.durationMs / 1000})` },
    runs: { type: "string", valueHint: "N", description: `Timed runs per measurement; the median is reported (default ${DEFAULT_OPTIONS.runs})` },
    json: { type: "boolean", description: "Print the results (or the suite list) as JSON" },
  },
  async run({ args }) {
    const suites = await listSuites();
    const name = typeof args.suite === "string" && args.suite !== "" ? args.suite : undefined;
    if (name === undefined) {
      if (args.json) {
        process.stdout.write(JSON.stringify({ suites: suites.map((s) => ({ name: s.name, description: s.description })) }) + "\n");
      } else {
        const w = Math.max(...suites.map((s) => s.name.length));
        process.stdout.write("Suites (run one with: firezone perf SUITE [--duration SECONDS] [--runs N] [--json]):\n");
        for (const s of suites) process.stdout.write(`  ${s.name.padEnd(w)}  ${s.description}\n`);
      }
      return;
    }
    if (!suites.some((s) => s.name === name)) {
      const hint = closest(name, suites.map((s) => s.name));
      throw new UsageError(`unknown perf suite "${name}"` + (hint ? `; did you mean "${hint}"?` : `; suites: ${suites.map((s) => s.name).join(", ")}`));
    }
    const options: PerfOptions = { ...DEFAULT_OPTIONS };
    if (args.duration !== undefined) {
      const seconds = Number(args.duration);
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new UsageError(`invalid --duration "${args.duration}": expected seconds, e.g. 0.5 or 3`);
      options.durationMs = seconds * 1000;
      options.warmupMs = Math.min(DEFAULT_OPTIONS.warmupMs, options.durationMs / 2);
    }
    if (args.runs !== undefined) {
      const runs = Number(args.runs);
      if (!Number.isInteger(runs) || runs < 1 || runs > 101) throw new UsageError(`invalid --runs "${args.runs}": expected a whole number from 1 to 101`);
      options.runs = runs;
    }
    if (process.stderr.isTTY) options.progress = (line) => process.stderr.write(`  ${line}\n`);
    const report = await runSuite(name, options);
    process.stdout.write(args.json ? reportToJson(report) : reportToTable(report));
  },
});
