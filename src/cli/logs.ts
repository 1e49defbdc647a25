import { unavailableCommand } from "./unavailable.ts";

export default unavailableCommand("logs", "Pretty-print, follow and filter JSONL log files");
