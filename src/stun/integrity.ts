/**
 * MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) and MESSAGE-INTEGRITY-SHA256 (§14.6).
 * The HMAC covers the message up to the attribute, with the header length field pretending the
 * message ends right after it. Verification feeds the received bytes to the HMAC as they are, with
 * only a patched 4-byte copy of the header's first word, so the caller's buffer is never changed.
 */

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import {
  ATTRIBUTE_HEADER_LENGTH,
  HEADER_LENGTH,
  MESSAGE_INTEGRITY_LENGTH,
} from "./constants.ts";
import type { StunMessage } from "./message.ts";

const encoder = new TextEncoder();

/** Long-term credential key (RFC 8489 §9.2.2, MD5 algorithm): MD5(username ":" realm ":" password). */
export function longTermKey(username: string, realm: string, password: string): Uint8Array {
  return new Uint8Array(createHash("md5").update(`${username}:${realm}:${password}`, "utf8").digest());
}

/** Short-term credential key (RFC 8489 §9.1, used by ICE): the password's UTF-8 bytes. */
export function shortTermKey(password: string): Uint8Array {
  return encoder.encode(password);
}

/**
 * HMAC over `bytes[0..end)` with the header length replaced by `lengthField`.
 * `algorithm` is "sha1" or "sha256".
 */
export function computeIntegrity(
  algorithm: "sha1" | "sha256",
  key: Uint8Array,
  bytes: Uint8Array,
  end: number,
  lengthField: number,
): Uint8Array {
  const head = new Uint8Array(4);
  head[0] = bytes[0];
  head[1] = bytes[1];
  head[2] = lengthField >> 8;
  head[3] = lengthField & 0xff;
  const h = createHmac(algorithm, key);
  h.update(head);
  h.update(bytes.subarray(4, end));
  return new Uint8Array(h.digest());
}

/** True iff the message carries MESSAGE-INTEGRITY and it matches `key`. */
export function verifyIntegrity(msg: StunMessage, key: Uint8Array): boolean {
  const at = msg.integrityOffset;
  if (at < 0) return false;
  const lengthField = at - HEADER_LENGTH + ATTRIBUTE_HEADER_LENGTH + MESSAGE_INTEGRITY_LENGTH;
  const mac = computeIntegrity("sha1", key, msg.bytes, at, lengthField);
  const got = msg.bytes.subarray(at + ATTRIBUTE_HEADER_LENGTH, at + ATTRIBUTE_HEADER_LENGTH + MESSAGE_INTEGRITY_LENGTH);
  return timingSafeEqual(mac, got);
}

/** True iff the message carries MESSAGE-INTEGRITY-SHA256 and its (possibly truncated) value matches `key`. */
export function verifyIntegritySha256(msg: StunMessage, key: Uint8Array): boolean {
  const at = msg.integritySha256Offset;
  if (at < 0) return false;
  const len = (msg.bytes[at + 2] << 8) | msg.bytes[at + 3];
  const lengthField = at - HEADER_LENGTH + ATTRIBUTE_HEADER_LENGTH + len;
  const mac = computeIntegrity("sha256", key, msg.bytes, at, lengthField).subarray(0, len);
  const got = msg.bytes.subarray(at + ATTRIBUTE_HEADER_LENGTH, at + ATTRIBUTE_HEADER_LENGTH + len);
  return timingSafeEqual(mac, got);
}
