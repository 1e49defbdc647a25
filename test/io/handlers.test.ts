/**
 * The data-plane handlers and the pure pieces under them: ICMP echo answered in place with
 * checksums a fresh parse verifies (v4, v6), forwarding with counted drops, sockaddr bytes,
 * batch bookkeeping.
 */
import { describe, expect, test } from "bun:test";
import {
  buildIcmpEcho,
  buildUdpPacket,
  ICMP_ECHO_REPLY,
  ICMPV6_ECHO_REPLY,
  parseIp,
  PacketView,
  verifyIPv4Checksum,
  verifyTransportChecksum,
} from "../../src/ip/index.ts";
import { ForwardHandler } from "../../src/io/handlers/forward.ts";
import { IcmpEchoResponder } from "../../src/io/handlers/icmp-echo.ts";
import { ACTION_DROP, ACTION_TO_NET, ACTION_TO_TUN, PacketBatch } from "../../src/io/packet-batch.ts";
import { decodeSockaddr, encodeSockaddr } from "../../src/io/sockaddr.ts";
import { AF_INET, AF_INET6 } from "../../ffi/libc.ts";
import type { UdpTransport } from "../../src/io/udp-transport.ts";

function echo(src: string, dst: string, id: number, seq: number, payloadLen = 56): Uint8Array {
  const out = new Uint8Array(2000);
  const n = buildIcmpEcho(out, 0, parseIp(src)!, parseIp(dst)!, true, id, seq, new Uint8Array(payloadLen).fill(0xab));
  if (typeof n === "string") throw new Error(n);
  return out.slice(0, n);
}

describe("IcmpEchoResponder", () => {
  test.each([
    ["10.77.0.1", "10.77.1.5", ICMP_ECHO_REPLY],
    ["fd77::1", "fd77:1::5", ICMPV6_ECHO_REPLY],
  ])("%s → %s: reply in place, addresses swapped, checksums valid", (src, dst, replyType) => {
    const b = new PacketBatch(4);
    b.push(echo(src, dst, 0x1234, 7));
    b.push(new Uint8Array([0x45, 0, 0, 20])); // truncated: dropped, counted
    const h = new IcmpEchoResponder();
    h.fromTun(b);
    expect([...b.action.subarray(0, 2)]).toEqual([ACTION_TO_TUN, ACTION_DROP]);
    expect(h.replies).toBe(1);
    expect(h.dropped).toBe(1);
    const v = new PacketView();
    expect(v.parse(b.data, b.start(0), b.len[0]!)).toBe("ok");
    expect(v.icmpType).toBe(replyType);
    expect(v.icmpId).toBe(0x1234);
    expect([...b.data.subarray(v.srcOff, v.srcOff + v.addrLen)]).toEqual([...parseIp(dst)!]);
    expect([...b.data.subarray(v.dstOff, v.dstOff + v.addrLen)]).toEqual([...parseIp(src)!]);
    expect(verifyTransportChecksum(v)).toBe(true);
    if (v.version === 4) expect(verifyIPv4Checksum(b.data, b.start(0))).toBe(true);
  });

  test("other traffic and anything from the network is dropped", () => {
    const b = new PacketBatch(4);
    const udp = new Uint8Array(100);
    const n = buildUdpPacket(udp, 0, parseIp("10.0.0.1")!, parseIp("10.0.0.2")!, 1, 2, new Uint8Array(10));
    b.push(udp.subarray(0, n as number));
    const h = new IcmpEchoResponder();
    h.fromTun(b);
    h.fromNet(b);
    expect(b.action[0]).toBe(ACTION_DROP);
    expect(h.drops()).toBe(2);
  });
});

describe("ForwardHandler", () => {
  const fakeUdp = { encodeAddress: (ep, out, off) => encodeSockaddr(ep, AF_INET, out, off) } as Pick<UdpTransport, "encodeAddress"> as UdpTransport;

  test("valid IP goes to the peer's sockaddr, garbage is a counted drop", () => {
    const h = new ForwardHandler(fakeUdp, { ip: "10.99.0.2", port: 51820 });
    const b = new PacketBatch(4);
    b.push(echo("10.0.0.1", "10.0.0.2", 1, 1));
    b.push(crypto.getRandomValues(new Uint8Array(3)));
    h.fromTun(b);
    expect([...b.action.subarray(0, 2)]).toEqual([ACTION_TO_NET, ACTION_DROP]);
    expect(decodeSockaddr(b.addr, 0)).toEqual({ ip: "10.99.0.2", port: 51820 });
    h.fromNet(b);
    expect([...b.action.subarray(0, 2)]).toEqual([ACTION_TO_TUN, ACTION_DROP]);
    expect(h.drops()).toBe(2);
  });

  test("100k random packets: only drops, never a throw", () => {
    const h = new ForwardHandler(fakeUdp, { ip: "10.99.0.2", port: 1 });
    const b = new PacketBatch(64, 256, 16);
    const junk = crypto.getRandomValues(new Uint8Array(240 * 64));
    let offset = 0;
    for (let round = 0; round < 100_000 / 64; round++) {
      b.count = 0;
      for (let i = 0; i < 64; i++) {
        const len = (junk[(offset + i) % junk.length]! % 200) + 1;
        b.push(junk.subarray((offset + i * 7) % 1000, ((offset + i * 7) % 1000) + len));
        if (i % 3 === 0) b.data[b.start(i)] = 0x45; // some look like IPv4
      }
      offset = (offset + 13) % 10000;
      h.fromTun(b);
      h.fromNet(b);
    }
    expect(h.drops()).toBeGreaterThan(0);
  });
});

describe("sockaddr", () => {
  test("IPv4, IPv6 and v4-mapped round-trip with network-order ports", () => {
    const buf = new Uint8Array(28);
    expect(encodeSockaddr({ ip: "10.1.2.3", port: 0x1234 }, AF_INET, buf)).toBe(16);
    expect([...buf.subarray(0, 8)]).toEqual([2, 0, 0x12, 0x34, 10, 1, 2, 3]);
    expect(decodeSockaddr(buf)).toEqual({ ip: "10.1.2.3", port: 0x1234 });
    expect(encodeSockaddr({ ip: "fd00::9", port: 51820 }, AF_INET6, buf)).toBe(28);
    expect(decodeSockaddr(buf)).toEqual({ ip: "fd00::9", port: 51820 });
    encodeSockaddr({ ip: "192.0.2.1", port: 3478 }, AF_INET6, buf);
    expect([...buf.subarray(18, 24)]).toEqual([0xff, 0xff, 192, 0, 2, 1]);
    expect(decodeSockaddr(buf)).toEqual({ ip: "192.0.2.1", port: 3478 });
    expect(() => encodeSockaddr({ ip: "fd00::1", port: 1 }, AF_INET, buf)).toThrow(/IPv6 address fd00::1 on an IPv4 socket/);
    expect(() => encodeSockaddr({ ip: "1.2.3.4", port: 70000 }, AF_INET, buf)).toThrow(/invalid port/);
    expect(decodeSockaddr(new Uint8Array(28))).toBeNull();
  });
});

describe("PacketBatch", () => {
  test("slots are pinned views with headroom; push refuses what does not fit", () => {
    const b = new PacketBatch(2, 128, 32);
    expect(b.data.buffer.byteLength).toBe(256);
    expect(b.push(new Uint8Array(96).fill(1))).toBe(0);
    expect(b.start(0)).toBe(32);
    expect(b.push(new Uint8Array(97))).toBe(-1);
    expect(b.push(new Uint8Array(10))).toBe(1);
    expect(b.push(new Uint8Array(10))).toBe(-1);
    expect(b.packet(0)).toEqual(new Uint8Array(96).fill(1));
    expect(() => new PacketBatch(1, 32, 32)).toThrow(RangeError);
  });
});
