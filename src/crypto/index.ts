/**
 * The crypto the project uses, behind one API (this file is the only import other code uses).
 *
 * - AEAD: ChaCha20-Poly1305 (RFC 8439) keyed once per session key, in place, WireGuard nonces.
 *   Backends: OpenSSL libcrypto or libsodium over bun:ffi, @noble/ciphers as the fallback.
 * - X25519 (RFC 7748) through Bun's node:crypto, with prepared private keys (`x25519PrivateKey`,
 *   `x25519GenerateEphemeral`, `x25519With`) for the handshake; @noble as the fallback.
 * - BLAKE2s (RFC 7693), keyed/short BLAKE2s (MAC1/MAC2) and HMAC-BLAKE2s on a hand-written
 *   TypeScript BLAKE2s (faster than Bun.CryptoHasher and noble for the handshake's short inputs);
 *   plain hashes of 256 bytes and more through Bun.CryptoHasher.
 * - The WireGuard KDF, XChaCha20-Poly1305 for cookies, random bytes, constant-time comparison.
 *
 * `FIREZONE_CRYPTO=noble` forces @noble for everything; `libcrypto` / `libsodium` force that AEAD
 * library (falling back, with a warning, when it is missing). The choice is made once at import
 * and logged once (target `crypto`) on the first `aeadKey()`.
 *
 * Handshake-time functions may allocate; `AeadKey.seal/open` never allocate per call.
 */
import type { AeadKey, AeadUsage, RawNonceAeadKey } from "./aead.ts";
import { aeadKeyOn, logSelectionOnce, selectBackends, type CryptoBackend } from "./backend.ts";
import { nativeBlake2s, nobleBlake2s } from "./blake2s.ts";
import { blake2sTs, hmacBlake2sTs, HmacBlake2sKey } from "./blake2s-ts.ts";
import { nobleHmacBlake2s } from "./hmac.ts";
import { hkdfTs, hkdfWith } from "./hkdf.ts";
import { generateKeyPair, nobleX25519, nobleX25519Keys, nodeX25519, nodeX25519Keys, type X25519PrivateKey } from "./x25519.ts";

export type { AeadKey, AeadUsage } from "./aead.ts";
export type { X25519PrivateKey } from "./x25519.ts";
export type { CryptoBackend } from "./backend.ts";
export { CryptoError } from "./errors.ts";
export { randomBytes, constantTimeEqual } from "./random.ts";
export { xchachaSeal, xchachaOpen } from "./xchacha.ts";

const selection = selectBackends(process.env.FIREZONE_CRYPTO);
const x25519Impl = selection.nativeX25519 ? nodeX25519 : nobleX25519;
const x25519Keys = selection.nativeX25519 ? nodeX25519Keys : nobleX25519Keys;
/** FIREZONE_CRYPTO=noble means @noble for everything, the hand-written BLAKE2s included. */
const tsBlake2s = selection.requested !== "noble";
/** Above this many bytes of plain BLAKE2s-256 the native hasher wins (bench/crypto.ts: 2.7x noble at 1420 B, TS 1.3x). */
const NATIVE_BLAKE2S_FROM = 256;

function fastBlake2s(data: Uint8Array | Uint8Array[], outLen = 32, key?: Uint8Array): Uint8Array {
  if (selection.nativeBlake2s && outLen === 32 && (key === undefined || key.length === 0)) {
    let n = 0;
    if (Array.isArray(data)) for (const d of data) n += d.length;
    else n = data.length;
    if (n >= NATIVE_BLAKE2S_FROM) return nativeBlake2s(data);
  }
  return blake2sTs(data, outLen, key);
}

const blake2sImpl = tsBlake2s ? fastBlake2s : nobleBlake2s;
const hmacImpl = tsBlake2s ? hmacBlake2sTs : nobleHmacBlake2s;

/** The AEAD backend chosen at start. */
export const cryptoBackend: CryptoBackend = selection.aead;

/** Which implementation serves each primitive in this process (for logs and `firezone perf`). */
export const cryptoImplementations = {
  aead: selection.aead,
  x25519: selection.nativeX25519 ? "node:crypto" : "noble",
  blake2s: tsBlake2s ? `TypeScript (RFC 7693)${selection.nativeBlake2s ? "; Bun.CryptoHasher from 256 B" : ""}` : "noble",
} as const;

/**
 * A ChaCha20-Poly1305 key for the data path (copies the 32-byte `key`; throws CryptoError for
 * another length). Call `dispose()` when the session key is retired.
 */
export function aeadKey(key: Uint8Array, usage: AeadUsage = "both"): AeadKey {
  logSelectionOnce(selection);
  return aeadKeyOn(selection.aead, key, { usage });
}

let onceSeal: RawNonceAeadKey | undefined;
let onceOpen: RawNonceAeadKey | undefined;
const ZERO_KEY = new Uint8Array(32);

/**
 * `AeadKey.seal` under a key used once (handshake fields): one kept native context is re-keyed
 * instead of creating and freeing one per field. The key is wiped from the context afterwards.
 * Returns len + 16, or -1 (wrong key length or range).
 */
export function aeadSealOnce(key: Uint8Array, counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): number {
  logSelectionOnce(selection);
  const k = (onceSeal ??= aeadKeyOn(selection.aead, ZERO_KEY, { usage: "seal" }));
  if (!k.rekey(key)) return -1;
  const n = k.seal(counter, buf, off, len, aad);
  k.rekey(ZERO_KEY);
  return n;
}

/** `AeadKey.open` under a key used once, in place; the plaintext length or -1 (never throws). */
export function aeadOpenOnce(key: Uint8Array, counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): number {
  logSelectionOnce(selection);
  const k = (onceOpen ??= aeadKeyOn(selection.aead, ZERO_KEY, { usage: "open" }));
  if (!k.rekey(key)) return -1;
  const n = k.open(counter, buf, off, len, aad);
  k.rekey(ZERO_KEY);
  return n;
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

/**
 * A private key prepared once for many DH operations (a static key): the raw bytes are parsed
 * into the native key here, not on every `x25519With`. Throws CryptoError for a wrong length.
 */
export function x25519PrivateKey(privateKey: Uint8Array): X25519PrivateKey {
  return x25519Keys.importPrivate(privateKey);
}

/** A fresh prepared key pair for one handshake (an ephemeral); `publicKey` is the raw 32 bytes. */
export function x25519GenerateEphemeral(): X25519PrivateKey {
  return x25519Keys.generate();
}

/** `x25519` with a prepared private key: the same result and the same CryptoError cases. */
export function x25519With(privateKey: X25519PrivateKey, publicKey: Uint8Array): Uint8Array {
  return x25519Keys.sharedWith(privateKey, publicKey);
}

/** BLAKE2s: HASH with the defaults (32 bytes), MAC1/MAC2 with `outLen` 16 and a key. */
export function blake2s(data: Uint8Array | Uint8Array[], outLen?: number, key?: Uint8Array): Uint8Array {
  return blake2sImpl(data, outLen, key);
}

/** HMAC-BLAKE2s (RFC 2104, block 64, output 32). */
export function hmacBlake2s(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmacImpl(key, data);
}

/** A chaining key prepared for many KDF calls (the construction's constant C_0). */
export interface ChainingKey {
  readonly bytes: Uint8Array;
  /** @internal the HMAC pads, compressed once. */
  readonly prepared: HmacBlake2sKey | null;
}

export function prepareChainingKey(chainingKey: Uint8Array): ChainingKey {
  return { bytes: chainingKey.slice(), prepared: tsBlake2s ? new HmacBlake2sKey(chainingKey) : null };
}

/** KDF_n of the WireGuard paper: `outputs` 32-byte keys derived from the chaining key and input. */
export function hkdf(chainingKey: Uint8Array | ChainingKey, input: Uint8Array, outputs: 1 | 2 | 3): Uint8Array[] {
  if (chainingKey instanceof Uint8Array) return tsBlake2s ? hkdfTs(chainingKey, input, outputs) : hkdfWith(hmacImpl, chainingKey, input, outputs);
  if (chainingKey.prepared !== null) return hkdfTs(chainingKey.prepared, input, outputs);
  return hkdfWith(hmacImpl, chainingKey.bytes, input, outputs);
}
