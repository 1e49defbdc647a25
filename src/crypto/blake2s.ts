import { blake2s as nobleBlake2sHash } from "@noble/hashes/blake2.js";
import { CryptoError } from "./errors.ts";

/** BLAKE2s block size in bytes: the HMAC block size too (RFC 2104 with B = 64). */
export const BLAKE2S_BLOCK = 64;
export const BLAKE2S_OUT = 32;

function checkParams(outLen: number, key: Uint8Array | undefined): void {
  if (!Number.isInteger(outLen) || outLen < 1 || outLen > 32) throw new CryptoError(`BLAKE2s output length must be 1..32, got ${outLen}`);
  if (key !== undefined && key.length > 32) throw new CryptoError(`BLAKE2s key must be at most 32 bytes, got ${key.length}`);
}

/** BLAKE2s (RFC 7693) on @noble/hashes: any output length 1..32, optional key (MAC mode). */
export function nobleBlake2s(data: Uint8Array | Uint8Array[], outLen = BLAKE2S_OUT, key?: Uint8Array): Uint8Array {
  checkParams(outLen, key);
  const h = nobleBlake2sHash.create(key && key.length > 0 ? { dkLen: outLen, key } : { dkLen: outLen });
  if (Array.isArray(data)) for (const part of data) h.update(part);
  else h.update(data);
  return h.digest();
}

/**
 * Plain 32-byte BLAKE2s through Bun's native hasher (BoringSSL): ~2-3x noble for short inputs.
 * It has no keyed mode and no shorter output, so those go to noble.
 */
export function nativeBlake2s(data: Uint8Array | Uint8Array[], outLen = BLAKE2S_OUT, key?: Uint8Array): Uint8Array {
  if (outLen !== BLAKE2S_OUT || (key !== undefined && key.length > 0)) return nobleBlake2s(data, outLen, key);
  const h = new Bun.CryptoHasher("blake2s256");
  if (Array.isArray(data)) for (const part of data) h.update(part);
  else h.update(data);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
}

/** Whether Bun.CryptoHasher knows blake2s256 on this build (checked against noble once). */
export function nativeBlake2sWorks(): boolean {
  try {
    const probe = new TextEncoder().encode("abc");
    const a = nativeBlake2s(probe);
    const b = nobleBlake2s(probe);
    return a.length === 32 && a.every((v, i) => v === b[i]);
  } catch {
    return false;
  }
}
