import { timeKey } from "./pretty.ts";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `--since` / `--until`: a duration back from `now` (`10m`, `1h30m`, `2d`, `500ms`) or a
 * timestamp (RFC 3339 with any offset and up to nine fractional digits, or what `Date.parse`
 * reads, e.g. `2026-11-26`). Returns ms since the epoch, or undefined when it is neither.
 */
export function parseTimeArg(text: string, now: number): number | undefined {
  const t = text.trim();
  if (/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(t)) {
    let total = 0;
    for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
    return now - total;
  }
  const exact = timeKey(t);
  if (Number.isFinite(exact)) return exact;
  const parsed = Date.parse(t);
  return Number.isFinite(parsed) ? parsed : undefined;
}
