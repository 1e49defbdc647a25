import { describe, expect, test } from "bun:test";
import {
  DESTINATION,
  DropCounters,
  PacketView,
  TCP_RST,
  TCP_SYN,
  setTcpFlags,
  SOURCE,
  TCP_ACK,
  buildIcmpEcho,
  buildTcpPacket,
  buildUdpPacket,
  natRewrite,
  natRewrite4,
  parseIPv4,
  parseIPv6,
  readU32,
  rewriteDestination4,
  rewriteSource,
  verifyIPv4Checksum,
  verifyTransportChecksum,
} from "../../src/ip/index.ts";
import { mulberry32 as rng } from "../support/prng.ts";
import { refChecksum, refTransportChecksum } from "./reference.ts";

/** 0x0000 and 0xFFFF are the two one's-complement zeros; either is a correct checksum field. */
function sameChecksum(a: number, b: number) {
  return a === b || (a === 0 && b === 0xffff) || (a === 0xffff && b === 0);
}

function u16(b: Uint8Array, o: number) {
  return (b[o] << 8) | b[o + 1];
}

function randomBytes(r: () => number, n: number) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (r() * 256) | 0;
  return b;
}

function randomPacket(r: () => number, buf: Uint8Array): { len: number; kind: string; v6: boolean } {
  const v6 = r() < 0.5;
  const src = v6 ? randomBytes(r, 16) : randomBytes(r, 4);
  const dst = v6 ? randomBytes(r, 16) : randomBytes(r, 4);
  const payload = randomBytes(r, (r() * 1400) | 0);
  const k = r();
  const sp = (r() * 65536) | 0;
  const dp = (r() * 65536) | 0;
  if (k < 0.4) return { len: buildUdpPacket(buf, 0, src, dst, sp, dp, payload) as number, kind: "udp", v6 };
  if (k < 0.8) return { len: buildTcpPacket(buf, 0, src, dst, sp, dp, (r() * 2 ** 32) >>> 0, 0, TCP_ACK, 1000, payload) as number, kind: "tcp", v6 };
  return { len: buildIcmpEcho(buf, 0, src, dst, r() < 0.5, sp, dp, payload) as number, kind: "icmp", v6 };
}

describe("incremental NAT checksums equal a full recompute (property, seeded)", () => {
  test("2000 random packets × random rewrites", () => {
    const r = rng(0xf12e);
    const buf = new Uint8Array(1500);
    const v = new PacketView();
    let udpZero = 0;
    for (let iter = 0; iter < 2000; iter++) {
      const { len, kind, v6 } = randomPacket(r, buf);
      const hl = v6 ? 40 : 20;
      const csumAt = hl + (kind === "tcp" ? 16 : kind === "udp" ? 6 : 2);
      // Sometimes an IPv4 UDP packet without checksum: it must stay without one.
      const zero = !v6 && kind === "udp" && r() < 0.2;
      if (zero) {
        buf[csumAt] = 0;
        buf[csumAt + 1] = 0;
        udpZero++;
      }
      expect(v.parse(buf, 0, len)).toBe("ok");
      const rewrites = 1 + ((r() * 3) | 0);
      for (let j = 0; j < rewrites; j++) {
        const side = r() < 0.5 ? SOURCE : DESTINATION;
        const port = r() < 0.7 ? (r() * 65536) | 0 : -1;
        if (!v6 && r() < 0.5) {
          expect(natRewrite4(v, side, (r() * 2 ** 32) >>> 0, port)).toBe("ok");
        } else {
          expect(natRewrite(v, side, randomBytes(r, v6 ? 16 : 4), 0, port)).toBe("ok");
        }
      }
      const pkt = buf.subarray(0, len);
      if (!v6) expect(refChecksum(pkt.subarray(0, 20))).toBe(0);
      const stored = u16(pkt, csumAt);
      if (zero) {
        expect(stored).toBe(0);
      } else {
        const want = refTransportChecksum(pkt, csumAt - hl, kind === "icmp" && !v6);
        if (!sameChecksum(stored, want)) throw new Error(`iter ${iter} ${kind} v6=${v6}: ${stored} vs ${want}`);
        if (kind === "udp") expect(stored).not.toBe(0);
      }
      expect(verifyTransportChecksum(v)).toBe(true);
    }
    expect(udpZero).toBeGreaterThan(10);
  });
});

describe("NAT helpers", () => {
  test("IPv4 UDP destination + port, fields update", () => {
    const buf = new Uint8Array(200);
    const n = buildUdpPacket(buf, 0, parseIPv4("100.64.0.2")!, parseIPv4("100.96.0.1")!, 50000, 53, new Uint8Array([1, 2, 3])) as number;
    const v = new PacketView();
    expect(v.parse(buf, 0, n)).toBe("ok");
    expect(rewriteDestination4(v, parseIPv4("192.0.2.10")!, 5353)).toBe("ok");
    expect(v.dstPort).toBe(5353);
    expect(readU32(buf, 16)).toBe(parseIPv4("192.0.2.10")!);
    expect(verifyIPv4Checksum(buf, 0)).toBe(true);
    expect(v.parse(buf, 0, n)).toBe("ok");
    expect(v.dstPort).toBe(5353);
    expect(verifyTransportChecksum(v)).toBe(true);
  });
  test("ICMPv6 echo: source address and id (ICMPv6 pseudo-header)", () => {
    const buf = new Uint8Array(200);
    const n = buildIcmpEcho(buf, 0, parseIPv6("fd00:2021:1111::5")!, parseIPv6("2001:db8::1")!, true, 77, 1, new Uint8Array(9)) as number;
    const v = new PacketView();
    v.parse(buf, 0, n);
    expect(rewriteSource(v, parseIPv6("2001:db8:ffff::2")!, 0, 4242)).toBe("ok");
    expect(v.icmpId).toBe(4242);
    expect(verifyTransportChecksum(v)).toBe(true);
  });
  test("refuses a port rewrite on a packet without ports, untouched", () => {
    const buf = new Uint8Array(100);
    const n = buildUdpPacket(buf, 0, 1, 2, 3, 4, new Uint8Array(0)) as number;
    buf[9] = 99; // some other protocol
    buf[10] = 0;
    buf[11] = 0;
    const v = new PacketView();
    v.parse(buf, 0, n);
    const before = buf.slice();
    expect(natRewrite4(v, SOURCE, 5, 80)).toBe("no-port-to-rewrite");
    expect(buf).toEqual(before);
    expect(natRewrite4(v, SOURCE, 5, -1)).toBe("ok");
    expect(readU32(buf, 12)).toBe(5);
    expect(new PacketView().parse(new Uint8Array(0), 0, 0)).toBe("empty");
    expect(natRewrite4(new PacketView(), SOURCE, 1, 1)).toBe("not-parsed");
  });
});

describe("TCP flag rewrite and drop counters", () => {
  test("setTcpFlags turns a segment into RST|ACK with a valid checksum", () => {
    const buf = new Uint8Array(200);
    const n = buildTcpPacket(buf, 0, parseIPv6("fd00::1")!, parseIPv6("fd00::2")!, 1, 2, 3, 4, TCP_ACK, 100, new Uint8Array(7)) as number;
    const v = new PacketView();
    v.parse(buf, 0, n);
    expect(setTcpFlags(v, TCP_RST | TCP_ACK)).toBe(true);
    expect(v.hasTcpFlag(TCP_RST)).toBe(true);
    expect(v.hasTcpFlag(TCP_SYN)).toBe(false);
    expect(refTransportChecksum(buf.subarray(0, n), 16)).toBe((buf[56] << 8) | buf[57]);
    const u = new Uint8Array(100);
    const m = buildUdpPacket(u, 0, 1, 2, 3, 4, new Uint8Array(0)) as number;
    v.parse(u, 0, m);
    expect(setTcpFlags(v, TCP_RST)).toBe(false);
  });
  test("drop counters count parse reasons", () => {
    const c = new DropCounters();
    const v = new PacketView();
    const r = v.parse(new Uint8Array([0x45]), 0, 1);
    if (r !== "ok") c.count(r);
    c.count("bad-ip-version", 2);
    expect(c.toJSON()).toEqual({ "truncated-ipv4-header": 1, "bad-ip-version": 2 });
    expect(c.total).toBe(3);
  });
});
