/**
 * Transaction ids (RFC 8489 §5): 96 bits, uniformly random so that responses cannot be forged
 * by guessing. State machines take a `RandomSource` so tests can make them deterministic.
 */

import { TRANSACTION_ID_LENGTH } from "./constants.ts";

/** Fills `out` with random bytes. */
export type RandomSource = (out: Uint8Array) => void;

export const cryptoRandom: RandomSource = (out) => {
  crypto.getRandomValues(out);
};

export function newTransactionId(random: RandomSource = cryptoRandom): Uint8Array {
  const id = new Uint8Array(TRANSACTION_ID_LENGTH);
  random(id);
  return id;
}

/** Deterministic source for tests and simulations (xorshift32; not for production use). */
export function seededRandom(seed: number): RandomSource {
  let s = seed >>> 0 || 0x9e3779b9;
  return (out) => {
    for (let i = 0; i < out.length; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      out[i] = s & 0xff;
    }
  };
}
