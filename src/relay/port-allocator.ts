import { randomBelow, type RandomSource } from "./random-source.ts";

/**
 * Hands out relay ports from [min, max] at random (a predictable port would let an off-path host
 * guess where to aim traffic), never one in use. A port the OS refused to bind is set aside until
 * every other port is taken, so one squatted port cannot fail allocations over and over.
 */
export class PortAllocator {
  private readonly used = new Set<number>();
  private readonly refused = new Set<number>();

  constructor(
    readonly min: number,
    readonly max: number,
    private readonly random: RandomSource,
  ) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535 || min > max) {
      throw new RangeError(`bad port range ${min}-${max}`);
    }
  }

  get capacity(): number {
    return this.max - this.min + 1;
  }

  get inUse(): number {
    return this.used.size;
  }

  isUsed(port: number): boolean {
    return this.used.has(port);
  }

  /** A free port (an even one if asked, for RFC 8656 EVEN-PORT), or null when none is left. */
  take(even = false): number | null {
    const free = this.capacity - this.used.size;
    if (free <= 0) return null;
    const preferred = free - this.countRefusedFree();
    // Random probes find a free port quickly while the range is mostly empty ...
    for (let i = 0; i < 32; i++) {
      let port = this.min + randomBelow(this.random, this.capacity);
      if (even && (port & 1) === 1) port = port - 1 >= this.min ? port - 1 : port + 1;
      if (port > this.max || (even && (port & 1) === 1)) continue;
      if (!this.used.has(port) && (preferred === 0 || !this.refused.has(port))) return this.claim(port);
    }
    // ... and a scan from a random start bounds the work when it is nearly full.
    const start = randomBelow(this.random, this.capacity);
    for (const avoidRefused of [true, false]) {
      for (let i = 0; i < this.capacity; i++) {
        const port = this.min + ((start + i) % this.capacity);
        if ((even && (port & 1) === 1) || this.used.has(port) || (avoidRefused && this.refused.has(port))) continue;
        return this.claim(port);
      }
    }
    return null;
  }

  release(port: number): void {
    this.used.delete(port);
  }

  /** The OS would not bind this port (someone else holds it); prefer others from now on. */
  markRefused(port: number): void {
    this.refused.add(port);
    this.used.delete(port);
  }

  private claim(port: number): number {
    this.used.add(port);
    this.refused.delete(port);
    return port;
  }

  private countRefusedFree(): number {
    let n = 0;
    for (const p of this.refused) if (!this.used.has(p)) n++;
    return n;
  }
}
