// NAT rewrites on a parsed packet: source or destination address and port (or ICMP echo id),
// keeping the IPv4 header checksum and the transport checksum valid by RFC 1624 incremental
// updates, so a 1420-byte packet costs a few word operations instead of a full re-sum.
//
// What is updated:
// - IPv4 header checksum when an IPv4 address changes;
// - TCP/UDP checksums for address (pseudo-header) and port changes;
// - ICMPv6 checksum for address changes (ICMPv6 has a pseudo-header) and echo id changes;
// - ICMPv4 checksum for echo id changes only (no pseudo-header).
// A UDP checksum of 0 (IPv4: "none") stays 0; a result of 0 is stored as 0xFFFF (RFC 768).
// Non-first fragments carry no transport header: only their IP header is rewritten, so NAT that
// must change ports has to drop or reassemble them (PacketView.fragmentOffset tells).
import { adjustChecksumAt, rangeDelta, u32Delta, wordDelta } from "./checksum.ts";
import { IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from "./constants.ts";
import type { BuildError } from "./drop-reason.ts";
import type { PacketView } from "./packet-view.ts";
import { readU32, writeU32 } from "./address.ts";

export type NatResult = "ok" | BuildError;

/** Which end of the packet a rewrite applies to. */
export const SOURCE = 0;
export const DESTINATION = 1;
export type Side = typeof SOURCE | typeof DESTINATION;

/**
 * Rewrites one side of `v`: the address (when `addr` is given: `v.addrLen` bytes at `addr[addrOff]`)
 * and the port or echo id (when `port >= 0`). Fails without touching the packet when a port is
 * asked for but the packet has none to rewrite.
 */
export function natRewrite(
  v: PacketView,
  side: Side,
  addr: Uint8Array | null,
  addrOff: number,
  port: number,
): NatResult {
  if (v.version === 0) return "not-parsed";
  if (port >= 0 && v.srcPort < 0 && v.icmpId < 0) return "no-port-to-rewrite";
  if (addr !== null && addr.length - addrOff < v.addrLen) return "family-mismatch";
  const b = v.buf;
  let delta = 0;
  if (addr !== null) {
    const field = side === SOURCE ? v.srcOff : v.dstOff;
    delta = rangeDelta(b, field, addr, addrOff, v.addrLen);
    for (let i = 0; i < v.addrLen; i++) b[field + i] = addr[addrOff + i];
  }
  // The header destination of a packet in transit through a routing header is not the one the
  // transport checksum covers.
  const pseudoDelta = side === DESTINATION && v.pseudoDstOff !== v.dstOff ? 0 : delta;
  return finish(v, side, delta, pseudoDelta, port);
}

/** IPv4 fast path: the new address as a u32 (-1 keeps the address). */
export function natRewrite4(v: PacketView, side: Side, addr: number, port: number): NatResult {
  if (v.version !== 4) return v.version === 0 ? "not-parsed" : "family-mismatch";
  if (port >= 0 && v.srcPort < 0 && v.icmpId < 0) return "no-port-to-rewrite";
  let delta = 0;
  if (addr >= 0) {
    const field = side === SOURCE ? v.srcOff : v.dstOff;
    delta = u32Delta(readU32(v.buf, field), addr >>> 0);
    writeU32(v.buf, field, addr >>> 0);
  }
  return finish(v, side, delta, delta, port);
}

export function rewriteSource(v: PacketView, addr: Uint8Array | null, addrOff = 0, port = -1): NatResult {
  return natRewrite(v, SOURCE, addr, addrOff, port);
}
export function rewriteDestination(v: PacketView, addr: Uint8Array | null, addrOff = 0, port = -1): NatResult {
  return natRewrite(v, DESTINATION, addr, addrOff, port);
}
export function rewriteSource4(v: PacketView, addr: number, port = -1): NatResult {
  return natRewrite4(v, SOURCE, addr, port);
}
export function rewriteDestination4(v: PacketView, addr: number, port = -1): NatResult {
  return natRewrite4(v, DESTINATION, addr, port);
}

function finish(v: PacketView, side: Side, addrDelta: number, pseudoDelta: number, port: number): NatResult {
  const b = v.buf;
  if (v.version === 4 && addrDelta !== 0) adjustChecksumAt(b, v.off + 10, addrDelta);
  const proto = v.protocol;
  const hasPseudo = proto === IPPROTO_TCP || proto === IPPROTO_UDP || (v.version === 6 && proto === IPPROTO_ICMPV6);
  let l4Delta = hasPseudo ? pseudoDelta : 0;
  if (port >= 0 && v.hasTransport) {
    if (v.srcPort >= 0) {
      const po = v.l4Off + (side === SOURCE ? 0 : 2);
      l4Delta += wordDelta((b[po] << 8) | b[po + 1], port);
      b[po] = (port >>> 8) & 0xff;
      b[po + 1] = port & 0xff;
      if (side === SOURCE) v.srcPort = port & 0xffff;
      else v.dstPort = port & 0xffff;
    } else {
      // Echo request and reply share one id, which NAT treats as both ports.
      const io = v.l4Off + 4;
      l4Delta += wordDelta((b[io] << 8) | b[io + 1], port);
      b[io] = (port >>> 8) & 0xff;
      b[io + 1] = port & 0xff;
      v.icmpId = port & 0xffff;
    }
  }
  // checksumOff is -1 when the field isn't in the bytes (non-first fragment, short ICMP quote).
  if (l4Delta !== 0 && v.hasTransport && v.checksumOff >= 0 && v.checksumOff + 2 <= v.off + v.len) {
    adjustChecksumAt(b, v.checksumOff, l4Delta, proto === IPPROTO_UDP);
  }
  return "ok";
}
