// The Linux kernel as an independent oracle (needs root, as CI has): see kernel-helper.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";

const NS = `fzip-${Math.random().toString(36).slice(2, 8)}`;
let report: any;

function ip(...args: string[]) {
  return Bun.spawnSync(["ip", ...args]);
}

beforeAll(() => {
  const add = ip("netns", "add", NS);
  if (add.exitCode !== 0) throw new Error(`ip netns add: ${add.stderr.toString()}`);
  const r = Bun.spawnSync(["ip", "netns", "exec", NS, process.execPath, join(import.meta.dir, "kernel-helper.ts"), "fzip0"], {
    env: { ...process.env, FIREZONE_LOG: "off" },
  });
  if (r.exitCode !== 0) throw new Error(`helper failed: ${r.stderr.toString()}`);
  report = JSON.parse(r.stdout.toString());
});

afterAll(() => {
  ip("netns", "del", NS);
});

describe("kernel interop over a TUN device in a private namespace", () => {
  test("the kernel answers our ICMP and ICMPv6 echo requests", () => {
    expect(report.echo4).toEqual({ id: 0x4242, payloadEqual: true });
    expect(report.echo6).toEqual({ id: 0x4242, payloadEqual: true });
  });
  test("UDP: corrupted checksums are dropped, NAT-rewritten and checksum-less (v4) packets delivered", () => {
    expect(report.udpDelivered).toEqual(["10.77.0.2:40001 nat-v4", "10.77.0.2:40002 nocsum-v4", "fd77::2:40001 nat-v6"]);
  });
  test("the kernel's ICMP port-unreachable errors parse down to our original 5-tuple", () => {
    expect(report.unreach4).toEqual({ type: 3, code: 3, innerResult: "ok", innerSrcIsOurs: true, innerPorts: [45454, 9], innerProtocol: 17 });
    expect(report.unreach6).toEqual({ type: 1, code: 4, innerResult: "ok", innerSrcIsOurs: true, innerPorts: [45454, 9], innerProtocol: 17 });
  });
  test("TCP SYN gets SYN-ACK with options from a listener, RST-ACK from a closed port", () => {
    expect(report.synack4.flags).toBe(0x12);
    expect(report.synack4.headerBytes).toBeGreaterThan(20); // MSS, SACK, timestamps, window scale
    expect(report.synack6.flags).toBe(0x12);
    expect(report.rst4.flags).toBe(0x14);
    expect(report.rst6.flags).toBe(0x14);
  });
  test("kernel-made fragments: first carries the UDP header, the rest only their offset", () => {
    for (const [name, headerLen] of [
      ["frag4", 20],
      ["frag6", 48], // 40-byte header + 8-byte Fragment extension header
    ] as const) {
      const f = report[name];
      expect(f.length).toBeGreaterThanOrEqual(3);
      expect(f[0]).toEqual({ offset: 0, more: true, hasTransport: true, dstPort: 9, protocol: 17, headerLen });
      expect(f[1].offset).toBeGreaterThan(0);
      expect(f[1].hasTransport).toBe(false);
      expect(f[1].protocol).toBe(17);
      expect(f[f.length - 1].more).toBe(false);
    }
  });
  test("the kernel accepts our ICMP 'fragmentation needed' / 'packet too big' and lowers its path MTU", () => {
    expect(report.pmtu4).toBe(1200);
    expect(report.pmtu6).toBe(1300);
  });
  test("every packet the kernel wrote parses and every checksum verifies", () => {
    expect(report.seen.length).toBeGreaterThanOrEqual(8);
    for (const s of report.seen) {
      expect(s.result).toBe("ok");
      expect(s.transportChecksumOk).toBe(true);
      if (s.ipv4ChecksumOk !== null) expect(s.ipv4ChecksumOk).toBe(true);
    }
  });
});
