// ICMP/ICMPv6 errors: building them about a packet we refuse (filters, routing, MTU), and
// translating the ones a resource's network sends back so the quoted packet matches what the
// client originally sent (the gateway's reverse NAT).
import {
  ICMP_DEST_UNREACH,
  ICMP_FRAG_NEEDED,
  ICMP_HEADER_LEN,
  ICMP_HOST_UNREACH,
  ICMP_NET_UNREACH,
  ICMP_PKT_FILTERED,
  ICMPV6_ADDR_UNREACH,
  ICMPV6_ADM_PROHIBITED,
  ICMPV6_DEST_UNREACH,
  ICMPV6_NOROUTE,
  ICMPV6_PACKET_TOO_BIG,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPV4_MIN_HEADER_LEN,
  IPV4_MIN_MTU,
  IPV6_HEADER_LEN,
  IPV6_MIN_MTU,
} from "./constants.ts";
import type { BuildError } from "./drop-reason.ts";
import { writeIPv4Header } from "./ipv4.ts";
import { writeIPv6Header } from "./ipv6.ts";
import { fillTransportChecksum, fillTransportChecksumRaw } from "./l4-checksum.ts";
import { type NatResult, type Side, natRewrite } from "./nat.ts";
import type { PacketView } from "./packet-view.ts";
import { readU32 } from "./address.ts";

/**
 * The errors we send. Codes: IPv4 per RFC 792/1812; IPv6 per RFC 4443 §3.1, where "network
 * unreachable" is code 0 (no route to destination) and "host unreachable" code 3 (address
 * unreachable). (Firezone's gateway sends code 3 for both on IPv6; receivers treat them alike.)
 */
export type IcmpErrorKind = "admin-prohibited" | "net-unreachable" | "host-unreachable" | "packet-too-big";

/** Type and code for an error kind in a family. */
export function icmpErrorTypeCode(kind: IcmpErrorKind, version: 4 | 6): [type: number, code: number] {
  if (version === 4) {
    switch (kind) {
      case "admin-prohibited":
        return [ICMP_DEST_UNREACH, ICMP_PKT_FILTERED];
      case "net-unreachable":
        return [ICMP_DEST_UNREACH, ICMP_NET_UNREACH];
      case "host-unreachable":
        return [ICMP_DEST_UNREACH, ICMP_HOST_UNREACH];
      case "packet-too-big":
        return [ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED];
    }
  }
  switch (kind) {
    case "admin-prohibited":
      return [ICMPV6_DEST_UNREACH, ICMPV6_ADM_PROHIBITED];
    case "net-unreachable":
      return [ICMPV6_DEST_UNREACH, ICMPV6_NOROUTE];
    case "host-unreachable":
      return [ICMPV6_DEST_UNREACH, ICMPV6_ADDR_UNREACH];
    case "packet-too-big":
      return [ICMPV6_PACKET_TOO_BIG, 0];
  }
}

/** Largest error we build: the minimum MTU of the family, so it is never itself too big. */
export function maxIcmpErrorLen(version: 4 | 6): number {
  return version === 4 ? IPV4_MIN_MTU : IPV6_MIN_MTU;
}

/**
 * Writes into `out` at `off` an ICMP error about the parsed packet `orig`, from `orig`'s
 * destination (or from `from`, `orig.addrLen` bytes, e.g. the gateway's own address) to its
 * source, quoting as much of `orig` as fits in 576 (IPv4) / 1280 (IPv6) bytes. `mtu` is the
 * next-hop MTU for "packet-too-big". Returns the error's length, or why none may be sent: never
 * about an ICMP error or a non-first fragment (RFC 1122 §3.2.2, RFC 4443 §2.4(e)).
 */
export function buildIcmpError(
  out: Uint8Array,
  off: number,
  orig: PacketView,
  kind: IcmpErrorKind,
  mtu = 0,
  from: Uint8Array | null = null,
  ttl = 64,
): number | BuildError {
  if (orig.version === 0 || orig.embedded) return "not-parsed";
  if (orig.isIcmpError) return "no-error-for-icmp-error";
  if (orig.fragmentOffset !== 0) return "no-error-for-fragment";
  if (from !== null && from.length !== orig.addrLen) return "family-mismatch";
  if (!mayReceiveError(orig, kind)) return "no-error-for-multicast";
  const v = orig.version as 4 | 6;
  const hl = v === 4 ? IPV4_MIN_HEADER_LEN : IPV6_HEADER_LEN;
  const quoteLen = Math.min(orig.len, maxIcmpErrorLen(v) - hl - ICMP_HEADER_LEN);
  const total = hl + ICMP_HEADER_LEN + quoteLen;
  if (off < 0 || off + total > out.length) return "buffer-too-small";
  const [type, code] = icmpErrorTypeCode(kind, v);
  const src = orig.buf;
  // `out` must not overlap the original's bytes (a separate pool buffer): the quote and the
  // addresses are read from it while the error is written.
  const q = off + hl + ICMP_HEADER_LEN;
  for (let i = 0; i < quoteLen; i++) out[q + i] = src[orig.off + i];
  const fromBuf = from ?? src;
  const fromOff = from !== null ? 0 : orig.dstOff;
  if (v === 4) {
    writeIPv4Header(out, off, total, IPPROTO_ICMP, readU32(fromBuf, fromOff), readU32(src, orig.srcOff), ttl);
  } else {
    writeIPv6Header(out, off, ICMP_HEADER_LEN + quoteLen, IPPROTO_ICMPV6, ttl, fromBuf, fromOff, src, orig.srcOff);
  }
  const i = off + hl;
  out[i] = type;
  out[i + 1] = code;
  out[i + 4] = 0;
  out[i + 5] = 0;
  out[i + 6] = 0;
  out[i + 7] = 0;
  if (kind === "packet-too-big") {
    // RFC 1191: next-hop MTU in the low 16 bits of the unused word; RFC 4443 §3.2: all 32 bits.
    if (v === 4) {
      out[i + 6] = (mtu >>> 8) & 0xff;
      out[i + 7] = mtu & 0xff;
    } else {
      out[i + 4] = (mtu >>> 24) & 0xff;
      out[i + 5] = (mtu >>> 16) & 0xff;
      out[i + 6] = (mtu >>> 8) & 0xff;
      out[i + 7] = mtu & 0xff;
    }
  }
  fillTransportChecksumRaw(out, off, v, v === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, i, ICMP_HEADER_LEN + quoteLen);
  return total;
}

/**
 * RFC 1122 §3.2.2 / RFC 4443 §2.4(e): no error to an unspecified, multicast or broadcast source,
 * and none about a packet sent to a multicast or broadcast address (except IPv6 packet too big,
 * which path MTU discovery for multicast needs).
 */
function mayReceiveError(orig: PacketView, kind: IcmpErrorKind): boolean {
  const b = orig.buf;
  if (orig.version === 4) {
    const s = readU32(b, orig.srcOff);
    const d = readU32(b, orig.dstOff);
    if (s === 0 || s >>> 28 === 0xe || s === 0xffffffff) return false;
    return d >>> 28 !== 0xe && d !== 0xffffffff;
  }
  if (b[orig.srcOff] === 0xff) return false;
  let unspecified = true;
  for (let i = 0; i < 16 && unspecified; i++) if (b[orig.srcOff + i] !== 0) unspecified = false;
  if (unspecified) return false;
  return b[orig.dstOff] !== 0xff || kind === "packet-too-big";
}

/**
 * The MTU an ICMP "fragmentation needed" (IPv4) or "packet too big" (IPv6) error announces, or -1
 * for any other packet.
 */
export function icmpErrorMtu(v: PacketView): number {
  if (!v.isIcmpError) return -1;
  const b = v.buf;
  const i = v.l4Off;
  if (v.version === 4 && v.icmpType === ICMP_DEST_UNREACH && v.icmpCode === ICMP_FRAG_NEEDED) {
    return (b[i + 6] << 8) | b[i + 7];
  }
  if (v.version === 6 && v.icmpType === ICMPV6_PACKET_TOO_BIG) {
    return ((b[i + 4] << 24) | (b[i + 5] << 16) | (b[i + 6] << 8) | b[i + 7]) >>> 0;
  }
  return -1;
}

/**
 * Rewrites the packet quoted inside the ICMP error `v` (one side's address and/or port or echo
 * id), keeping the quoted IPv4 header checksum and the quoted transport checksum (when quoted)
 * consistent, and recomputing the outer ICMP checksum. Together with a rewrite of the outer
 * addresses (nat.ts), this is how a gateway turns an error about (client → real IP) into one about
 * (client → proxy IP). Errors are rare, so the outer checksum is recomputed in full.
 */
export function rewriteIcmpErrorQuote(
  v: PacketView,
  side: Side,
  addr: Uint8Array | null,
  addrOff = 0,
  port = -1,
): NatResult {
  if (v.version === 0) return "not-parsed";
  if (!v.isIcmpError) return "not-an-icmp-error";
  if (v.innerResult !== "ok") return "quoted-packet-unusable";
  const r = natRewrite(v.inner, side, addr, addrOff, port);
  if (r !== "ok") return r;
  fillTransportChecksum(v);
  return "ok";
}
