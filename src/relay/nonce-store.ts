import { NONCE_NUM_REQUESTS } from "./constants.ts";
import type { RandomSource } from "./random-source.ts";

export type NonceCheck = "ok" | "unknown" | "used-up";

/**
 * Firezone's count-based nonces (rust/relay/proto/src/auth.rs `Nonces`): one nonce per client
 * socket, re-issued while it has requests left, good for NONCE_NUM_REQUESTS authenticated
 * requests. A client whose nonce ran out gets 438 with a fresh one.
 *
 * Unlike Firezone we bound the table: past `capacity` sockets the oldest entry goes, so a flood
 * of spoofed sources cannot grow memory without limit (the evicted client just gets a 438).
 */
export class NonceStore {
  private readonly byClient = new Map<string, { value: string; remaining: number }>();

  constructor(
    private readonly random: RandomSource,
    private readonly capacity = 100_000,
    private readonly requestsPerNonce = NONCE_NUM_REQUESTS,
  ) {}

  get size(): number {
    return this.byClient.size;
  }

  /** The nonce to hand this client: its current one while it lasts, else a fresh one. */
  issue(clientKey: string): string {
    const current = this.byClient.get(clientKey);
    if (current !== undefined && current.remaining > 0) return current.value;
    const value = this.fresh();
    this.byClient.delete(clientKey);
    this.byClient.set(clientKey, { value, remaining: this.requestsPerNonce });
    while (this.byClient.size > this.capacity) {
      const oldest = this.byClient.keys().next().value as string;
      this.byClient.delete(oldest);
    }
    return value;
  }

  /** Counts one use of `value` by this client. */
  use(clientKey: string, value: string): NonceCheck {
    const current = this.byClient.get(clientKey);
    if (current === undefined || current.value !== value) return "unknown";
    if (current.remaining === 0) {
      this.byClient.delete(clientKey);
      return "used-up";
    }
    current.remaining--;
    return "ok";
  }

  forget(clientKey: string): void {
    this.byClient.delete(clientKey);
  }

  /** A random UUID (v4 layout), the form Firezone's relay uses for nonces. */
  private fresh(): string {
    const words = [this.random.u32(), this.random.u32(), this.random.u32(), this.random.u32()];
    words[1] = ((words[1]! & 0xffff0fff) | 0x00004000) >>> 0;
    words[2] = ((words[2]! & 0x3fffffff) | 0x80000000) >>> 0;
    const hex = words.map((w) => w.toString(16).padStart(8, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}
