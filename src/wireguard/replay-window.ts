import { MAX_COUNTER, REPLAY_RING_WORDS, REPLAY_WINDOW_SIZE, REPLAY_WORD_BITS } from "./constants.ts";

/**
 * Sliding anti-replay window over 64-bit transport counters (RFC 6479): a ring of bit words.
 * Moving the window forward clears whole words instead of shifting bits, so an accept is O(1)
 * except for a jump far ahead, which clears at most the whole ring once.
 *
 * Counters are numbers (exact to 2^53, see MAX_COUNTER). `check` runs before decryption so
 * forged or replayed packets cost no AEAD work; `update` runs only after the tag verified, so a
 * forged packet can never move the window.
 */
export class ReplayWindow {
  private readonly ring = new Uint32Array(REPLAY_RING_WORDS);
  /** Highest counter accepted so far; -1 before the first. */
  private last = -1;

  /** Whether `counter` is new and inside the window (no state change). */
  check(counter: number): boolean {
    if (!(counter >= 0 && counter <= MAX_COUNTER)) return false;
    if (counter > this.last) return true;
    if (this.last - counter >= REPLAY_WINDOW_SIZE) return false;
    const word = Math.floor(counter / REPLAY_WORD_BITS) % REPLAY_RING_WORDS;
    const bit = 1 << (counter % REPLAY_WORD_BITS);
    return (this.ring[word] & bit) === 0;
  }

  /** Marks `counter` as seen. Returns false (and changes nothing) for a replay or a too-old counter. */
  update(counter: number): boolean {
    if (!this.check(counter)) return false;
    const block = Math.floor(counter / REPLAY_WORD_BITS);
    if (counter > this.last) {
      const current = this.last < 0 ? -1 : Math.floor(this.last / REPLAY_WORD_BITS);
      const advance = Math.min(block - current, REPLAY_RING_WORDS);
      for (let i = 1; i <= advance; i++) this.ring[(current + i) % REPLAY_RING_WORDS] = 0;
      this.last = counter;
    }
    this.ring[block % REPLAY_RING_WORDS] |= 1 << (counter % REPLAY_WORD_BITS);
    return true;
  }

  /** Highest counter accepted, or -1. */
  get highest(): number {
    return this.last;
  }

  reset(): void {
    this.ring.fill(0);
    this.last = -1;
  }
}
