import { Bench, type PerfOptions } from "./harness.ts";
import { getSuite, type SuiteReport } from "./registry.ts";

export class UnknownSuiteError extends Error {}

/** Runs one registered suite with the given options and returns everything it measured. */
export async function runSuite(name: string, options: PerfOptions): Promise<SuiteReport> {
  const suite = await getSuite(name);
  if (!suite) throw new UnknownSuiteError(`unknown perf suite "${name}"`);
  const bench = new Bench(options);
  const out = (await suite.run(bench)) ?? {};
  const { progress: _progress, ...plain } = options;
  return {
    suite: suite.name,
    description: suite.description,
    options: plain,
    environment: {
      bun: Bun.version,
      platform: `${process.platform}-${process.arch}`,
      ...(out.environment ?? {}),
    },
    results: bench.finish(),
    notes: out.notes ?? [],
  };
}
