/**
 * Reconnect back-off as Firezone's phoenix-channel uses it (the `backoff` crate's
 * ExponentialBackoff): start at 0.5 s, ×1.5 per attempt, interval capped at 60 s, each wait drawn
 * uniformly from ±50 % of the interval. Sans-IO: the caller passes `now` and the random source.
 */
export const INITIAL_INTERVAL_MS = 500;
export const MULTIPLIER = 1.5;
export const MAX_INTERVAL_MS = 60_000;
export const RANDOMIZATION_FACTOR = 0.5;

export class ExponentialBackoff {
  private interval = INITIAL_INTERVAL_MS;
  private startedAt: number | undefined;

  /** `maxElapsedMs`: give up once this long has passed since the first failure (undefined: never). */
  constructor(private readonly maxElapsedMs: number | undefined, private readonly random: () => number = Math.random) {}

  /** The wait before the next attempt, or undefined when the time budget is spent. */
  next(now: number): number | undefined {
    this.startedAt ??= now;
    if (this.maxElapsedMs !== undefined && now - this.startedAt >= this.maxElapsedMs) return undefined;
    const delta = RANDOMIZATION_FACTOR * this.interval;
    const wait = this.interval - delta + this.random() * (2 * delta);
    this.interval = Math.min(this.interval * MULTIPLIER, MAX_INTERVAL_MS);
    return Math.round(wait);
  }

  reset(): void {
    this.interval = INITIAL_INTERVAL_MS;
    this.startedAt = undefined;
  }

  /** When the budget began, for error messages. */
  get since(): number | undefined {
    return this.startedAt;
  }
}
