import type { ArgsDef } from "citty";

/** Logging flags shared by every long-running role. */
export const loggingArgs = {
  "log-level": {
    type: "string",
    description: "Log filter directives, e.g. info,snownet=debug (default: $FIREZONE_LOG or info)",
    valueHint: "DIRECTIVES",
  },
  "log-dir": {
    type: "string",
    description: "Directory for JSONL log files (default: $LOG_DIR or the role's default)",
    valueHint: "DIR",
  },
} as const satisfies ArgsDef;
