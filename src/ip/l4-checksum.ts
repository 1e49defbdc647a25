// Full transport checksums: TCP, UDP and ICMPv6 over their pseudo-header, ICMPv4 over itself.
// These are the slow, obviously-correct path: builders, verification, and the baseline the
// incremental NAT updates are measured and tested against.
import { finishChecksum, fold16, pseudoSum4, pseudoSum6, sum16 } from "./checksum.ts";
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from "./constants.ts";
import type { PacketView } from "./packet-view.ts";

/** Offset of the checksum field inside each transport header. */
export function checksumFieldOffset(protocol: number): number {
  if (protocol === IPPROTO_TCP) return 16;
  if (protocol === IPPROTO_UDP) return 6;
  return 2; // ICMP and ICMPv6
}

/** Running sum over pseudo-header (if the protocol has one) and the transport bytes. */
function transportSum(
  buf: Uint8Array,
  ipOff: number,
  version: number,
  protocol: number,
  l4Off: number,
  l4Len: number,
  dstOff = ipOff + 24,
): number {
  let acc = 0;
  if (!(version === 4 && protocol === IPPROTO_ICMP)) {
    acc = version === 4 ? pseudoSum4(buf, ipOff, protocol, l4Len) : pseudoSum6(buf, ipOff, protocol, l4Len, dstOff);
  }
  return sum16(buf, l4Off, l4Len, acc);
}

/**
 * Computes and stores the transport checksum of a packet laid out at `ipOff` whose transport
 * header starts at `l4Off` and runs `l4Len` bytes. For builders, which know the layout already.
 */
export function fillTransportChecksumRaw(
  buf: Uint8Array,
  ipOff: number,
  version: number,
  protocol: number,
  l4Off: number,
  l4Len: number,
  dstOff = ipOff + 24,
): void {
  const co = l4Off + checksumFieldOffset(protocol);
  buf[co] = 0;
  buf[co + 1] = 0;
  let c = finishChecksum(transportSum(buf, ipOff, version, protocol, l4Off, l4Len, dstOff));
  if (protocol === IPPROTO_UDP && c === 0) c = 0xffff; // RFC 768: 0 means "no checksum"
  buf[co] = c >>> 8;
  buf[co + 1] = c & 0xff;
}

/** Whether the view's whole transport segment is present so a checksum can be computed over it. */
function checksummable(v: PacketView): boolean {
  return v.version !== 0 && v.hasTransport && !v.embedded && !v.isFragment && v.checksumOff >= 0;
}

/** Recomputes and stores the transport checksum of a parsed packet. Returns false if the packet
 * is a fragment or has no checksummed transport header. */
export function fillTransportChecksum(v: PacketView): boolean {
  if (!checksummable(v)) return false;
  fillTransportChecksumRaw(v.buf, v.off, v.version, v.protocol, v.l4Off, v.l4Len, v.pseudoDstOff);
  return true;
}

/**
 * Verifies the transport checksum of a parsed packet. A zero UDP checksum is valid on IPv4 (none
 * sent) and invalid on IPv6 (RFC 8200 §8.1). Returns true for packets without one to check.
 */
export function verifyTransportChecksum(v: PacketView): boolean {
  if (!checksummable(v)) return true;
  const b = v.buf;
  if (v.protocol === IPPROTO_UDP && b[v.checksumOff] === 0 && b[v.checksumOff + 1] === 0) return v.version === 4;
  return fold16(transportSum(b, v.off, v.version, v.protocol, v.l4Off, v.l4Len, v.pseudoDstOff)) === 0xffff;
}
