/** Shared helpers for the crypto tests: hex, a seeded PRNG, and the backends to run against. */
import { availableBackends, type CryptoBackend } from "../../src/crypto/backend.ts";

export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));
export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** xorshift32: deterministic sizes, offsets and bytes, so a failure reproduces. */
export class Rng {
  constructor(private state: number) {
    if (this.state === 0) this.state = 1;
  }
  u32(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  int(maxExclusive: number): number {
    return this.u32() % maxExclusive;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** Every AEAD variant this machine can run: each backend, and libcrypto with one shared context. */
export interface Variant {
  label: string;
  backend: CryptoBackend;
  sharedContext?: boolean;
}

export function variants(): Variant[] {
  const out: Variant[] = [];
  for (const b of availableBackends()) {
    out.push({ label: b, backend: b });
    if (b === "libcrypto") out.push({ label: "libcrypto (one ctx)", backend: b, sharedContext: true });
  }
  return out;
}
