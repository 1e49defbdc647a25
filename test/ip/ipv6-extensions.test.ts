import { describe, expect, test } from "bun:test";
import {
  DESTINATION,
  PacketView,
  SOURCE,
  buildUdpPacket,
  fillIPv4Checksum,
  natRewrite,
  parseIPv6,
  verifyIPv4Checksum,
  verifyTransportChecksum,
} from "../../src/ip/index.ts";
import { refTransportChecksum } from "./reference.ts";

const SRC = parseIPv6("2001:db8::1")!;
const DST = parseIPv6("2001:db8::2")!;

/** Inserts extension headers (already chained: each `next` names the following one) after the
 * fixed header of a built IPv6 packet. The UDP checksum stays valid: the pseudo-header uses the
 * upper-layer length, which extension headers don't change. */
function withExtensions(pkt: Uint8Array, exts: { type: number; bytes: number[] }[]): Uint8Array {
  const upper = pkt[6];
  const chain = exts.map((e, i) => {
    const b = e.bytes.slice();
    b[0] = i + 1 < exts.length ? exts[i + 1].type : upper;
    return b;
  });
  const extBytes = chain.flat();
  const out = new Uint8Array(pkt.length + extBytes.length);
  out.set(pkt.subarray(0, 40));
  out.set(extBytes, 40);
  out.set(pkt.subarray(40), 40 + extBytes.length);
  out[6] = exts[0].type;
  const pl = out.length - 40;
  out[4] = pl >> 8;
  out[5] = pl & 255;
  return out;
}

const HOP_BY_HOP = { type: 0, bytes: [0, 0, 5, 2, 0, 0, 1, 0] }; // router alert + PadN
const ROUTING = { type: 43, bytes: [0, 2, 0, 0, 0, 0, 0, 0, ...parseIPv6("2001:db8::99")!] }; // type 0, segments left 0, one address
const FRAGMENT_ATOMIC = { type: 44, bytes: [0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78] }; // offset 0, M=0 (RFC 6946)
const AH = { type: 51, bytes: [0, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, ...new Array(12).fill(0xaa)] }; // len 4 → (4+2)*4 = 24 bytes
const DST_OPTS = { type: 60, bytes: [0, 0, 1, 4, 0, 0, 0, 0] }; // PadN

function udp6(payloadLen = 20): Uint8Array {
  const buf = new Uint8Array(200);
  const n = buildUdpPacket(buf, 0, SRC, DST, 1234, 5678, new Uint8Array(payloadLen).fill(3)) as number;
  return buf.slice(0, n);
}

describe("IPv6 extension headers", () => {
  test("hop-by-hop, routing, fragment (atomic), AH and destination options are all stepped over", () => {
    const pkt = withExtensions(udp6(), [HOP_BY_HOP, ROUTING, FRAGMENT_ATOMIC, AH, DST_OPTS]);
    const v = new PacketView();
    expect(v.parse(pkt, 0, pkt.length)).toBe("ok");
    expect(v.protocol).toBe(17);
    expect(v.headerLen).toBe(40 + 8 + 24 + 8 + 24 + 8);
    expect([v.srcPort, v.dstPort]).toEqual([1234, 5678]);
    expect(v.isFragment).toBe(false);
    expect(verifyTransportChecksum(v)).toBe(true);
    // NAT still finds the ports behind the chain and keeps the checksum right.
    expect(natRewrite(v, SOURCE, parseIPv6("fd00::5")!, 0, 999)).toBe("ok");
    expect(verifyTransportChecksum(v)).toBe(true);
    const l4 = pkt.subarray(v.l4Off);
    expect((l4[6] << 8) | l4[7]).toBe(refTransportChecksumAt(pkt, v.l4Off));
  });

  test("in transit through a routing header, the pseudo-header uses the final destination (RFC 8200 §8.1)", () => {
    const FINAL = parseIPv6("2001:db8::f1")!;
    const HOP = parseIPv6("2001:db8::a")!;
    const buf = new Uint8Array(200);
    const n = buildUdpPacket(buf, 0, SRC, FINAL, 1234, 5678, new Uint8Array(11).fill(9)) as number;
    for (const layout of [
      [0, 2, 0, 1, 0, 0, 0, 0, ...FINAL], // type 0: addresses after 4 reserved bytes; final last
      [0, 2, 4, 1, 0, 0, 0, 0, ...FINAL], // type 4 (SRH): Segment List[0] is the final segment
    ]) {
      const pkt = withExtensions(buf.slice(0, n), [{ type: 43, bytes: layout }]);
      pkt.set(HOP, 24); // header destination = the next hop
      const v = new PacketView();
      expect(v.parse(pkt, 0, pkt.length)).toBe("ok");
      expect(v.pseudoDstOff).toBe(48);
      expect(verifyTransportChecksum(v)).toBe(true);
      // Rewriting the next hop must not disturb the checksum; rewriting the source must update it.
      expect(natRewrite(v, DESTINATION, parseIPv6("2001:db8::b")!, 0, -1)).toBe("ok");
      expect(verifyTransportChecksum(v)).toBe(true);
      expect(natRewrite(v, SOURCE, parseIPv6("2001:db8::c")!, 0, 4321)).toBe("ok");
      expect(verifyTransportChecksum(v)).toBe(true);
    }
  });

  test("a non-first fragment has no transport header", () => {
    const frag = { type: 44, bytes: [0, 0, 0x05, 0xa9, 0, 0, 0, 1] }; // offset 181*8 = 1448, M=1
    const pkt = withExtensions(udp6(), [frag]);
    const v = new PacketView();
    expect(v.parse(pkt, 0, pkt.length)).toBe("ok");
    expect([v.fragmentOffset, v.moreFragments, v.hasTransport, v.srcPort]).toEqual([1448, true, false, -1]);
  });

  test("malformed chains get reasons", () => {
    const v = new PacketView();
    // hop-by-hop after another extension header
    let pkt = withExtensions(udp6(), [DST_OPTS, HOP_BY_HOP]);
    expect(v.parse(pkt, 0, pkt.length)).toBe("misplaced-ipv6-hop-by-hop");
    // more than 8 headers
    pkt = withExtensions(udp6(), new Array(9).fill(DST_OPTS));
    expect(v.parse(pkt, 0, pkt.length)).toBe("too-many-ipv6-extension-headers");
    // an extension header whose length runs past the packet
    const long = { type: 60, bytes: [0, 200, 1, 4, 0, 0, 0, 0] };
    pkt = withExtensions(udp6(0), [long]);
    expect(v.parse(pkt, 0, pkt.length)).toBe("truncated-ipv6-extension-header");
    // chain ends in the middle of a header
    pkt = withExtensions(udp6(), [DST_OPTS]);
    pkt[4] = 0;
    pkt[5] = 4;
    expect(v.parse(pkt, 0, 44)).toBe("truncated-ipv6-extension-header");
    // jumbogram marker
    pkt = withExtensions(udp6(), [HOP_BY_HOP]);
    pkt[4] = 0;
    pkt[5] = 0;
    expect(v.parse(pkt, 0, pkt.length)).toBe("jumbogram-unsupported");
  });
});

describe("IPv4 options and TCP options", () => {
  test("IHL > 5 puts the transport header after the options", () => {
    const base = new Uint8Array(100);
    const n = buildUdpPacket(base, 0, 0x0a000001, 0x0a000002, 7, 8, new Uint8Array(5)) as number;
    const pkt = new Uint8Array(n + 8);
    pkt.set(base.subarray(0, 20));
    pkt.set([0x94, 0x04, 0, 0, 1, 1, 1, 0], 20); // router alert + NOPs + EOL
    pkt.set(base.subarray(20, n), 28);
    pkt[0] = 0x47;
    pkt[3] = n + 8;
    fillIPv4Checksum(pkt, 0);
    const v = new PacketView();
    expect(v.parse(pkt, 0, pkt.length)).toBe("ok");
    expect(v.headerLen).toBe(28);
    expect(verifyIPv4Checksum(pkt, 0)).toBe(true);
    expect([v.srcPort, v.dstPort]).toEqual([7, 8]);
    expect(verifyTransportChecksum(v)).toBe(true);
  });
});

function refTransportChecksumAt(pkt: Uint8Array, l4Off: number): number {
  // Rebuild a plain IPv6+UDP packet (no extensions) with the same addresses and UDP bytes and let
  // the reference compute over it.
  const udp = pkt.subarray(l4Off);
  const plain = new Uint8Array(40 + udp.length);
  plain.set(pkt.subarray(0, 40));
  plain[6] = 17;
  plain[4] = udp.length >> 8;
  plain[5] = udp.length & 255;
  plain.set(udp, 40);
  return refTransportChecksum(plain, 6);
}
