import { OFF_RANK, parseLevel } from "./severity.ts";

/**
 * Filter directives in the style of Rust's `tracing` EnvFilter, which Firezone uses:
 * `info,snownet=debug,snownet::ice=trace`. A bare level sets the default; `target=level`
 * sets a module path and everything below it. The most specific (longest) target wins.
 */
export class LogFilter {
  readonly defaultRank: number;
  /** Sorted longest target first, so the first prefix match is the most specific. */
  private readonly rules: ReadonlyArray<{ target: string; rank: number }>;
  private readonly cache = new Map<string, number>();

  private constructor(defaultRank: number, rules: Array<{ target: string; rank: number }>) {
    this.defaultRank = defaultRank;
    this.rules = rules.sort((a, b) => b.target.length - a.target.length);
  }

  /** Throws `LogFilterError` naming the bad directive, so a CLI can report it as a usage error. */
  static parse(spec: string | undefined, fallback = "info"): LogFilter {
    const text = spec && spec.trim() !== "" ? spec : fallback;
    let defaultRank = parseLevel(fallback) ?? 2;
    const rules: Array<{ target: string; rank: number }> = [];
    for (const raw of text.split(",")) {
      const part = raw.trim();
      if (part === "") continue;
      const eq = part.indexOf("=");
      if (eq < 0) {
        const rank = parseLevel(part);
        // A bare word that is no level is a target at `trace`, as EnvFilter reads it.
        if (rank === undefined) {
          if (!/^[A-Za-z0-9_:.-]+$/.test(part)) throw new LogFilterError(part);
          rules.push({ target: part, rank: 0 });
        } else defaultRank = rank;
        continue;
      }
      const target = part.slice(0, eq).trim();
      const rank = parseLevel(part.slice(eq + 1));
      if (target === "" || rank === undefined || !/^[A-Za-z0-9_:.-]+$/.test(target)) throw new LogFilterError(part);
      rules.push({ target, rank });
    }
    return new LogFilter(defaultRank, rules);
  }

  /** The lowest rank that is written for `target`. */
  rankFor(target: string): number {
    const hit = this.cache.get(target);
    if (hit !== undefined) return hit;
    let rank = this.defaultRank;
    for (const rule of this.rules) {
      if (target === rule.target || target.startsWith(rule.target + "::")) {
        rank = rule.rank;
        break;
      }
    }
    if (this.cache.size < 4096) this.cache.set(target, rank);
    return rank;
  }

  enabled(target: string, rank: number): boolean {
    return rank < OFF_RANK && rank >= this.rankFor(target);
  }

  /** The most verbose rank any target can reach; lets hot paths skip work cheaply. */
  get minRank(): number {
    let min = this.defaultRank;
    for (const r of this.rules) min = Math.min(min, r.rank);
    return min;
  }
}

export class LogFilterError extends Error {
  constructor(readonly directive: string) {
    super(`invalid log directive "${directive}": expected LEVEL or TARGET=LEVEL with LEVEL one of trace, debug, info, warn, error, off`);
  }
}
