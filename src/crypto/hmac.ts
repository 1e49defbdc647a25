import { hmac } from "@noble/hashes/hmac.js";
import { blake2s as nobleBlake2sHash } from "@noble/hashes/blake2.js";
import { BLAKE2S_BLOCK, nativeBlake2s } from "./blake2s.ts";

/** HMAC-BLAKE2s (RFC 2104, B = 64, L = 32) on @noble/hashes. The oracle in tests. */
export function nobleHmacBlake2s(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(nobleBlake2sHash, key, data);
}

const IPAD = 0x36;
const OPAD = 0x5c;

/**
 * HMAC-BLAKE2s written out over Bun's native BLAKE2s (which has no HMAC mode of its own):
 * H((K' ^ opad) || H((K' ^ ipad) || m)), K' = K zero-padded to 64 bytes (hashed first if longer).
 */
export function nativeHmacBlake2s(key: Uint8Array, data: Uint8Array): Uint8Array {
  const pad = new Uint8Array(BLAKE2S_BLOCK);
  pad.set(key.length > BLAKE2S_BLOCK ? nativeBlake2s(key) : key);
  for (let i = 0; i < BLAKE2S_BLOCK; i++) pad[i] ^= IPAD;
  const inner = nativeBlake2s([pad, data]);
  for (let i = 0; i < BLAKE2S_BLOCK; i++) pad[i] ^= IPAD ^ OPAD;
  const out = nativeBlake2s([pad, inner]);
  pad.fill(0);
  inner.fill(0);
  return out;
}
