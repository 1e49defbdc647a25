// Runs the CLI and reports this process's own peak RSS on stderr at exit. The rusage a parent
// gets for a child is not reliable inside a test runner that reaps other children too.
import { writeSync } from "node:fs";

process.on("exit", () => {
  writeSync(2, `PEAK_RSS_KB ${process.resourceUsage().maxRSS}\n`);
});
await import("../../src/cli/main.ts");
