import { unavailableCommand } from "./unavailable.ts";

export default unavailableCommand("perf", "Run the built-in benchmarks");
