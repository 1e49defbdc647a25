// IP layer: parse, build, checksum and NAT IP packets without allocating per packet.
//
// API overview
// - PacketView (packet-view.ts): `const v = new PacketView()` once, then per packet
//   `v.parse(buf, off, len)` → "ok" | drop reason (drop-reason.ts). After "ok": v.version (4|6),
//   v.protocol, v.srcOff/v.dstOff/v.addrLen (addresses live in v.buf), v.src4()/v.dst4() (u32),
//   v.copySrc(out)/v.copyDst(out), v.srcPort/v.dstPort, v.tcpFlags, v.icmpType/icmpCode/icmpId,
//   v.l4Off/l4Len, v.payloadOff/payloadLen, v.isFragment, v.isIcmpError + v.inner (the quoted packet,
//   valid when v.innerResult === "ok"). IPv6 extension headers (hop-by-hop, routing, fragment,
//   destination options, AH) are skipped. Never throws.
// - Checksums (checksum.ts, ipv4.ts, l4-checksum.ts): sum16/finishChecksum (RFC 1071),
//   wordDelta/u32Delta/rangeDelta + applyDelta/adjustChecksumAt (RFC 1624 incremental),
//   fillIPv4Checksum/verifyIPv4Checksum, fillTransportChecksum/verifyTransportChecksum(view).
// - Builders return the byte length written or a BuildError string: buildUdpPacket (udp.ts),
//   buildTcpPacket (tcp.ts), buildIcmpEcho (icmp.ts). Addresses (`Addr`): u32 or 4 bytes = IPv4,
//   16 bytes = IPv6.
// - Addresses (address.ts): parseIPv4 → u32, formatIPv4, parseIPv6/parseIPv6Into → 16 bytes,
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
