/**
 * Parsing one STUN message (RFC 8489 §5, §14) from the exact bytes of a UDP datagram.
 * `parseMessage` never throws: malformed input comes back as `{ ok: false, reason }`.
 * A parsed `StunMessage` keeps views into the caller's bytes; copy them if the buffer is reused.
 */

import {
  ATTR_FINGERPRINT,
  ATTR_MESSAGE_INTEGRITY,
  ATTR_MESSAGE_INTEGRITY_SHA256,
  ATTRIBUTE_HEADER_LENGTH,
  FINGERPRINT_LENGTH,
  HEADER_LENGTH,
  KNOWN_ATTRIBUTES,
  MAGIC_COOKIE,
  MESSAGE_INTEGRITY_LENGTH,
} from "./constants.ts";
import { computeFingerprint } from "./fingerprint.ts";
import { classOf, methodOf, type StunClass } from "./message-type.ts";

export type StunParseError =
  | "too-short"
  | "not-stun" // first two bits set: ChannelData or another protocol
  | "bad-magic-cookie"
  | "length-not-multiple-of-4"
  | "length-mismatch"
  | "attribute-truncated"
  | "bad-message-integrity-length"
  | "bad-fingerprint-length"
  | "attribute-after-fingerprint"
  | "bad-fingerprint";

export type ParseResult = { ok: true; message: StunMessage } | { ok: false; reason: StunParseError };

/** Location of one attribute value inside `StunMessage.bytes`. */
export interface AttributeRef {
  type: number;
  /** Offset of the value (after the 4-byte attribute header). */
  offset: number;
  length: number;
}

export class StunMessage {
  constructor(
    /** Exactly the message (header + attributes). */
    readonly bytes: Uint8Array,
    readonly type: number,
    readonly method: number,
    readonly cls: StunClass,
    /** View of the 12-byte transaction id. */
    readonly transactionId: Uint8Array,
    /** Attributes in wire order; those after MESSAGE-INTEGRITY other than MI-SHA256/FINGERPRINT are left out (RFC 8489 §14.5). */
    readonly attributes: readonly AttributeRef[],
    /** Offset of the MESSAGE-INTEGRITY attribute header, or -1. */
    readonly integrityOffset: number,
    /** Offset of the MESSAGE-INTEGRITY-SHA256 attribute header, or -1. */
    readonly integritySha256Offset: number,
    /** Offset of the FINGERPRINT attribute header, or -1 (already verified by the parser when present). */
    readonly fingerprintOffset: number,
  ) {}

  /** First attribute of this type, or undefined. RFC 8489 §14: only the first of duplicates counts. */
  attribute(type: number): AttributeRef | undefined {
    for (const a of this.attributes) if (a.type === type) return a;
    return undefined;
  }

  has(type: number): boolean {
    return this.attribute(type) !== undefined;
  }

  /** View of an attribute's value, or undefined. */
  value(type: number): Uint8Array | undefined {
    const a = this.attribute(type);
    return a ? this.bytes.subarray(a.offset, a.offset + a.length) : undefined;
  }

  /**
   * Comprehension-required attribute types (0x0000–0x7FFF) outside `known`. A server answers a
   * request that has any with 420 and UNKNOWN-ATTRIBUTES; other classes are discarded (RFC 8489 §6.3).
   */
  unknownComprehensionRequired(known: ReadonlySet<number> = KNOWN_ATTRIBUTES): number[] {
    const out: number[] = [];
    for (const a of this.attributes) if (a.type < 0x8000 && !known.has(a.type) && !out.includes(a.type)) out.push(a.type);
    return out;
  }

  /** Transaction id as 24 hex characters, handy as a map key. */
  transactionKey(): string {
    return transactionKey(this.transactionId);
  }
}

export function transactionKey(id: Uint8Array): string {
  let s = "";
  for (let i = 0; i < id.length; i++) s += (id[i] < 16 ? "0" : "") + id[i].toString(16);
  return s;
}

/** True if the datagram may be STUN (RFC 7983 demux: first byte 0..3). */
export function looksLikeStun(bytes: Uint8Array): boolean {
  return bytes.length >= HEADER_LENGTH && bytes[0] < 4 && readU32(bytes, 4) === MAGIC_COOKIE;
}

export function parseMessage(bytes: Uint8Array): ParseResult {
  if (bytes.length < HEADER_LENGTH) return fail("too-short");
  if ((bytes[0] & 0xc0) !== 0) return fail("not-stun");
  if (readU32(bytes, 4) !== MAGIC_COOKIE) return fail("bad-magic-cookie");
  const length = (bytes[2] << 8) | bytes[3];
  if ((length & 3) !== 0) return fail("length-not-multiple-of-4");
  if (HEADER_LENGTH + length !== bytes.length) return fail("length-mismatch");

  const attributes: AttributeRef[] = [];
  let integrity = -1;
  let integritySha256 = -1;
  let fingerprint = -1;
  let pos = HEADER_LENGTH;
  const end = bytes.length;
  while (pos < end) {
    if (pos + ATTRIBUTE_HEADER_LENGTH > end) return fail("attribute-truncated");
    const type = (bytes[pos] << 8) | bytes[pos + 1];
    const len = (bytes[pos + 2] << 8) | bytes[pos + 3];
    const valueAt = pos + ATTRIBUTE_HEADER_LENGTH;
    if (valueAt + len > end) return fail("attribute-truncated");
    if (fingerprint >= 0) return fail("attribute-after-fingerprint");
    if (type === ATTR_FINGERPRINT) {
      if (len !== FINGERPRINT_LENGTH) return fail("bad-fingerprint-length");
      fingerprint = pos;
      attributes.push({ type, offset: valueAt, length: len });
    } else if (type === ATTR_MESSAGE_INTEGRITY_SHA256 && integritySha256 < 0) {
      // 16..32 bytes, a multiple of 4 (RFC 8489 §14.6).
      if (len < 16 || len > 32 || (len & 3) !== 0) return fail("bad-message-integrity-length");
      integritySha256 = pos;
      attributes.push({ type, offset: valueAt, length: len });
    } else if (integrity >= 0 || integritySha256 >= 0) {
      // RFC 8489 §14.5/14.6: anything else after an integrity attribute is ignored.
    } else if (type === ATTR_MESSAGE_INTEGRITY) {
      if (len !== MESSAGE_INTEGRITY_LENGTH) return fail("bad-message-integrity-length");
      integrity = pos;
      attributes.push({ type, offset: valueAt, length: len });
    } else {
      attributes.push({ type, offset: valueAt, length: len });
    }
    pos = valueAt + ((len + 3) & ~3);
  }
  // The padding of the last attribute may run past the end only if the length was not a multiple of 4,
  // which the header check already refused, so pos === end here.
  if (fingerprint >= 0) {
    const want = readU32(bytes, fingerprint + ATTRIBUTE_HEADER_LENGTH);
    if (computeFingerprint(bytes, fingerprint, length) !== want) return fail("bad-fingerprint");
  }
  const type = (bytes[0] << 8) | bytes[1];
  return {
    ok: true,
    message: new StunMessage(
      bytes,
      type,
      methodOf(type),
      classOf(type),
      bytes.subarray(8, HEADER_LENGTH),
      attributes,
      integrity,
      integritySha256,
      fingerprint,
    ),
  };
}

function fail(reason: StunParseError): ParseResult {
  return { ok: false, reason };
}

export function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
