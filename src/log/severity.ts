/** Severities in increasing order; numeric values let filters compare with one `>=`. */
export const SEVERITIES = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** A level that a filter may name; `off` silences a target. */
export const LEVEL_NAMES = ["trace", "debug", "info", "warn", "error", "off"] as const;
export type LevelName = (typeof LEVEL_NAMES)[number];

export const SEVERITY_RANK: Record<Severity, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };
export const OFF_RANK = 5;

/** Parses `info`, `INFO`, `warning`, `err`… into a rank; `undefined` when it is not a level. */
export function parseLevel(name: string): number | undefined {
  switch (name.trim().toLowerCase()) {
    case "trace":
      return 0;
    case "debug":
      return 1;
    case "info":
      return 2;
    case "warn":
    case "warning":
      return 3;
    case "error":
    case "err":
      return 4;
    case "off":
    case "none":
      return OFF_RANK;
    default:
      return undefined;
  }
}

export function severityOfRank(rank: number): Severity {
  return SEVERITIES[Math.max(0, Math.min(4, rank))]!;
}
