/**
 * FINGERPRINT (RFC 8489 §14.7): CRC-32 (ISO 3309, the zlib one) of the message up to the
 * attribute, with the header length already counting the 8-byte FINGERPRINT, XOR 0x5354554e.
 * Bun.hash.crc32 is that CRC-32 (checked against "123456789" → 0xcbf43926 in the tests).
 */

import { FINGERPRINT_XOR } from "./constants.ts";

/** CRC over `bytes[0..end)` with the header length field read as `lengthField`, without touching `bytes`. */
export function computeFingerprint(bytes: Uint8Array, end: number, lengthField: number): number {
  const current = (bytes[2] << 8) | bytes[3];
  if (current === lengthField) return (Bun.hash.crc32(bytes.subarray(0, end)) ^ FINGERPRINT_XOR) >>> 0;
  // The received length differs only when attributes follow FINGERPRINT (which the parser refuses),
  // but keep this correct for any caller: CRC the patched header, then continue over the body.
  const head = bytes.slice(0, 4);
  head[2] = lengthField >> 8;
  head[3] = lengthField & 0xff;
  const crcHead = Bun.hash.crc32(head);
  return (Bun.hash.crc32(bytes.subarray(4, end), crcHead) ^ FINGERPRINT_XOR) >>> 0;
}
