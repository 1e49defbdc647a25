import { describe, expect, test } from "bun:test";
import {
  PacketView,
  TCP_ACK,
  TCP_SYN,
  buildIcmpEcho,
  echoReplyInPlace,
  buildTcpPacket,
  buildUdpPacket,
  ipv4HeaderChecksum,
  parseIPv4,
  parseIPv6,
  verifyIPv4Checksum,
  verifyTransportChecksum,
} from "../../src/ip/index.ts";
import { hex, refChecksum, refTransportChecksum } from "./reference.ts";

const V4A = parseIPv4("100.64.0.1")!;
const V4B = parseIPv4("10.0.0.7")!;
const V6A = parseIPv6("fd00:2021:1111::1")!;
const V6B = parseIPv6("2001:db8::7")!;

function u16(b: Uint8Array, o: number) {
  return (b[o] << 8) | b[o + 1];
}

describe("IPv4 header checksum", () => {
  test("matches the textbook header (Wikipedia 'IPv4 header checksum' example)", () => {
    const h = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
    expect(ipv4HeaderChecksum(h, 0)).toBe(0xb861);
    expect(verifyIPv4Checksum(h, 0)).toBe(true);
    h[8] = 0x3f;
    expect(verifyIPv4Checksum(h, 0)).toBe(false);
  });
});

describe("builders produce packets the parser and an independent checksum agree on", () => {
  const payload = new TextEncoder().encode("hello firezone, odd length!");
  for (const [name, src, dst] of [
    ["v4", V4A, V4B],
    ["v6", V6A, V6B],
  ] as const) {
    test(`UDP ${name}`, () => {
      const buf = new Uint8Array(1500);
      const n = buildUdpPacket(buf, 4, src, dst, 5353, 53, payload);
      expect(typeof n).toBe("number");
      const pkt = buf.subarray(4, 4 + (n as number));
      const v = new PacketView();
      expect(v.parse(buf, 4, n as number)).toBe("ok");
      expect(v.version).toBe(name === "v4" ? 4 : 6);
      expect(v.protocol).toBe(17);
      expect(v.srcPort).toBe(5353);
      expect(v.dstPort).toBe(53);
      expect(v.payloadLen).toBe(payload.length);
      expect(buf.subarray(v.payloadOff, v.payloadOff + v.payloadLen)).toEqual(payload);
      if (name === "v4") {
        expect(v.src4()).toBe(V4A);
        expect(v.dst4()).toBe(V4B);
        expect(verifyIPv4Checksum(buf, 4)).toBe(true);
        expect(refChecksum(pkt.subarray(0, 20))).toBe(0);
      } else {
        const out = new Uint8Array(16);
        v.copyDst(out);
        expect(Array.from(out)).toEqual(Array.from(V6B));
        expect(v.srcEquals(V6A)).toBe(true);
      }
      const hl = name === "v4" ? 20 : 40;
      expect(u16(pkt, hl + 6)).toBe(refTransportChecksum(pkt, 6));
      expect(verifyTransportChecksum(v)).toBe(true);
      pkt[pkt.length - 1] ^= 1;
      expect(verifyTransportChecksum(v)).toBe(false);
    });

    test(`TCP ${name}`, () => {
      const buf = new Uint8Array(1500);
      const n = buildTcpPacket(buf, 0, src, dst, 40000, 443, 0x01020304, 0x0a0b0c0d, TCP_SYN | TCP_ACK, 65535, payload) as number;
      const pkt = buf.subarray(0, n);
      const v = new PacketView();
      expect(v.parse(buf, 0, n)).toBe("ok");
      expect(v.isTcp).toBe(true);
      expect([v.srcPort, v.dstPort]).toEqual([40000, 443]);
      expect(v.tcpFlags).toBe(TCP_SYN | TCP_ACK);
      expect(v.payloadLen).toBe(payload.length);
      const hl = name === "v4" ? 20 : 40;
      expect(u16(pkt, hl + 16)).toBe(refTransportChecksum(pkt, 16));
      expect(verifyTransportChecksum(v)).toBe(true);
    });

    test(`ICMP echo ${name}`, () => {
      const buf = new Uint8Array(200);
      const n = buildIcmpEcho(buf, 0, src, dst, true, 0x1234, 7, payload) as number;
      const pkt = buf.subarray(0, n);
      const v = new PacketView();
      expect(v.parse(buf, 0, n)).toBe("ok");
      expect(v.isIcmp).toBe(true);
      expect(v.icmpType).toBe(name === "v4" ? 8 : 128);
      expect(v.icmpId).toBe(0x1234);
      const hl = name === "v4" ? 20 : 40;
      expect(u16(pkt, hl + 2)).toBe(refTransportChecksum(pkt, 2, name === "v4"));
      expect(verifyTransportChecksum(v)).toBe(true);
    });
  }

  test("builders refuse bad input with a reason", () => {
    const small = new Uint8Array(30);
    expect(buildUdpPacket(small, 0, V4A, V4B, 1, 2, new Uint8Array(10))).toBe("buffer-too-small");
    expect(buildUdpPacket(new Uint8Array(100), 0, V4A, V6B, 1, 2, new Uint8Array(0))).toBe("family-mismatch");
    expect(buildIcmpEcho(new Uint8Array(100), 0, new Uint8Array(5), V4B, true, 1, 1, new Uint8Array(0))).toBe("family-mismatch");
    expect(buildUdpPacket(new Uint8Array(70000), 0, V4A, V4B, 1, 2, new Uint8Array(65530))).toBe("payload-too-large");
  });
});

describe("parser rejects malformed packets with a reason", () => {
  const v = new PacketView();
  const udp4 = new Uint8Array(100);
  const n4 = buildUdpPacket(udp4, 0, V4A, V4B, 1, 2, new Uint8Array(10)) as number;
  const udp6 = new Uint8Array(100);
  const n6 = buildUdpPacket(udp6, 0, V6A, V6B, 1, 2, new Uint8Array(10)) as number;
  test("reasons", () => {
    expect(v.parse(new Uint8Array(0), 0, 0)).toBe("empty");
    expect(v.parse(new Uint8Array([0x50]), 0, 1)).toBe("bad-ip-version");
    expect(v.parse(udp4, 0, 19)).toBe("truncated-ipv4-header");
    expect(v.parse(udp4, 0, n4 - 1)).toBe("truncated-ipv4-packet");
    expect(v.parse(udp6, 0, 39)).toBe("truncated-ipv6-header");
    expect(v.parse(udp6, 0, n6 - 1)).toBe("truncated-ipv6-packet");
    const bad = udp4.slice();
    bad[0] = 0x44;
    expect(v.parse(bad, 0, n4)).toBe("bad-ipv4-ihl");
    const badLen = udp4.slice();
    badLen[20 + 5] = 7;
    expect(v.parse(badLen, 0, n4)).toBe("bad-udp-length");
    const badTotal = udp4.slice();
    badTotal[3] = 10;
    expect(v.parse(badTotal, 0, n4)).toBe("bad-ipv4-total-length");
  });
  test("trailing bytes beyond the declared length are ignored", () => {
    expect(v.parse(udp4, 0, 100)).toBe("ok");
    expect(v.len).toBe(n4);
    expect(verifyTransportChecksum(v)).toBe(true);
  });
});

describe("echoReplyInPlace", () => {
  for (const [name, a, b] of [
    ["v4", V4A, V4B],
    ["v6", parseIPv6("100::dead:1ce:1")!, parseIPv6("100::dead:1ce:2")!],
  ] as const) {
    test(`${name}: equals a freshly built reply`, () => {
      const payload = new Uint8Array(33).fill(5);
      const req = new Uint8Array(200);
      const n = buildIcmpEcho(req, 0, a, b, true, 99, 12, payload, 64) as number;
      const want = new Uint8Array(200);
      buildIcmpEcho(want, 0, b, a, false, 99, 12, payload, 64);
      const v = new PacketView();
      v.parse(req, 0, n);
      expect(echoReplyInPlace(v)).toBe(true);
      expect(Array.from(req.subarray(0, n))).toEqual(Array.from(want.subarray(0, n)));
      expect(echoReplyInPlace(v)).toBe(false); // now a reply
    });
  }
});
