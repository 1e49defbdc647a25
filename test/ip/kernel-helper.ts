// Runs INSIDE a network namespace made by kernel.test.ts (`ip netns exec`). Opens a TUN device and
// uses the Linux kernel as an independent oracle for our packets: the kernel answers our echo
// requests, delivers our UDP packets (including NAT-rewritten ones) to a socket only if their
// checksums are right, and sends us ICMP errors and TCP SYN-ACK/RST segments we then parse.
// A TUN device without TUNSETOFFLOAD gets fully checksummed packets, so every packet the kernel
// writes to us must also verify. Prints one JSON report on stdout.
import { libc, pinned, errno } from "../../ffi/libc.ts";
import { closeTun, openTun } from "../../ffi/tun.ts";
import {
  PacketView,
  TCP_SYN,
  buildIcmpEcho,
  buildIcmpError,
  buildTcpPacket,
  buildUdpPacket,
  formatIp,
  parseIPv4,
  parseIPv6,
  rewriteDestination,
  rewriteDestination4,
  rewriteSource,
  rewriteSource4,
  verifyIPv4Checksum,
  verifyTransportChecksum,
} from "../../src/ip/index.ts";

const EAGAIN = 11;
const TUN = process.argv[2] ?? "fzip0";

function sh(cmd: string[]) {
  const r = Bun.spawnSync(cmd);
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
}

const mem = { rx: pinned(65536), tx: pinned(4096) };
const tun = openTun({ name: TUN, nonBlocking: true });
sh(["ip", "link", "set", "lo", "up"]);
sh(["ip", "addr", "add", "10.77.0.1/24", "dev", TUN]);
sh(["ip", "-6", "addr", "add", "fd77::1/64", "dev", TUN, "nodad"]);
sh(["ip", "link", "set", TUN, "up"]);

interface Seen {
  result: string;
  desc: string;
  ipv4ChecksumOk: boolean | null;
  transportChecksumOk: boolean;
}
const seen: Seen[] = [];
const view = new PacketView();

function send(len: number) {
  const n = libc.write(tun.fd, mem.tx, len);
  if (n !== len) throw new Error(`TUN write ${n} errno ${errno()}`);
}

function describe(v: PacketView): string {
  const a = formatIp(v.buf, v.srcOff, v.addrLen === 4 ? 4 : 16);
  const b = formatIp(v.buf, v.dstOff, v.addrLen === 4 ? 4 : 16);
  return `v${v.version} ${a} > ${b} proto ${v.protocol} ports ${v.srcPort}/${v.dstPort} icmp ${v.icmpType}/${v.icmpCode}`;
}

/**
 * Reads packets until `want` matches one (all packets are recorded); gives up after a bound.
 * `resend` runs again every ~0.5 s of silence: right after link-up the kernel may drop a first
 * packet (seen once in 20 runs for ICMPv6), and real senders retry too.
 */
async function receive<T>(want: (v: PacketView, bytes: Uint8Array) => T | undefined, resend?: () => void): Promise<T | null> {
  resend?.();
  let idle = 0;
  for (let tries = 0; tries < 1000; tries++) {
    const n = libc.read(tun.fd, mem.rx, mem.rx.length);
    if (n < 0) {
      if (errno() !== EAGAIN) throw new Error(`TUN read errno ${errno()}`);
      if (++idle % 100 === 0) resend?.();
      await Bun.sleep(5);
      continue;
    }
    const r = view.parse(mem.rx, 0, n);
    seen.push({
      result: r,
      desc: r === "ok" ? describe(view) : "",
      ipv4ChecksumOk: r === "ok" && view.version === 4 ? verifyIPv4Checksum(mem.rx, 0) : null,
      transportChecksumOk: r === "ok" ? verifyTransportChecksum(view) : false,
    });
    if (r !== "ok") continue;
    const got = want(view, mem.rx.slice(0, n));
    if (got !== undefined) return got;
  }
  return null;
}

const report: Record<string, unknown> = {};
const C4 = parseIPv4("10.77.0.2")!;
const K4 = parseIPv4("10.77.0.1")!;
const C6 = parseIPv6("fd77::2")!;
const K6 = parseIPv6("fd77::1")!;
const payload = new TextEncoder().encode("firezone ip layer, kernel interop");

try {
  // Echo: the kernel answers only if our ICMP checksum (and ICMPv6 pseudo-header) is right.
  for (const [name, src, dst, replyType] of [
    ["echo4", C4, K4, 0],
    ["echo6", C6, K6, 129],
  ] as const) {
    report[name] = await receive((v, b) =>
      v.icmpType === replyType && v.icmpId === 0x4242
        ? { id: v.icmpId, payloadEqual: b.subarray(v.payloadOff, v.payloadOff + v.payloadLen).every((x, i) => x === payload[i]) && v.payloadLen === payload.length }
        : undefined,
      () => send(buildIcmpEcho(mem.tx, 0, src, dst, true, 0x4242, 7, payload) as number),
    );
  }

  // UDP delivery: a corrupted packet first, then NAT-rewritten and zero-checksum ones. The socket
  // must see exactly the valid ones, in order.
  const got: string[] = [];
  let resolveGot: () => void = () => {};
  const sock4 = await Bun.udpSocket({
    hostname: "10.77.0.1",
    port: 0,
    socket: { data: (_s, data, port, address) => { got.push(`${address}:${port} ${new TextDecoder().decode(data)}`); resolveGot(); } },
  });
  const sock6 = await Bun.udpSocket({
    hostname: "fd77::1",
    port: 0,
    socket: { data: (_s, data, port, address) => { got.push(`${address}:${port} ${new TextDecoder().decode(data)}`); resolveGot(); } },
  });
  const enc = (s: string) => new TextEncoder().encode(s);
  let n = buildUdpPacket(mem.tx, 0, C4, K4, 40000, sock4.port, enc("bad-v4")) as number;
  mem.tx[n - 1] ^= 0xff;
  send(n);
  n = buildUdpPacket(mem.tx, 0, parseIPv4("192.0.2.9")!, parseIPv4("198.51.100.1")!, 1111, 2222, enc("nat-v4")) as number;
  view.parse(mem.tx, 0, n);
  rewriteSource4(view, C4, 40001);
  rewriteDestination4(view, K4, sock4.port);
  send(n);
  n = buildUdpPacket(mem.tx, 0, C4, K4, 40002, sock4.port, enc("nocsum-v4")) as number;
  mem.tx[26] = 0;
  mem.tx[27] = 0;
  send(n);
  n = buildUdpPacket(mem.tx, 0, C6, K6, 40000, sock6.port, enc("bad-v6")) as number;
  mem.tx[n - 1] ^= 0xff;
  send(n);
  n = buildUdpPacket(mem.tx, 0, parseIPv6("2001:db8::9")!, parseIPv6("2001:db8:1::1")!, 1111, 2222, enc("nat-v6")) as number;
  view.parse(mem.tx, 0, n);
  rewriteSource(view, C6, 0, 40001);
  rewriteDestination(view, K6, 0, sock6.port);
  send(n);
  for (let i = 0; i < 400 && got.length < 3; i++) {
    await Promise.race([new Promise<void>((r) => (resolveGot = r)), Bun.sleep(10)]);
  }
  report.udpDelivered = got;
  sock4.close();
  sock6.close();

  // Closed UDP port: the kernel's ICMP port unreachable quotes our packet.
  for (const [name, src, dst] of [
    ["unreach4", C4, K4],
    ["unreach6", C6, K6],
  ] as const) {
    report[name] = await receive((v) =>
      v.isIcmpError
        ? {
            type: v.icmpType,
            code: v.icmpCode,
            innerResult: v.innerResult,
            innerSrcIsOurs: v.inner.srcEquals(src instanceof Uint8Array ? src : u32b(src)),
            innerPorts: [v.inner.srcPort, v.inner.dstPort],
            innerProtocol: v.inner.protocol,
          }
        : undefined,
      () => send(buildUdpPacket(mem.tx, 0, src, dst, 45454, 9, payload) as number),
    );
  }

  // TCP: SYN to a listener gets SYN-ACK (with the kernel's options), to a closed port RST-ACK.
  const server4 = Bun.listen({ hostname: "10.77.0.1", port: 0, socket: { data() {} } });
  const server6 = Bun.listen({ hostname: "fd77::1", port: 0, socket: { data() {} } });
  for (const [name, src, dst, port] of [
    ["synack4", C4, K4, server4.port],
    ["rst4", C4, K4, 9],
    ["synack6", C6, K6, server6.port],
    ["rst6", C6, K6, 9],
  ] as const) {
    // Built for other addresses and ports, then NAT-rewritten: the kernel answers only if the
    // incrementally updated TCP checksum is right.
    const v4 = !(src instanceof Uint8Array);
    const syn = () => {
      const n = buildTcpPacket(mem.tx, 0, v4 ? parseIPv4("192.0.2.1")! : parseIPv6("2001:db8::1")!, v4 ? parseIPv4("198.51.100.1")! : parseIPv6("2001:db8::2")!, 1, 2, 1000, 0, TCP_SYN, 64240, new Uint8Array(0)) as number;
      view.parse(mem.tx, 0, n);
      if (v4) {
        rewriteSource4(view, src as number, 41000);
        rewriteDestination4(view, dst as number, port);
      } else {
        rewriteSource(view, src as Uint8Array, 0, 41000);
        rewriteDestination(view, dst as Uint8Array, 0, port);
      }
      send(n);
    };
    report[name] = await receive(
      (v) => (v.isTcp && v.dstPort === 41000 ? { flags: v.tcpFlags, srcPort: v.srcPort, headerBytes: v.payloadOff - v.l4Off } : undefined),
      syn,
    );
  }
  server4.stop(true);
  server6.stop(true);

  // Fragments: a 3000-byte datagram through a 1500-byte MTU is fragmented by the kernel, for
  // IPv6 with a Fragment extension header the parser has to step over.
  for (const [name, dst, local] of [
    ["frag4", "10.77.0.2", "10.77.0.1"],
    ["frag6", "fd77::2", "fd77::1"],
  ] as const) {
    const sender = await Bun.udpSocket({ hostname: local });
    sender.send(new Uint8Array(3000).fill(1), 9, dst);
    const frags: unknown[] = [];
    await receive((v) => {
      if (!v.isFragment || !formatIp(v.buf, v.dstOff, v.addrLen === 4 ? 4 : 16).startsWith(dst)) return undefined;
      frags.push({ offset: v.fragmentOffset, more: v.moreFragments, hasTransport: v.hasTransport, dstPort: v.dstPort, protocol: v.protocol, headerLen: v.headerLen });
      return v.moreFragments ? undefined : true;
    });
    report[name] = frags;
    sender.close();
  }

  // Our ICMP errors, judged by the kernel: a "fragmentation needed" / "packet too big" about a
  // datagram the kernel sent makes it lower its path MTU to that destination, which it only does
  // after checking our ICMP checksum and matching the quoted packet to its socket.
  const errView = new PacketView();
  for (const [name, dst, local, mtu] of [
    ["pmtu4", "10.77.0.2", "10.77.0.1", 1200],
    ["pmtu6", "fd77::2", "fd77::1", 1300],
  ] as const) {
    const sock = await Bun.udpSocket({ hostname: local });
    const made = await receive(
      (v, b) => {
        if (!v.isUdp || v.dstPort !== 4242) return undefined;
        errView.parse(b, 0, b.length);
        return buildIcmpError(mem.tx, 0, errView, "packet-too-big", mtu);
      },
      () => sock.send(new Uint8Array(1400).fill(2), 4242, dst),
    );
    if (typeof made !== "number") throw new Error(`${name}: no datagram or no error: ${made}`);
    send(made);
    let route = "";
    for (let i = 0; i < 200; i++) {
      route = Bun.spawnSync(["ip", "route", "get", dst]).stdout.toString();
      if (route.includes(`mtu ${mtu}`)) break;
      await Bun.sleep(5);
    }
    report[name] = route.includes(`mtu ${mtu}`) ? mtu : route.trim();
    sock.close();
  }
} finally {
  closeTun(tun);
}

function u32b(a: number) {
  return new Uint8Array([a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255]);
}

report.seen = seen;
process.stdout.write(JSON.stringify(report));
process.exit(0);
