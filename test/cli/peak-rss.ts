// Runs the CLI and reports its own peak RSS on stderr at exit. A spawned process starts with the
// high-water mark of the process that forked it (here: the test runner, often past 200 MB), so
// the mark is reset first (`clear_refs` 5) and read back from /proc at exit.
import { readFileSync, writeFileSync, writeSync } from "node:fs";

writeFileSync("/proc/self/clear_refs", "5");
process.on("exit", () => {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? "NaN";
  writeSync(2, `PEAK_RSS_KB ${hwm}\n`);
});
await import("../../src/cli/main.ts");
