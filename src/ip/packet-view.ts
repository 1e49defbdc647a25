// A reusable, allocation-free view over one IP packet. The hot path keeps one PacketView per
// worker and re-points it at each packet with `parse`, which validates every length it will later
// rely on; after "ok" every accessor stays inside the packet.
import { readU32 } from "./address.ts";
import {
  ICMP_DEST_UNREACH,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_PARAMETER_PROBLEM,
  ICMP_REDIRECT,
  ICMP_SOURCE_QUENCH,
  ICMP_TIME_EXCEEDED,
  ICMPV6_DEST_UNREACH,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAMETER_PROBLEM,
  ICMPV6_TIME_EXCEEDED,
  IPPROTO_AH,
  IPPROTO_FRAGMENT,
  IPPROTO_HOPOPTS,
  IPPROTO_ICMP,
  IPPROTO_ROUTING,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_FLAG_MF,
  IPV4_FRAG_OFFSET_MASK,
  IPV6_MAX_EXTENSION_HEADERS,
} from "./constants.ts";
import type { ParseResult } from "./drop-reason.ts";
import { isIPv6ExtensionHeader } from "./ipv6.ts";

/** True for ICMPv4 types whose body carries the offending packet (RFC 792). */
export function isIcmpV4ErrorType(type: number): boolean {
  return (
    type === ICMP_DEST_UNREACH ||
    type === ICMP_SOURCE_QUENCH ||
    type === ICMP_REDIRECT ||
    type === ICMP_TIME_EXCEEDED ||
    type === ICMP_PARAMETER_PROBLEM
  );
}

/** True for ICMPv6 error types (RFC 4443 §2.1: types 0–127 are errors; 1–4 are defined). */
export function isIcmpV6ErrorType(type: number): boolean {
  return (
    type === ICMPV6_DEST_UNREACH ||
    type === ICMPV6_PACKET_TOO_BIG ||
    type === ICMPV6_TIME_EXCEEDED ||
    type === ICMPV6_PARAMETER_PROBLEM
  );
}

export class PacketView {
  buf: Uint8Array = new Uint8Array(0);
  /** Start of the IP header in `buf`. */
  off = 0;
  /** Bytes of the packet: the header's declared length (trailing padding excluded), or what is
   * available for an embedded (ICMP-quoted) packet. */
  len = 0;
  /** 4 or 6 after a successful parse, 0 otherwise. */
  version = 0;
  /** IP header length including IPv6 extension headers. */
  headerLen = 0;
  /** Upper-layer protocol (the last IPv6 next-header after extensions). */
  protocol = -1;
  /** Absolute offsets of the source/destination address in `buf` and their length (4 or 16). */
  srcOff = 0;
  dstOff = 0;
  addrLen = 0;
  /** Where the destination used in the transport pseudo-header sits: `dstOff`, except for an IPv6
   * packet with a routing header and segments left, whose final destination is in that header
   * (RFC 8200 §8.1). */
  pseudoDstOff = 0;
  /** Fragment offset in bytes and the more-fragments flag (IPv4 header or IPv6 fragment header). */
  fragmentOffset = 0;
  moreFragments = false;
  /** Absolute offset of the upper-layer header and bytes from there to the packet's end. */
  l4Off = 0;
  l4Len = 0;
  /** True when the upper-layer header was present and validated (false for non-first fragments
   * and unknown protocols). */
  hasTransport = false;
  /** TCP/UDP ports; -1 when not TCP/UDP. */
  srcPort = -1;
  dstPort = -1;
  /** TCP flag byte; -1 when not TCP or not quoted far enough (embedded packets). */
  tcpFlags = -1;
  /** ICMP/ICMPv6 type and code; -1 when not ICMP. */
  icmpType = -1;
  icmpCode = -1;
  /** Echo identifier for echo request/reply, -1 otherwise. NAT treats it like a port. */
  icmpId = -1;
  /** Absolute offset of the transport checksum field, -1 when absent or not within the bytes. */
  checksumOff = -1;
  /** Start and length of the TCP/UDP payload (or the ICMP body after the 8-byte header). */
  payloadOff = 0;
  payloadLen = 0;
  /** For ICMP errors: the quoted packet and how its parse went. */
  isIcmpError = false;
  innerResult: ParseResult = "ok";
  /** True when this view describes a packet quoted inside an ICMP error (lenient lengths). */
  embedded = false;
  private innerView: PacketView | null = null;

  /** The view of the packet quoted in an ICMP error; valid when `isIcmpError && innerResult === "ok"`. */
  get inner(): PacketView {
    if (this.innerView === null) {
      this.innerView = new PacketView();
      this.innerView.embedded = true;
    }
    return this.innerView;
  }

  /** IPv4 source as a u32 (only for version 4). */
  src4(): number {
    return readU32(this.buf, this.srcOff);
  }
  dst4(): number {
    return readU32(this.buf, this.dstOff);
  }
  /** Copies the source address (4 or 16 bytes) into `out` at `outOff`. */
  copySrc(out: Uint8Array, outOff = 0): void {
    for (let i = 0; i < this.addrLen; i++) out[outOff + i] = this.buf[this.srcOff + i];
  }
  copyDst(out: Uint8Array, outOff = 0): void {
    for (let i = 0; i < this.addrLen; i++) out[outOff + i] = this.buf[this.dstOff + i];
  }
  /** Compares the source address with `addrLen` bytes at `other[otherOff]`. */
  srcEquals(other: Uint8Array, otherOff = 0): boolean {
    for (let i = 0; i < this.addrLen; i++) if (this.buf[this.srcOff + i] !== other[otherOff + i]) return false;
    return true;
  }
  dstEquals(other: Uint8Array, otherOff = 0): boolean {
    for (let i = 0; i < this.addrLen; i++) if (this.buf[this.dstOff + i] !== other[otherOff + i]) return false;
    return true;
  }
  /** IPv4 TTL or IPv6 hop limit. */
  get ttl(): number {
    return this.buf[this.off + (this.version === 4 ? 8 : 7)];
  }
  get isFragment(): boolean {
    return this.fragmentOffset !== 0 || this.moreFragments;
  }
  get isTcp(): boolean {
    return this.protocol === IPPROTO_TCP;
  }
  get isUdp(): boolean {
    return this.protocol === IPPROTO_UDP;
  }
  /** ICMP for IPv4, ICMPv6 for IPv6 (the other family's ICMP number is just an unknown protocol). */
  get isIcmp(): boolean {
    return this.version === 4 ? this.protocol === IPPROTO_ICMP : this.protocol === IPPROTO_ICMPV6;
  }
  /** TCP flag tests (TCP_SYN, TCP_FIN, TCP_RST… from constants.ts); false when not TCP. */
  hasTcpFlag(flag: number): boolean {
    return this.tcpFlags >= 0 && (this.tcpFlags & flag) !== 0;
  }
  get isEcho(): boolean {
    return this.icmpId !== -1;
  }

  /**
   * Points the view at the packet in `buf[off, off+len)` and validates it. Returns "ok" or the
   * reason it is malformed; never throws. Checksums are not verified here (see l4-checksum.ts):
   * packets from the kernel are already verified, and NAT keeps them valid incrementally.
   */
  parse(buf: Uint8Array, off: number, len: number): ParseResult {
    this.buf = buf;
    this.off = off;
    this.version = 0;
    this.headerLen = 0;
    this.protocol = -1;
    this.addrLen = 0;
    this.fragmentOffset = 0;
    this.moreFragments = false;
    this.hasTransport = false;
    this.srcPort = -1;
    this.dstPort = -1;
    this.tcpFlags = -1;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.icmpId = -1;
    this.checksumOff = -1;
    this.payloadOff = 0;
    this.payloadLen = 0;
    this.isIcmpError = false;
    this.innerResult = "ok";
    this.len = 0;
    this.l4Off = off;
    this.l4Len = 0;
    if (len > buf.length - off) len = buf.length - off;
    if (len <= 0 || off < 0) return "empty";
    const version = buf[off] >>> 4;
    let end: number;
    let l4Off: number;
    let protocol: number;
    if (version === 4) {
      if (len < 20) return "truncated-ipv4-header";
      const ihl = (buf[off] & 0x0f) << 2;
      if (ihl < 20) return "bad-ipv4-ihl";
      if (ihl > len) return "truncated-ipv4-header";
      const total = (buf[off + 2] << 8) | buf[off + 3];
      if (total < ihl) return "bad-ipv4-total-length";
      if (total > len) {
        if (!this.embedded) return "truncated-ipv4-packet";
        end = off + len;
      } else {
        end = off + total;
      }
      const ff = (buf[off + 6] << 8) | buf[off + 7];
      this.fragmentOffset = (ff & IPV4_FRAG_OFFSET_MASK) << 3;
      this.moreFragments = (ff & IPV4_FLAG_MF) !== 0;
      protocol = buf[off + 9];
      this.srcOff = off + 12;
      this.dstOff = off + 16;
      this.pseudoDstOff = off + 16;
      this.addrLen = 4;
      l4Off = off + ihl;
    } else if (version === 6) {
      if (len < 40) return "truncated-ipv6-header";
      const payloadLen = (buf[off + 4] << 8) | buf[off + 5];
      protocol = buf[off + 6];
      // A zero payload length with a hop-by-hop header announces a jumbogram (RFC 2675); a tunnel
      // with a 1280-ish MTU never carries one.
      if (payloadLen === 0 && protocol === IPPROTO_HOPOPTS) return "jumbogram-unsupported";
      if (40 + payloadLen > len) {
        if (!this.embedded) return "truncated-ipv6-packet";
        end = off + len;
      } else {
        end = off + 40 + payloadLen;
      }
      this.srcOff = off + 8;
      this.dstOff = off + 24;
      this.pseudoDstOff = off + 24;
      this.addrLen = 16;
      let p = off + 40;
      let count = 0;
      while (isIPv6ExtensionHeader(protocol)) {
        if (++count > IPV6_MAX_EXTENSION_HEADERS) return "too-many-ipv6-extension-headers";
        // RFC 8200 §4.3: hop-by-hop must come first; elsewhere it is a parameter problem.
        if (protocol === IPPROTO_HOPOPTS && count !== 1) return "misplaced-ipv6-hop-by-hop";
        if (p + 8 > end) return "truncated-ipv6-extension-header";
        let extLen: number;
        if (protocol === IPPROTO_FRAGMENT) {
          extLen = 8;
          const fo = (buf[p + 2] << 8) | buf[p + 3];
          this.fragmentOffset = fo & 0xfff8;
          this.moreFragments = (fo & 1) !== 0;
        } else if (protocol === IPPROTO_AH) {
          // RFC 4302: AH's length is in 4-byte units minus 2.
          extLen = (buf[p + 1] + 2) << 2;
        } else {
          extLen = (buf[p + 1] + 1) << 3;
        }
        if (p + extLen > end) return "truncated-ipv6-extension-header";
        if (protocol === IPPROTO_ROUTING && buf[p + 3] !== 0 && extLen >= 24) {
          // In transit: the final destination is the last listed address (types 0 and 2) or
          // Segment List[0] (type 4, SRH, RFC 8754 §4.1).
          const type = buf[p + 2];
          if (type === 0 || type === 2) this.pseudoDstOff = p + extLen - 16;
          else if (type === 4) this.pseudoDstOff = p + 8;
        }
        protocol = buf[p];
        p += extLen;
      }
      l4Off = p;
    } else {
      return "bad-ip-version";
    }
    this.version = version;
    this.len = end - off;
    this.headerLen = l4Off - off;
    this.protocol = protocol;
    this.l4Off = l4Off;
    const l4Len = end - l4Off;
    this.l4Len = l4Len;
    this.payloadOff = l4Off;
    this.payloadLen = l4Len;
    // Only the first fragment holds the transport header.
    if (this.fragmentOffset !== 0) return "ok";
    // Quoted packets need only their first 8 transport bytes (RFC 792 guarantees that much).
    const emb = this.embedded;
    if (protocol === IPPROTO_TCP) {
      if (l4Len < (emb ? 8 : 20)) return "truncated-tcp-header";
      this.srcPort = (buf[l4Off] << 8) | buf[l4Off + 1];
      this.dstPort = (buf[l4Off + 2] << 8) | buf[l4Off + 3];
      if (l4Len >= 20) {
        const dataOffset = (buf[l4Off + 12] >>> 4) << 2;
        if (dataOffset < 20 || (dataOffset > l4Len && !emb)) return "bad-tcp-data-offset";
        this.tcpFlags = buf[l4Off + 13];
        this.checksumOff = l4Off + 16;
        this.payloadOff = l4Off + Math.min(dataOffset, l4Len);
        this.payloadLen = end - this.payloadOff;
      } else {
        this.payloadOff = end;
        this.payloadLen = 0;
      }
      this.hasTransport = true;
    } else if (protocol === IPPROTO_UDP) {
      if (l4Len < 8) return "truncated-udp-header";
      const udpLen = (buf[l4Off + 4] << 8) | buf[l4Off + 5];
      // A fragmented datagram's UDP length covers all fragments; a quoted one may be cut short.
      if (udpLen < 8 || (udpLen !== l4Len && !emb && !this.moreFragments)) return "bad-udp-length";
      this.srcPort = (buf[l4Off] << 8) | buf[l4Off + 1];
      this.dstPort = (buf[l4Off + 2] << 8) | buf[l4Off + 3];
      this.checksumOff = l4Off + 6;
      this.payloadOff = l4Off + 8;
      this.payloadLen = l4Len - 8;
      this.hasTransport = true;
    } else if ((version === 4 && protocol === IPPROTO_ICMP) || (version === 6 && protocol === IPPROTO_ICMPV6)) {
      if (l4Len < 8) return "truncated-icmp-header";
      const type = buf[l4Off];
      this.icmpType = type;
      this.icmpCode = buf[l4Off + 1];
      this.checksumOff = l4Off + 2;
      this.payloadOff = l4Off + 8;
      this.payloadLen = l4Len - 8;
      this.hasTransport = true;
      const echo =
        version === 4
          ? type === ICMP_ECHO_REQUEST || type === ICMP_ECHO_REPLY
          : type === ICMPV6_ECHO_REQUEST || type === ICMPV6_ECHO_REPLY;
      if (echo) {
        this.icmpId = (buf[l4Off + 4] << 8) | buf[l4Off + 5];
      } else if (version === 4 ? isIcmpV4ErrorType(type) : isIcmpV6ErrorType(type)) {
        this.isIcmpError = true;
        if (emb) {
          // RFC 1122 §3.2.2 / RFC 4443 §2.4(e): no error is sent about an error, so a quoted
          // error means someone is playing games; don't recurse.
          this.innerResult = "nested-icmp-error";
        } else {
          const inner = this.inner;
          const r = inner.parse(buf, l4Off + 8, l4Len - 8);
          this.innerResult = r === "ok" && inner.version !== version ? "icmp-error-family-mismatch" : r;
        }
      }
    }
    return "ok";
  }
}
