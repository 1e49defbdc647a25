import { CryptoError } from "./errors.ts";

export type Hmac = (key: Uint8Array, data: Uint8Array) => Uint8Array;

const ONE = Uint8Array.of(1);

/**
 * KDF_n of the WireGuard paper (§5.4): T0 = HMAC(C, input), T1 = HMAC(T0, 0x1),
 * Ti = HMAC(T0, T(i-1) || i). This is HKDF (RFC 5869) with C as salt and an empty info.
 */
export function hkdfWith(hmacFn: Hmac, chainingKey: Uint8Array, input: Uint8Array, outputs: 1 | 2 | 3): Uint8Array[] {
  if (outputs !== 1 && outputs !== 2 && outputs !== 3) throw new CryptoError(`KDF outputs must be 1, 2 or 3, got ${outputs}`);
  const prk = hmacFn(chainingKey, input);
  const out: Uint8Array[] = [];
  let prev = hmacFn(prk, ONE);
  out.push(prev);
  for (let i = 2; i <= outputs; i++) {
    const msg = new Uint8Array(prev.length + 1);
    msg.set(prev);
    msg[prev.length] = i;
    prev = hmacFn(prk, msg);
    out.push(prev);
  }
  prk.fill(0);
  return out;
}
