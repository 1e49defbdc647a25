// ICMP (RFC 792) and ICMPv6 (RFC 4443) echo messages. One builder for both families, picked by
// the addresses, because callers (ping probes, interop tests) care about "an echo", not the family.
import {
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_HEADER_LEN,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
} from "./constants.ts";
import type { BuildError } from "./drop-reason.ts";
import { type Addr, addrFamily, beginPacket, builtHeaderLen } from "./ip-header.ts";
import { fillTransportChecksumRaw } from "./l4-checksum.ts";
import { adjustChecksumAt, wordDelta } from "./checksum.ts";
import type { PacketView } from "./packet-view.ts";

export const ICMP_OFF_TYPE = 0;
export const ICMP_OFF_CODE = 1;
export const ICMP_OFF_CHECKSUM = 2;
export const ICMP_OFF_ID = 4;
export const ICMP_OFF_SEQ = 6;

/** Writes an echo request (or reply) with valid checksums; returns the packet length. */
export function buildIcmpEcho(
  out: Uint8Array,
  off: number,
  src: Addr,
  dst: Addr,
  request: boolean,
  id: number,
  seq: number,
  payload: Uint8Array,
  ttl = 64,
): number | BuildError {
  const l4Len = ICMP_HEADER_LEN + payload.length;
  // The protocol only matters once both families agree (beginPacket checks that).
  const protocol = addrFamily(src) === 6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
  const f = beginPacket(out, off, src, dst, protocol, l4Len, ttl);
  if (typeof f === "string") return f;
  const hl = builtHeaderLen(f);
  const i = off + hl;
  out[i] = f === 4 ? (request ? ICMP_ECHO_REQUEST : ICMP_ECHO_REPLY) : request ? ICMPV6_ECHO_REQUEST : ICMPV6_ECHO_REPLY;
  out[i + 1] = 0;
  out[i + 4] = (id >>> 8) & 0xff;
  out[i + 5] = id & 0xff;
  out[i + 6] = (seq >>> 8) & 0xff;
  out[i + 7] = seq & 0xff;
  out.set(payload, i + ICMP_HEADER_LEN);
  fillTransportChecksumRaw(out, off, f, protocol, i, l4Len);
  return hl + l4Len;
}

/**
 * Turns a parsed echo request into its reply in place: addresses swapped, type set to reply.
 * Swapping addresses leaves every one's-complement sum unchanged, so only the type word needs an
 * incremental checksum update. Used to answer probes without building a new packet. Returns false
 * (packet untouched) if `v` is not an echo request.
 */
export function echoReplyInPlace(v: PacketView): boolean {
  if (v.version === 0 || v.embedded || !v.isIcmp) return false;
  const req = v.version === 4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
  const rep = v.version === 4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY;
  if (v.icmpType !== req) return false;
  const b = v.buf;
  for (let i = 0; i < v.addrLen; i++) {
    const t = b[v.srcOff + i];
    b[v.srcOff + i] = b[v.dstOff + i];
    b[v.dstOff + i] = t;
  }
  const code = b[v.l4Off + 1];
  b[v.l4Off] = rep;
  adjustChecksumAt(b, v.checksumOff, wordDelta((req << 8) | code, (rep << 8) | code));
  v.icmpType = rep;
  return true;
}
