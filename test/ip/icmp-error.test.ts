import { describe, expect, test } from "bun:test";
import {
  DESTINATION,
  PacketView,
  SOURCE,
  TCP_ACK,
  buildIcmpError,
  buildIcmpEcho,
  buildTcpPacket,
  buildUdpPacket,
  icmpErrorMtu,
  natRewrite,
  parseIp,
  rewriteIcmpErrorQuote,
  verifyIPv4Checksum,
  verifyTransportChecksum,
  type IcmpErrorKind,
} from "../../src/ip/index.ts";
import { refChecksum, refTransportChecksum } from "./reference.ts";

function u16(b: Uint8Array, o: number) {
  return (b[o] << 8) | b[o + 1];
}

const fam = {
  v4: { client: parseIp("100.64.0.3")!, proxy: parseIp("100.96.0.9")!, real: parseIp("192.0.2.44")!, hl: 20, max: 576 },
  v6: { client: parseIp("fd00:2021:1111::3")!, proxy: parseIp("fd00:2021:1111:8000::9")!, real: parseIp("2001:db8::44")!, hl: 40, max: 1280 },
};

describe("building ICMP errors", () => {
  for (const [name, f] of Object.entries(fam)) {
    const codes: [IcmpErrorKind, number, number][] =
      name === "v4"
        ? [["admin-prohibited", 3, 13], ["net-unreachable", 3, 0], ["host-unreachable", 3, 1], ["packet-too-big", 3, 4]]
        : [["admin-prohibited", 1, 1], ["net-unreachable", 1, 0], ["host-unreachable", 1, 3], ["packet-too-big", 2, 0]];
    for (const [kind, type, code] of codes) {
      test(`${name} ${kind} about a 1400-byte UDP packet is capped at ${f.max} bytes`, () => {
        const orig = new Uint8Array(1500);
        const n = buildUdpPacket(orig, 0, f.client, f.proxy, 40001, 53, new Uint8Array(1400 - f.hl - 8).fill(0xab)) as number;
        const ov = new PacketView();
        expect(ov.parse(orig, 0, n)).toBe("ok");
        const out = new Uint8Array(1500);
        const m = buildIcmpError(out, 0, ov, kind, 1280) as number;
        expect(m).toBe(f.max);
        const pkt = out.subarray(0, m);
        const ev = new PacketView();
        expect(ev.parse(out, 0, m)).toBe("ok");
        expect([ev.icmpType, ev.icmpCode]).toEqual([type, code]);
        expect(ev.srcEquals(f.proxy)).toBe(true);
        expect(ev.dstEquals(f.client)).toBe(true);
        // The quote is the original's first bytes, verbatim.
        expect(pkt.subarray(f.hl + 8)).toEqual(orig.subarray(0, m - f.hl - 8));
        expect(u16(pkt, f.hl + 2)).toBe(refTransportChecksum(pkt, 2, name === "v4"));
        if (name === "v4") expect(refChecksum(pkt.subarray(0, 20))).toBe(0);
        // Parsing it back yields the original 5-tuple.
        expect(ev.isIcmpError).toBe(true);
        expect(ev.innerResult).toBe("ok");
        const inner = ev.inner;
        expect(inner.srcEquals(f.client)).toBe(true);
        expect(inner.dstEquals(f.proxy)).toBe(true);
        expect([inner.protocol, inner.srcPort, inner.dstPort]).toEqual([17, 40001, 53]);
        expect(icmpErrorMtu(ev)).toBe(kind === "packet-too-big" ? 1280 : -1);
      });
    }
    test(`${name} small original is quoted whole`, () => {
      const orig = new Uint8Array(200);
      const n = buildTcpPacket(orig, 0, f.client, f.proxy, 1234, 443, 1, 0, TCP_ACK, 100, new Uint8Array(3)) as number;
      const ov = new PacketView();
      ov.parse(orig, 0, n);
      const out = new Uint8Array(600);
      const m = buildIcmpError(out, 0, ov, "admin-prohibited") as number;
      expect(m).toBe(f.hl + 8 + n);
      const ev = new PacketView();
      expect(ev.parse(out, 0, m)).toBe("ok");
      expect(ev.inner.tcpFlags).toBe(TCP_ACK);
      expect(verifyTransportChecksum(ev)).toBe(true);
    });
  }
  test("no error about an error, a non-first fragment, multicast/broadcast, or into a small buffer", () => {
    const orig = new Uint8Array(200);
    const n = buildUdpPacket(orig, 0, fam.v4.client, fam.v4.proxy, 1, 2, new Uint8Array(4)) as number;
    const ov = new PacketView();
    ov.parse(orig, 0, n);
    const err = new Uint8Array(600);
    const m = buildIcmpError(err, 0, ov, "host-unreachable") as number;
    const ev = new PacketView();
    ev.parse(err, 0, m);
    expect(buildIcmpError(new Uint8Array(600), 0, ev, "host-unreachable")).toBe("no-error-for-icmp-error");
    expect(buildIcmpError(new Uint8Array(10), 0, ov, "host-unreachable")).toBe("buffer-too-small");
    for (const [src, dst, kind, want] of [
      ["0.0.0.0", "10.0.0.1", "host-unreachable", "no-error-for-multicast"],
      ["10.0.0.1", "224.0.0.251", "host-unreachable", "no-error-for-multicast"],
      ["10.0.0.1", "255.255.255.255", "admin-prohibited", "no-error-for-multicast"],
      ["::", "fd00::1", "host-unreachable", "no-error-for-multicast"],
      ["fd00::1", "ff02::fb", "host-unreachable", "no-error-for-multicast"],
      ["fd00::1", "ff02::fb", "packet-too-big", "number"],
    ] as const) {
      const p = new Uint8Array(200);
      const m2 = buildUdpPacket(p, 0, parseIp(src)!, parseIp(dst)!, 1, 2, new Uint8Array(4)) as number;
      const pv = new PacketView();
      pv.parse(p, 0, m2);
      const got = buildIcmpError(new Uint8Array(1500), 0, pv, kind, 1280);
      expect(want === "number" ? typeof got : got).toBe(want);
    }
    orig[7] = 1; // fragment offset 8
    ov.parse(orig, 0, n);
    expect(buildIcmpError(new Uint8Array(600), 0, ov, "host-unreachable")).toBe("no-error-for-fragment");
  });
});

describe("translating an ICMP error back through the gateway's DNS NAT", () => {
  // Client sends to the proxy IP; the gateway rewrites dst → real IP (and the source port, as a
  // NAT that had to pick a free port would). The resource's router answers with an error about
  // the rewritten packet. After translation the client must see exactly the error it would have got
  // had the proxy IP itself refused the original packet.
  for (const [name, f] of Object.entries(fam)) {
    for (const proto of ["udp", "tcp", "icmp"] as const) {
      test(`${name} ${proto}`, () => {
        const orig = new Uint8Array(1500);
        const payload = new Uint8Array(1000).fill(7);
        let n: number;
        if (proto === "udp") n = buildUdpPacket(orig, 0, f.client, f.proxy, 40001, 8080, payload) as number;
        else if (proto === "tcp") n = buildTcpPacket(orig, 0, f.client, f.proxy, 40001, 8080, 99, 0, TCP_ACK, 100, payload) as number;
        else n = buildIcmpEcho(orig, 0, f.client, f.proxy, true, 40001, 3, payload) as number;
        const ov = new PacketView();
        expect(ov.parse(orig, 0, n)).toBe("ok");
        const expected = new Uint8Array(1500);
        const em = buildIcmpError(expected, 0, ov, "host-unreachable") as number;

        // Gateway NAT out: dst → real, source port/id 40001 → 40005.
        const natted = orig.slice();
        const nv = new PacketView();
        nv.parse(natted, 0, n);
        expect(natRewrite(nv, DESTINATION, f.real, 0, -1)).toBe("ok");
        expect(natRewrite(nv, SOURCE, null, 0, 40005)).toBe("ok");
        const fromNet = new Uint8Array(1500);
        const fm = buildIcmpError(fromNet, 0, nv, "host-unreachable") as number;
        expect(fm).toBe(em);

        // Gateway reverse NAT in: outer src real → proxy; quoted dst real → proxy, quoted port back.
        const ev = new PacketView();
        expect(ev.parse(fromNet, 0, fm)).toBe("ok");
        expect(ev.innerResult).toBe("ok");
        expect(ev.inner.dstEquals(f.real)).toBe(true);
        expect(proto === "icmp" ? ev.inner.icmpId : ev.inner.srcPort).toBe(40005);
        expect(rewriteIcmpErrorQuote(ev, DESTINATION, f.proxy, 0, -1)).toBe("ok");
        expect(rewriteIcmpErrorQuote(ev, SOURCE, null, 0, 40001)).toBe("ok");
        expect(natRewrite(ev, SOURCE, f.proxy, 0, -1)).toBe("ok");
        expect(Array.from(fromNet.subarray(0, fm))).toEqual(Array.from(expected.subarray(0, em)));
        if (name === "v4") expect(verifyIPv4Checksum(fromNet, 0)).toBe(true);
        expect(verifyTransportChecksum(ev)).toBe(true);
      });
    }
  }
});
