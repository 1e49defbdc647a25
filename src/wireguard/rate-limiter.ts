import { RATE_LIMIT_WINDOW } from "./constants.ts";

/**
 * Decides when a responder is "under load" (paper §5.3): more than `limit` handshake messages in
 * the current one-second window. Under load, handshakes must carry a valid MAC2 (a cookie) or
 * get a cookie reply instead of a Diffie-Hellman. Shared by all tunnels behind one static key.
 */
export class RateLimiter {
  private windowStart = -Infinity;
  private count = 0;

  constructor(readonly limit: number) {}

  /** Counts one handshake message at `now` and says whether the responder is now under load. */
  countAndCheck(now: number): boolean {
    if (now - this.windowStart >= RATE_LIMIT_WINDOW || now < this.windowStart) {
      this.windowStart = now;
      this.count = 0;
    }
    this.count++;
    return this.count > this.limit;
  }

  /** Whether handshakes are currently over the limit (without counting one). */
  underLoad(now: number): boolean {
    return now - this.windowStart < RATE_LIMIT_WINDOW && now >= this.windowStart && this.count >= this.limit;
  }
}
