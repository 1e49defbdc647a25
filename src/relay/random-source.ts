/**
 * Where the relay gets randomness (allocation ports, nonces). Injectable so tests are repeatable;
 * the default draws from the Web Crypto CSPRNG in blocks so one draw costs no syscall.
 */
export interface RandomSource {
  /** A uniformly random integer in [0, 2^32). */
  u32(): number;
}

export class CryptoRandom implements RandomSource {
  private readonly pool = new Uint32Array(256);
  private next = this.pool.length;

  u32(): number {
    if (this.next === this.pool.length) {
      crypto.getRandomValues(this.pool);
      this.next = 0;
    }
    return this.pool[this.next++]!;
  }
}

/** A small deterministic generator (xorshift32) for tests and simulations. */
export class SeededRandom implements RandomSource {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  u32(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state = x;
    return x;
  }
}

/** Uniform integer in [0, n) without modulo bias (n ≤ 2^32). */
export function randomBelow(random: RandomSource, n: number): number {
  const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
  for (;;) {
    const x = random.u32();
    if (x < limit) return x % n;
  }
}
