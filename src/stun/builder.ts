/**
 * Writing STUN messages into a caller-owned buffer. Attributes are appended in call order;
 * MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT must come last, in that order (RFC 8489 §14).
 * Overflowing the buffer or adding after FINGERPRINT does not throw: the builder remembers the
 * first error and `finish()` returns it.
 */

import { ipFamily, parseIpv4, parseIpv6, type IpFamily, type SocketAddress } from "./address.ts";
import {
  ATTR_ADDITIONAL_ADDRESS_FAMILY,
  ATTR_CHANNEL_NUMBER,
  ATTR_ERROR_CODE,
  ATTR_FINGERPRINT,
  ATTR_LIFETIME,
  ATTR_MESSAGE_INTEGRITY,
  ATTR_MESSAGE_INTEGRITY_SHA256,
  ATTR_NONCE,
  ATTR_PRIORITY,
  ATTR_REALM,
  ATTR_REQUESTED_ADDRESS_FAMILY,
  ATTR_REQUESTED_TRANSPORT,
  ATTR_SOFTWARE,
  ATTR_UNKNOWN_ATTRIBUTES,
  ATTR_USE_CANDIDATE,
  ATTR_USERNAME,
  ATTRIBUTE_HEADER_LENGTH,
  FAMILY_IPV4,
  FAMILY_IPV6,
  FINGERPRINT_LENGTH,
  HEADER_LENGTH,
  MAGIC_COOKIE,
  MESSAGE_INTEGRITY_LENGTH,
  MESSAGE_INTEGRITY_SHA256_LENGTH,
  TRANSACTION_ID_LENGTH,
} from "./constants.ts";
import { computeFingerprint } from "./fingerprint.ts";
import { computeIntegrity } from "./integrity.ts";
import { messageType, type StunClass } from "./message-type.ts";

export type BuildError = "buffer-too-small" | "bad-address" | "after-integrity" | "after-fingerprint" | "bad-transaction-id" | "bad-value";
export type BuildResult = { ok: true; bytes: Uint8Array } | { ok: false; reason: BuildError };

/** Large enough for any message this project builds; UDP STUN should stay under the path MTU anyway. */
export const DEFAULT_BUILD_BUFFER = 1280;

const encoder = new TextEncoder();

export class MessageBuilder {
  private pos = HEADER_LENGTH;
  private error: BuildError | undefined;
  private sealed = 0; // 1 after an integrity attribute, 2 after FINGERPRINT

  /**
   * @param out where the message is written from offset 0 (default: a fresh 1280-byte buffer).
   */
  constructor(
    method: number,
    cls: StunClass,
    transactionId: Uint8Array,
    readonly out: Uint8Array = new Uint8Array(DEFAULT_BUILD_BUFFER),
  ) {
    if (out.length < HEADER_LENGTH) {
      this.error = "buffer-too-small";
      return;
    }
    if (transactionId.length !== TRANSACTION_ID_LENGTH) this.error = "bad-transaction-id";
    const type = messageType(method, cls);
    out[0] = type >> 8;
    out[1] = type & 0xff;
    out[2] = 0;
    out[3] = 0;
    writeU32(out, 4, MAGIC_COOKIE);
    if (transactionId.length === TRANSACTION_ID_LENGTH) out.set(transactionId, 8);
  }

  /** Appends an attribute header and returns the value offset, or -1 (error recorded). */
  private begin(type: number, length: number): number {
    if (this.error) return -1;
    if (this.sealed === 2) return this.fail("after-fingerprint");
    if (this.sealed === 1 && type !== ATTR_FINGERPRINT && type !== ATTR_MESSAGE_INTEGRITY_SHA256) return this.fail("after-integrity");
    const padded = (length + 3) & ~3;
    if (length > 0xffff || this.pos + ATTRIBUTE_HEADER_LENGTH + padded > this.out.length) return this.fail("buffer-too-small");
    const o = this.pos;
    this.out[o] = type >> 8;
    this.out[o + 1] = type & 0xff;
    this.out[o + 2] = length >> 8;
    this.out[o + 3] = length & 0xff;
    // Zero the padding so the bytes on the wire never leak old buffer contents.
    this.out.fill(0, o + ATTRIBUTE_HEADER_LENGTH + length, o + ATTRIBUTE_HEADER_LENGTH + padded);
    this.pos = o + ATTRIBUTE_HEADER_LENGTH + padded;
    return o + ATTRIBUTE_HEADER_LENGTH;
  }

  private fail(e: BuildError): number {
    this.error ??= e;
    return -1;
  }

  addBytes(type: number, value: Uint8Array): this {
    const o = this.begin(type, value.length);
    if (o >= 0) this.out.set(value, o);
    return this;
  }

  addString(type: number, value: string): this {
    return this.addBytes(type, encoder.encode(value));
  }

  addUsername(v: string): this {
    return this.addString(ATTR_USERNAME, v);
  }
  addRealm(v: string): this {
    return this.addString(ATTR_REALM, v);
  }
  addNonce(v: string): this {
    return this.addString(ATTR_NONCE, v);
  }
  addSoftware(v: string): this {
    return this.addString(ATTR_SOFTWARE, v);
  }

  addU32(type: number, value: number): this {
    const o = this.begin(type, 4);
    if (o >= 0) writeU32(this.out, o, value >>> 0);
    return this;
  }

  addLifetime(seconds: number): this {
    return this.addU32(ATTR_LIFETIME, seconds);
  }
  addPriority(p: number): this {
    return this.addU32(ATTR_PRIORITY, p);
  }

  /** Zero-length flag attribute such as USE-CANDIDATE or DONT-FRAGMENT. */
  addFlag(type: number = ATTR_USE_CANDIDATE): this {
    this.begin(type, 0);
    return this;
  }

  addU64(type: number, value: bigint): this {
    const o = this.begin(type, 8);
    if (o >= 0) {
      writeU32(this.out, o, Number((value >> 32n) & 0xffffffffn));
      writeU32(this.out, o + 4, Number(value & 0xffffffffn));
    }
    return this;
  }

  addChannelNumber(channel: number): this {
    const o = this.begin(ATTR_CHANNEL_NUMBER, 4);
    if (o >= 0) {
      this.out[o] = channel >> 8;
      this.out[o + 1] = channel & 0xff;
      this.out[o + 2] = 0;
      this.out[o + 3] = 0;
    }
    return this;
  }

  addRequestedTransport(protocol: number): this {
    const o = this.begin(ATTR_REQUESTED_TRANSPORT, 4);
    if (o >= 0) {
      this.out[o] = protocol;
      this.out.fill(0, o + 1, o + 4);
    }
    return this;
  }

  addAddressFamily(type: typeof ATTR_REQUESTED_ADDRESS_FAMILY | typeof ATTR_ADDITIONAL_ADDRESS_FAMILY, family: IpFamily): this {
    const o = this.begin(type, 4);
    if (o >= 0) {
      this.out[o] = family === 4 ? FAMILY_IPV4 : FAMILY_IPV6;
      this.out.fill(0, o + 1, o + 4);
    }
    return this;
  }

  addErrorCode(code: number, reason: string): this {
    if (code < 300 || code > 699) {
      this.fail("bad-value");
      return this;
    }
    const r = encoder.encode(reason);
    const o = this.begin(ATTR_ERROR_CODE, 4 + r.length);
    if (o >= 0) {
      this.out[o] = 0;
      this.out[o + 1] = 0;
      this.out[o + 2] = Math.floor(code / 100);
      this.out[o + 3] = code % 100;
      this.out.set(r, o + 4);
    }
    return this;
  }

  addUnknownAttributes(types: readonly number[]): this {
    const o = this.begin(ATTR_UNKNOWN_ATTRIBUTES, types.length * 2);
    if (o >= 0)
      for (let i = 0; i < types.length; i++) {
        this.out[o + i * 2] = types[i] >> 8;
        this.out[o + i * 2 + 1] = types[i] & 0xff;
      }
    return this;
  }

  /** MAPPED-ADDRESS-style (xor = false) or XOR-*-ADDRESS (xor = true) attribute. */
  addAddress(type: number, addr: SocketAddress, xor = true): this {
    const v6 = ipFamily(addr.ip) === 6;
    const o = this.begin(type, v6 ? 20 : 8);
    if (o < 0) return this;
    const ok = v6 ? parseIpv6(addr.ip, this.out.subarray(o + 4, o + 20)) : parseIpv4(addr.ip, this.out, o + 4);
    if (!ok || !Number.isInteger(addr.port) || addr.port < 0 || addr.port > 0xffff) {
      this.fail("bad-address");
      return this;
    }
    this.out[o] = 0;
    this.out[o + 1] = v6 ? FAMILY_IPV6 : FAMILY_IPV4;
    const port = xor ? addr.port ^ (MAGIC_COOKIE >>> 16) : addr.port;
    this.out[o + 2] = port >> 8;
    this.out[o + 3] = port & 0xff;
    // XOR key is cookie || transaction id = header bytes 4..20.
    if (xor) for (let i = 0; i < (v6 ? 16 : 4); i++) this.out[o + 4 + i] ^= this.out[4 + i];
    return this;
  }

  addXorAddress(type: number, addr: SocketAddress): this {
    return this.addAddress(type, addr, true);
  }

  /** MESSAGE-INTEGRITY with HMAC-SHA1 under `key` (see longTermKey / shortTermKey). */
  addMessageIntegrity(key: Uint8Array): this {
    const at = this.pos;
    const o = this.begin(ATTR_MESSAGE_INTEGRITY, MESSAGE_INTEGRITY_LENGTH);
    if (o < 0) return this;
    this.out.set(computeIntegrity("sha1", key, this.out, at, o + MESSAGE_INTEGRITY_LENGTH - HEADER_LENGTH), o);
    this.sealed = 1;
    return this;
  }

  /** MESSAGE-INTEGRITY-SHA256, full 32 bytes. */
  addMessageIntegritySha256(key: Uint8Array): this {
    const at = this.pos;
    const o = this.begin(ATTR_MESSAGE_INTEGRITY_SHA256, MESSAGE_INTEGRITY_SHA256_LENGTH);
    if (o < 0) return this;
    this.out.set(computeIntegrity("sha256", key, this.out, at, o + MESSAGE_INTEGRITY_SHA256_LENGTH - HEADER_LENGTH), o);
    this.sealed = 1;
    return this;
  }

  addFingerprint(): this {
    const at = this.pos;
    const o = this.begin(ATTR_FINGERPRINT, FINGERPRINT_LENGTH);
    if (o < 0) return this;
    writeU32(this.out, o, computeFingerprint(this.out, at, o + FINGERPRINT_LENGTH - HEADER_LENGTH));
    this.sealed = 2;
    return this;
  }

  /** Writes the final length and returns a view of the message in `out`. */
  finish(): BuildResult {
    if (this.error) return { ok: false, reason: this.error };
    const len = this.pos - HEADER_LENGTH;
    this.out[2] = len >> 8;
    this.out[3] = len & 0xff;
    return { ok: true, bytes: this.out.subarray(0, this.pos) };
  }
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
