// IPv4 header layout (RFC 791) and writers. Readers take (buf, off) with off = start of the header;
// bounds are established once by PacketView.parse, so these stay branch-free.
import { internetChecksum } from "./checksum.ts";
import { IPV4_FLAG_DF } from "./constants.ts";
import { readU32, writeU32 } from "./address.ts";

export const IPV4_OFF_TOS = 1;
export const IPV4_OFF_TOTAL_LEN = 2;
export const IPV4_OFF_ID = 4;
export const IPV4_OFF_FLAGS_FRAG = 6;
export const IPV4_OFF_TTL = 8;
export const IPV4_OFF_PROTOCOL = 9;
export const IPV4_OFF_CHECKSUM = 10;
export const IPV4_OFF_SRC = 12;
export const IPV4_OFF_DST = 16;

export function ipv4HeaderLen(buf: Uint8Array, off: number): number {
  return (buf[off] & 0x0f) << 2;
}
export function ipv4TotalLen(buf: Uint8Array, off: number): number {
  return (buf[off + 2] << 8) | buf[off + 3];
}
export function ipv4Src(buf: Uint8Array, off: number): number {
  return readU32(buf, off + IPV4_OFF_SRC);
}
export function ipv4Dst(buf: Uint8Array, off: number): number {
  return readU32(buf, off + IPV4_OFF_DST);
}

/** Computes the header checksum (treating the stored one as zero) over the IHL-sized header. */
export function ipv4HeaderChecksum(buf: Uint8Array, off: number): number {
  const hl = ipv4HeaderLen(buf, off);
  const stored = (buf[off + IPV4_OFF_CHECKSUM] << 8) | buf[off + IPV4_OFF_CHECKSUM + 1];
  // Summing the whole header and subtracting the stored field (adding its complement) avoids
  // mutating the caller's buffer just to read.
  return internetChecksum(buf, off, hl, ~stored & 0xffff);
}

/** Writes a freshly computed header checksum. */
export function fillIPv4Checksum(buf: Uint8Array, off: number): void {
  buf[off + IPV4_OFF_CHECKSUM] = 0;
  buf[off + IPV4_OFF_CHECKSUM + 1] = 0;
  const c = internetChecksum(buf, off, ipv4HeaderLen(buf, off));
  buf[off + IPV4_OFF_CHECKSUM] = c >>> 8;
  buf[off + IPV4_OFF_CHECKSUM + 1] = c & 0xff;
}

/** True when the header's checksum verifies (the one's-complement sum over it is 0xFFFF). */
export function verifyIPv4Checksum(buf: Uint8Array, off: number): boolean {
  return internetChecksum(buf, off, ipv4HeaderLen(buf, off)) === 0;
}

/**
 * Writes a 20-byte IPv4 header (no options) with a valid checksum. DF is set by default because
 * a tunnel must never fragment (path MTU discovery relies on it).
 */
export function writeIPv4Header(
  buf: Uint8Array,
  off: number,
  totalLen: number,
  protocol: number,
  src: number,
  dst: number,
  ttl = 64,
  id = 0,
  dontFragment = true,
): void {
  buf[off] = 0x45;
  buf[off + IPV4_OFF_TOS] = 0;
  buf[off + 2] = totalLen >>> 8;
  buf[off + 3] = totalLen & 0xff;
  buf[off + 4] = (id >>> 8) & 0xff;
  buf[off + 5] = id & 0xff;
  const ff = dontFragment ? IPV4_FLAG_DF : 0;
  buf[off + 6] = ff >>> 8;
  buf[off + 7] = 0;
  buf[off + IPV4_OFF_TTL] = ttl;
  buf[off + IPV4_OFF_PROTOCOL] = protocol;
  writeU32(buf, off + IPV4_OFF_SRC, src);
  writeU32(buf, off + IPV4_OFF_DST, dst);
  fillIPv4Checksum(buf, off);
}
