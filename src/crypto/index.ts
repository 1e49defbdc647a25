/**
 * The crypto the project uses, behind one API (this file is the only import other code uses).
 *
 * - AEAD: ChaCha20-Poly1305 (RFC 8439) keyed once per session key, in place, WireGuard nonces.
 * - X25519 (RFC 7748), BLAKE2s (RFC 7693, plain and keyed), HMAC-BLAKE2s, the WireGuard KDF.
 * - XChaCha20-Poly1305 for cookies, random bytes, constant-time comparison.
 *
 * Handshake-time functions may allocate; `AeadKey.seal/open` never allocate per call.
 */
import { NobleAeadKey } from "./noble-aead.ts";
import type { AeadKey } from "./aead.ts";
import { nobleX25519, generateKeyPair } from "./x25519.ts";
import { nobleBlake2s } from "./blake2s.ts";
import { nobleHmacBlake2s } from "./hmac.ts";
import { hkdfWith } from "./hkdf.ts";

export type { AeadKey } from "./aead.ts";
export { CryptoError } from "./errors.ts";
export { randomBytes, constantTimeEqual } from "./random.ts";
export { xchachaSeal, xchachaOpen } from "./xchacha.ts";

export type CryptoBackend = "libcrypto" | "libsodium" | "noble";

/** The AEAD backend chosen at start (`FIREZONE_CRYPTO=noble|libsodium|libcrypto` forces one). */
export const cryptoBackend: CryptoBackend = "noble";

/** A ChaCha20-Poly1305 key for the data path; copies `key` (32 bytes). */
export function aeadKey(key: Uint8Array): AeadKey {
  return new NobleAeadKey(key);
}

export function x25519GenerateKeyPair(): { privateKey: Uint8Array; publicKey: Uint8Array } {
  return generateKeyPair(nobleX25519);
}

export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  return nobleX25519.publicKey(privateKey);
}

/** The 32-byte shared secret. Throws CryptoError for a low-order public key (all-zero result). */
export function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return nobleX25519.sharedSecret(privateKey, publicKey);
}

/** BLAKE2s: HASH with the defaults, MAC1/MAC2 with `outLen` 16 and a key. */
export function blake2s(data: Uint8Array | Uint8Array[], outLen?: number, key?: Uint8Array): Uint8Array {
  return nobleBlake2s(data, outLen, key);
}

export function hmacBlake2s(key: Uint8Array, data: Uint8Array): Uint8Array {
  return nobleHmacBlake2s(key, data);
}

/** KDF_n of the WireGuard paper: `outputs` 32-byte keys derived from the chaining key and input. */
export function hkdf(chainingKey: Uint8Array, input: Uint8Array, outputs: 1 | 2 | 3): Uint8Array[] {
  return hkdfWith(nobleHmacBlake2s, chainingKey, input, outputs);
}
