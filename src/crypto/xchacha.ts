import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { requireLength } from "./errors.ts";

// Cookies (XChaCha20-Poly1305) are rare control messages, so noble's allocation is fine here.

/** XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha): ciphertext || 16-byte tag. */
export function xchachaSeal(key: Uint8Array, nonce24: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  requireLength("XChaCha20-Poly1305 key", key, 32);
  requireLength("XChaCha20-Poly1305 nonce", nonce24, 24);
  return xchacha20poly1305(key, nonce24, aad).encrypt(plaintext);
}

/** The plaintext, or null when the tag does not verify (never throws for bad ciphertext). */
export function xchachaOpen(key: Uint8Array, nonce24: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array | null {
  requireLength("XChaCha20-Poly1305 key", key, 32);
  requireLength("XChaCha20-Poly1305 nonce", nonce24, 24);
  if (ciphertext.length < 16) return null;
  try {
    return xchacha20poly1305(key, nonce24, aad).decrypt(ciphertext);
  } catch {
    return null;
  }
}
