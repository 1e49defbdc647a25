/**
 * The crypto the project uses, behind one API (this file is the only import other code uses).
 *
 * - AEAD: ChaCha20-Poly1305 (RFC 8439) keyed once per session key, in place, WireGuard nonces.
 *   Backends: OpenSSL libcrypto or libsodium over bun:ffi, @noble/ciphers as the fallback.
 * - X25519 (RFC 7748) through Bun's node:crypto, BLAKE2s (RFC 7693) and HMAC-BLAKE2s through
 *   Bun.CryptoHasher; keyed/short BLAKE2s (MAC1/MAC2) and every fallback on @noble.
 * - The WireGuard KDF, XChaCha20-Poly1305 for cookies, random bytes, constant-time comparison.
 *
 * `FIREZONE_CRYPTO=noble` forces @noble for everything; `libcrypto` / `libsodium` force that AEAD
 * library (falling back, with a warning, when it is missing). The choice is made once at import
 * and logged once (target `crypto`) on the first `aeadKey()`.
 *
 * Handshake-time functions may allocate; `AeadKey.seal/open` never allocate per call.
 */
import type { AeadKey } from "./aead.ts";
import { aeadKeyOn, logSelectionOnce, selectBackends, type CryptoBackend } from "./backend.ts";
import { nativeBlake2s, nobleBlake2s } from "./blake2s.ts";
import { nativeHmacBlake2s, nobleHmacBlake2s } from "./hmac.ts";
import { hkdfWith } from "./hkdf.ts";
import { generateKeyPair, nobleX25519, nodeX25519 } from "./x25519.ts";

export type { AeadKey } from "./aead.ts";
export type { CryptoBackend } from "./backend.ts";
export { CryptoError } from "./errors.ts";
export { randomBytes, constantTimeEqual } from "./random.ts";
export { xchachaSeal, xchachaOpen } from "./xchacha.ts";

const selection = selectBackends(process.env.FIREZONE_CRYPTO);
const x25519Impl = selection.nativeX25519 ? nodeX25519 : nobleX25519;
const blake2sImpl = selection.nativeBlake2s ? nativeBlake2s : nobleBlake2s;
const hmacImpl = selection.nativeBlake2s ? nativeHmacBlake2s : nobleHmacBlake2s;

/** The AEAD backend chosen at start. */
export const cryptoBackend: CryptoBackend = selection.aead;

/** Which implementation serves each primitive in this process (for logs and `firezone perf`). */
export const cryptoImplementations = {
  aead: selection.aead,
  x25519: selection.nativeX25519 ? "node:crypto" : "noble",
  blake2s: selection.nativeBlake2s ? "Bun.CryptoHasher (keyed/short: noble)" : "noble",
} as const;

/**
 * A ChaCha20-Poly1305 key for the data path (copies the 32-byte `key`; throws CryptoError for
 * another length). Call `dispose()` when the session key is retired.
 */
export function aeadKey(key: Uint8Array): AeadKey {
  logSelectionOnce(selection);
  return aeadKeyOn(selection.aead, key);
}

/** A fresh key pair; the private key is clamped as `wg genkey` does. */
export function x25519GenerateKeyPair(): { privateKey: Uint8Array; publicKey: Uint8Array } {
  return generateKeyPair(x25519Impl);
}

export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  return x25519Impl.publicKey(privateKey);
}

/**
 * The 32-byte shared secret. Throws CryptoError for wrong lengths and for a low-order public
 * key (all-zero result), which WireGuard must reject: catch it and drop the handshake.
 */
export function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return x25519Impl.sharedSecret(privateKey, publicKey);
}

/** BLAKE2s: HASH with the defaults (32 bytes), MAC1/MAC2 with `outLen` 16 and a key. */
export function blake2s(data: Uint8Array | Uint8Array[], outLen?: number, key?: Uint8Array): Uint8Array {
  return blake2sImpl(data, outLen, key);
}

/** HMAC-BLAKE2s (RFC 2104, block 64, output 32). */
export function hmacBlake2s(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmacImpl(key, data);
}

/** KDF_n of the WireGuard paper: `outputs` 32-byte keys derived from the chaining key and input. */
export function hkdf(chainingKey: Uint8Array, input: Uint8Array, outputs: 1 | 2 | 3): Uint8Array[] {
  return hkdfWith(hmacImpl, chainingKey, input, outputs);
}
