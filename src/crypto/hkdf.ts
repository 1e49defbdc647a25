import { HmacBlake2sKey, wipeBlake2sScratch } from "./blake2s-ts.ts";
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

/**
 * An HMAC key prepared for repeated use (the handshake's constant C_0): the hand-written
 * BLAKE2s keeps its pad blocks compressed; the noble fallback keeps just the bytes.
 */
export interface PreparedHmacKey {
  readonly key: Uint8Array;
  readonly ts: HmacBlake2sKey | null;
}

const TWO = Uint8Array.of(2);
const THREE = Uint8Array.of(3);
const prkScratch = new Uint8Array(32);
const prkKey = new HmacBlake2sKey(new Uint8Array(0));
const ckKey = new HmacBlake2sKey(new Uint8Array(0));

/**
 * KDF_n on the hand-written BLAKE2s: the prk's pads are compressed once for its n outputs, and
 * T_i ‖ i is hashed from its two parts instead of being joined first. 2n + 4 compressions (2n + 2
 * with a prepared chaining key) where the generic form does 4n + 4.
 */
export function hkdfTs(chainingKey: Uint8Array | HmacBlake2sKey, input: Uint8Array, outputs: 1 | 2 | 3): Uint8Array[] {
  if (outputs !== 1 && outputs !== 2 && outputs !== 3) throw new CryptoError(`KDF outputs must be 1, 2 or 3, got ${outputs}`);
  const ck = chainingKey instanceof HmacBlake2sKey ? chainingKey : ckKey.rekey(chainingKey);
  ck.macInto(prkScratch, 0, input);
  if (ck === ckKey) ckKey.wipe();
  prkKey.rekey(prkScratch);
  prkScratch.fill(0);
  const out: Uint8Array[] = [];
  const t1 = new Uint8Array(32);
  prkKey.macInto(t1, 0, ONE);
  out.push(t1);
  if (outputs >= 2) {
    const t2 = new Uint8Array(32);
    prkKey.macInto(t2, 0, t1, TWO);
    out.push(t2);
    if (outputs === 3) {
      const t3 = new Uint8Array(32);
      prkKey.macInto(t3, 0, t2, THREE);
      out.push(t3);
    }
  }
  prkKey.wipe();
  wipeBlake2sScratch();
  return out;
}
