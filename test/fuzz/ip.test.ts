// Fuzz: mutated valid packets through every parser and rewriter of src/ip. The only acceptable
// outcomes are "ok" with every offset inside the packet, or a reason; never an exception, never a
// write outside the packet's bytes. Seeded, so a failure names its iteration and replays exactly.
import { expect, test } from "bun:test";
import {
  CidrTable,
  DESTINATION,
  IP_DROP_REASONS,
  PacketView,
  SOURCE,
  TCP_ACK,
  buildIcmpEcho,
  buildIcmpError,
  buildTcpPacket,
  buildUdpPacket,
  decodeP2pEvent,
  echoReplyInPlace,
  setTcpFlags,
  encodeP2pEvent,
  isP2pControl,
  natRewrite,
  natRewrite4,
  parseCidr,
  parseIp,
  rewriteIcmpErrorQuote,
  verifyIPv4Checksum,
  verifyTransportChecksum,
  type IcmpErrorKind,
} from "../../src/ip/index.ts";
import { mulberry32 as rng } from "../support/prng.ts";

const ITERATIONS = Number(process.env.FUZZ_IP_ITERATIONS ?? 120_000);
const SEED = Number(process.env.FUZZ_IP_SEED ?? 0x1f2e3d);
const GUARD = 16;

function corpus(): Uint8Array[] {
  const r = rng(7);
  const out: Uint8Array[] = [];
  const buf = new Uint8Array(2000);
  const add = (n: number | string) => {
    if (typeof n !== "number") throw new Error(`corpus build failed: ${n}`);
    out.push(buf.slice(0, n));
  };
  const v4a = parseIp("100.64.0.1")!;
  const v4b = parseIp("10.1.2.3")!;
  const v6a = parseIp("fd00:2021:1111::1")!;
  const v6b = parseIp("2001:db8::3")!;
  for (const [a, b] of [
    [v4a, v4b],
    [v6a, v6b],
  ]) {
    for (const size of [0, 1, 13, 200]) {
      const p = Uint8Array.from({ length: size }, () => (r() * 256) | 0);
      add(buildUdpPacket(buf, 0, a, b, 5000, 53, p));
      add(buildTcpPacket(buf, 0, a, b, 40000, 443, 1, 2, TCP_ACK, 100, p));
      add(buildIcmpEcho(buf, 0, a, b, true, 9, 1, p));
    }
  }
  // ICMP errors quoting each kind of packet.
  const v = new PacketView();
  for (const pkt of out.slice()) {
    v.parse(pkt, 0, pkt.length);
    for (const kind of ["admin-prohibited", "packet-too-big"] as IcmpErrorKind[]) add(buildIcmpError(buf, 0, v, kind, 1280));
  }
  // IPv6 with an extension header chain (destination options + fragment header).
  const u = out[3 * 4 * 1]; // first v6 UDP
  const ext = new Uint8Array(u.length + 16);
  ext.set(u.subarray(0, 40));
  ext.set([44, 0, 1, 4, 0, 0, 0, 0, 17, 0, 0, 1, 0, 0, 0, 1], 40);
  ext.set(u.subarray(40), 56);
  ext[6] = 60;
  ext[5] += 16;
  out.push(ext);
  // p2p control packets.
  add(encodeP2pEvent(buf, 0, { type: "Goodbye" }));
  add(encodeP2pEvent(buf, 0, { type: "DomainStatus", resource: "00000000-0000-0000-0000-000000000065", domain: "example.com", status: "Active" }));
  add(encodeP2pEvent(buf, 0, { type: "AssignedIps", resource: "00000000-0000-0000-0000-000000000065", domain: "example.com", proxyIps: ["100.96.0.1", "100.96.0.2", "100.96.0.3", "100.96.0.4"] }));
  return out;
}

function mutate(r: () => number, seed: Uint8Array): Uint8Array {
  let p = seed.slice();
  const rounds = 1 + ((r() * 4) | 0);
  for (let k = 0; k < rounds; k++) {
    const m = r();
    if (p.length === 0) p = new Uint8Array([(r() * 256) | 0]);
    const at = (r() * p.length) | 0;
    if (m < 0.3) p[at] ^= 1 << ((r() * 8) | 0);
    else if (m < 0.45) p[at] = [0, 0xff, 0x80, 0x7f, (r() * 256) | 0][(r() * 5) | 0];
    else if (m < 0.6) p = p.slice(0, (r() * p.length) | 0); // truncate
    else if (m < 0.7) {
      const q = new Uint8Array(p.length + 1 + ((r() * 64) | 0));
      q.set(p);
      for (let i = p.length; i < q.length; i++) q[i] = (r() * 256) | 0;
      p = q;
    } else {
      // Hit the fields parsers trust most: version/IHL, lengths, next header, transport lengths,
      // ICMP type, and the same fields of a quoted packet.
      const hot = [0, 2, 3, 4, 5, 6, 9, 20, 24, 25, 26, 32, 40, 44, 45, 46, 48, 52, 60, 68, 69, 72, 88, 89, 94];
      const h = hot[(r() * hot.length) | 0];
      if (h < p.length) p[h] = (r() * 256) | 0;
    }
  }
  return p;
}

test(`${ITERATIONS} mutated packets through every parser never throw or write out of bounds`, () => {
  const r = rng(SEED);
  const seeds = corpus();
  const v = new PacketView();
  const errOut = new Uint8Array(2000);
  const reasons = new Map<string, number>();
  const valid = new Set<string>(["ok", ...IP_DROP_REASONS]);
  const area = new Uint8Array(GUARD + 2100 + GUARD);
  const newAddr = new Uint8Array(16).fill(0x5a);
  const table = new CidrTable<number>();
  for (const [k, c] of ["0.0.0.0/0", "10.0.0.0/8", "100.64.0.0/11", "::/0", "fd00::/8", "2001:db8::/32"].entries()) {
    const p = parseCidr(c);
    if (p.ok) table.insert(p.cidr, k);
  }
  for (let i = 0; i < ITERATIONS; i++) {
    const pkt = mutate(r, seeds[(r() * seeds.length) | 0]);
    area.fill(0xee);
    area.set(pkt, GUARD);
    // Parse with a length that may overshoot the bytes given (parse must clamp to the buffer).
    const len = r() < 0.05 ? pkt.length + 10 : pkt.length;
    const buf = area.subarray(0, GUARD + pkt.length);
    let res: string;
    try {
      res = v.parse(buf, GUARD, len);
      if (!valid.has(res)) throw new Error(`unknown reason ${res}`);
      reasons.set(res, (reasons.get(res) ?? 0) + 1);
      if (res === "ok") {
        const end = v.off + v.len;
        if (end > GUARD + pkt.length || v.l4Off > end || v.payloadOff + v.payloadLen > end || v.dstOff + v.addrLen > end)
          throw new Error("offsets outside the packet");
        if (v.checksumOff >= 0 && v.checksumOff + 2 > end) throw new Error("checksum field outside the packet");
        if (v.isIcmpError && v.innerResult === "ok") {
          const iv = v.inner;
          if (iv.off + iv.len > end || iv.l4Off > end) throw new Error("inner offsets outside the packet");
          if (!valid.has(v.innerResult)) throw new Error("unknown inner reason");
        }
        if (v.version === 4) verifyIPv4Checksum(buf, v.off);
        verifyTransportChecksum(v);
        const made = buildIcmpError(errOut, 0, v, r() < 0.5 ? "host-unreachable" : "packet-too-big", 1280);
        if (typeof made === "number") {
          const ev = new PacketView();
          if (ev.parse(errOut, 0, made) !== "ok" || !verifyTransportChecksum(ev)) throw new Error("built ICMP error does not verify");
        }
        const port = r() < 0.5 ? (r() * 65536) | 0 : -1;
        const side = r() < 0.5 ? SOURCE : DESTINATION;
        if (v.isIcmpError) rewriteIcmpErrorQuote(v, side, newAddr, 0, port);
        table.lookup(v.buf, v.dstOff, v.addrLen);
        if (v.isTcp) setTcpFlags(v, (r() * 256) | 0);
        echoReplyInPlace(v);
        if (v.version === 4 && r() < 0.5) natRewrite4(v, side, 0x0a0b0c0d, port);
        else natRewrite(v, side, newAddr, 0, port);
      }
      if (isP2pControl(buf, GUARD, pkt.length)) decodeP2pEvent(buf, GUARD, pkt.length);
    } catch (e) {
      throw new Error(`iteration ${i} (seed ${SEED}): ${(e as Error).message}`);
    }
    for (let g = 0; g < GUARD; g++) {
      if (area[g] !== 0xee || area[GUARD + pkt.length + g] !== 0xee) throw new Error(`iteration ${i}: write outside the packet`);
    }
  }
  if (process.env.FUZZ_IP_VERBOSE) console.error(Object.fromEntries(reasons));
  // The mutations must actually exercise both outcomes and many reasons.
  expect(reasons.get("ok")! > ITERATIONS / 10).toBe(true);
  expect(reasons.size).toBeGreaterThan(12);
});

test("mutated address and CIDR text never throws", () => {
  const r = rng(SEED ^ 0x55);
  const texts = ["10.0.0.1", "fd00:2021:1111::/107", "::ffff:1.2.3.4", "100.64.0.0/11", "2001:db8::1/128", "::"];
  const alphabet = "0123456789abcdef:./xX% ";
  for (let i = 0; i < 50_000; i++) {
    const t = texts[(r() * texts.length) | 0].split("");
    const n = 1 + ((r() * 3) | 0);
    for (let k = 0; k < n; k++) {
      const at = (r() * (t.length + 1)) | 0;
      const m = r();
      if (m < 0.4) t.splice(at, 1);
      else if (m < 0.8) t.splice(at, 0, alphabet[(r() * alphabet.length) | 0]);
      else t[at] = alphabet[(r() * alphabet.length) | 0];
    }
    const s = t.join("");
    parseIp(s);
    const c = parseCidr(s);
    if (c.ok && c.cidr.prefix > (c.cidr.family === 4 ? 32 : 128)) throw new Error(`bad prefix from ${s}`);
  }
});
