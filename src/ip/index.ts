// IP layer: parse, build, checksum and NAT IP packets without allocating per packet.
//
// API overview
// - PacketView (packet-view.ts): `const v = new PacketView()` once, then per packet
//   `v.parse(buf, off, len)` → "ok" | drop reason (drop-reason.ts, IP_DROP_REASONS for counters).
//   After "ok": v.version (4|6), v.protocol, v.srcOff/v.dstOff/v.addrLen (addresses stay in v.buf),
//   v.src4()/v.dst4() (u32), v.copySrc(out)/v.copyDst(out), v.srcEquals/dstEquals, v.srcPort/
//   v.dstPort, v.tcpFlags + v.hasTcpFlag(TCP_SYN), v.icmpType/icmpCode/icmpId, v.l4Off/l4Len,
//   v.payloadOff/payloadLen, v.fragmentOffset/moreFragments/isFragment, v.isIcmpError + v.inner
//   (the quoted packet, a PacketView; valid when v.innerResult === "ok"). IPv6 extension headers
//   (hop-by-hop, routing, fragment, destination options, AH) are skipped. Never throws.
// - Checksums: sum16/finishChecksum/internetChecksum (RFC 1071); wordDelta/u32Delta/rangeDelta +
//   applyDelta/adjustChecksumAt (RFC 1624 eqn. 3); fillIPv4Checksum/verifyIPv4Checksum;
//   fillTransportChecksum/verifyTransportChecksum(view) for TCP/UDP/ICMP/ICMPv6.
// - NAT (nat.ts): natRewrite(v, SOURCE|DESTINATION, addrBytes|null, addrOff, port|-1),
//   natRewrite4(v, side, u32|-1, port|-1), rewriteSource/rewriteDestination(4): address and port
//   (ICMP echo id for echo) with incremental checksum updates; UDP checksum 0 stays 0 on IPv4.
// - ICMP errors (icmp-error.ts): buildIcmpError(out, off, view, "admin-prohibited" |
//   "net-unreachable" | "host-unreachable" | "packet-too-big", mtu?, from?) quotes as much as fits
//   in 576/1280 bytes; icmpErrorMtu(view); rewriteIcmpErrorQuote(view, side, addr, off, port)
//   translates the quoted packet (gateway reverse NAT) and fixes all checksums.
// - Builders return the byte length written or a BuildError string: buildUdpPacket (udp.ts),
//   buildTcpPacket (tcp.ts), buildIcmpEcho (icmp.ts). `Addr`: u32 or 4 bytes = IPv4, 16 = IPv6.
//   In place: echoReplyInPlace(view) (answer a probe), setTcpFlags(view, TCP_RST | TCP_ACK).
// - DropCounters (drop-counters.ts): per-reason counts for status output.
// - p2p control (p2p-control.ts): encodeP2pEvent/decodeP2pEvent (AssignedIps, DomainStatus,
//   Goodbye), buildP2pControl, isP2pControl(buf, off, len).
// - CIDR (cidr.ts): parseCidr/formatCidr, cidrContains/cidrContains4, CidrTable<T> with
//   insert/remove/get and allocation-free lookup(buf, off, len)/lookup4(u32) (longest prefix).
// - Address text (address.ts): parseIPv4 → u32, formatIPv4, parseIPv6/parseIPv6Into → 16 bytes,
//   formatIPv6 (RFC 5952), parseIp/formatIp. Strings are for config and logs only.
export * from "./constants.ts";
export * from "./drop-reason.ts";
export * from "./checksum.ts";
export * from "./address.ts";
export * from "./ipv4.ts";
export * from "./ipv6.ts";
export * from "./ip-header.ts";
export * from "./l4-checksum.ts";
export * from "./packet-view.ts";
export * from "./udp.ts";
export * from "./tcp.ts";
export * from "./icmp.ts";
export * from "./nat.ts";
export * from "./icmp-error.ts";
export * from "./p2p-control.ts";
export * from "./cidr.ts";
export * from "./drop-counters.ts";
