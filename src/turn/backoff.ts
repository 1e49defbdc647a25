/**
 * Retransmission schedule of one request: fires at start+1 s, +2.5 s, +4.75 s, +8.125 s…
 * (each interval ×1.5) and is expired once `max` has elapsed since the first send. A proactive
 * refresh uses max = 1 s, i.e. exactly one attempt.
 */

import { BACKOFF_MULTIPLIER, REQUEST_MAX_ELAPSED_MS, REQUEST_TIMEOUT_MS } from "./constants.ts";

export class Backoff {
  private interval: number;
  nextTrigger: number;

  constructor(
    readonly startTime: number,
    interval = REQUEST_TIMEOUT_MS,
    readonly maxElapsed = REQUEST_MAX_ELAPSED_MS,
  ) {
    this.interval = interval;
    this.nextTrigger = startTime + interval;
  }

  isExpired(now: number): boolean {
    return now >= this.startTime + this.maxElapsed;
  }

  /** Advances to the next interval once the current trigger has passed. */
  handleTimeout(now: number): void {
    if (this.isExpired(now) || now < this.nextTrigger) return;
    this.interval *= BACKOFF_MULTIPLIER;
    this.nextTrigger += this.interval;
  }

  currentInterval(): number {
    return this.interval;
  }
}
