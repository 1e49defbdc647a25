// Family-generic IP header writing for the packet builders.
import { IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN } from "./constants.ts";
import type { BuildError } from "./drop-reason.ts";
import { writeIPv4Header } from "./ipv4.ts";
import { writeIPv6Header } from "./ipv6.ts";
import { readU32 } from "./address.ts";

/**
 * An address for builders: a u32 number or 4 bytes for IPv4, 16 bytes for IPv6. (Parsed packets
 * expose addresses as offsets into their buffer instead; see PacketView.)
 */
export type Addr = number | Uint8Array;

/** 4, 6, or 0 when `a` is neither a number nor 4/16 bytes. */
export function addrFamily(a: Addr): 0 | 4 | 6 {
  if (typeof a === "number") return 4;
  if (a.length === 4) return 4;
  if (a.length === 16) return 6;
  return 0;
}

function asU32(a: Addr): number {
  return typeof a === "number" ? a >>> 0 : readU32(a, 0);
}

/** Header length a packet of the given family gets from our builders. */
export function builtHeaderLen(family: 4 | 6): number {
  return family === 4 ? IPV4_MIN_HEADER_LEN : IPV6_HEADER_LEN;
}

/**
 * Writes an IP header (no options / extension headers) for `payloadLen` bytes of `protocol`.
 * The caller has checked both addresses have family `family` and that the buffer is big enough.
 */
export function writeIpHeader(
  buf: Uint8Array,
  off: number,
  family: 4 | 6,
  src: Addr,
  dst: Addr,
  protocol: number,
  payloadLen: number,
  ttl: number,
): number {
  if (family === 4) {
    writeIPv4Header(buf, off, IPV4_MIN_HEADER_LEN + payloadLen, protocol, asU32(src), asU32(dst), ttl);
    return IPV4_MIN_HEADER_LEN;
  }
  writeIPv6Header(buf, off, payloadLen, protocol, ttl, src as Uint8Array, 0, dst as Uint8Array, 0);
  return IPV6_HEADER_LEN;
}

/**
 * The part every transport builder shares: check the arguments for an `l4Len`-byte segment of
 * `protocol`, then write the IP header in front of it. Returns the family (the segment starts at
 * `off + builtHeaderLen(family)`) or why the packet cannot be built; the caller writes the segment.
 */
export function beginPacket(
  out: Uint8Array,
  off: number,
  src: Addr,
  dst: Addr,
  protocol: number,
  l4Len: number,
  ttl: number,
): 4 | 6 | BuildError {
  const fam = addrFamily(src);
  const hl = fam === 0 ? 0 : builtHeaderLen(fam);
  const f = checkBuild(out, off, src, dst, hl + l4Len);
  if (typeof f === "string") return f;
  writeIpHeader(out, off, f, src, dst, protocol, l4Len, ttl);
  return f;
}

/** Writes the source and destination ports that open both TCP and UDP headers. */
export function writePorts(out: Uint8Array, at: number, srcPort: number, dstPort: number): void {
  out[at] = srcPort >>> 8;
  out[at + 1] = srcPort & 0xff;
  out[at + 2] = dstPort >>> 8;
  out[at + 3] = dstPort & 0xff;
}

/** Common checks for builders: same family on both ends, and room for `total` bytes. */
export function checkBuild(
  buf: Uint8Array,
  off: number,
  src: Addr,
  dst: Addr,
  total: number,
): 4 | 6 | "family-mismatch" | "buffer-too-small" | "payload-too-large" {
  const f = addrFamily(src);
  if (f === 0 || f !== addrFamily(dst)) return "family-mismatch";
  // IPv4 total length and IPv6 payload length are 16-bit fields.
  if (total - (f === 4 ? 0 : IPV6_HEADER_LEN) > 0xffff) return "payload-too-large";
  if (off < 0 || off + total > buf.length) return "buffer-too-small";
  return f;
}
