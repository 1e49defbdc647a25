// Parse + NAT rewrite throughput for 1420-byte packets, against a naive baseline measured in the
// same run: the same parse and field writes, then full checksum recomputation (what NAT without
// RFC 1624 would do). Parse alone is shown for scale. Usage: bun bench/ip.ts [--seconds N]
// (default 1 s per measurement, ~15 s total).
import {
  DESTINATION,
  PacketView,
  TCP_ACK,
  buildTcpPacket,
  buildUdpPacket,
  fillIPv4Checksum,
  fillTransportChecksum,
  natRewrite,
  natRewrite4,
  parseIp,
  parseIPv4,
  verifyIPv4Checksum,
  verifyTransportChecksum,
} from "../src/ip/index.ts";

const secondsArg = process.argv.indexOf("--seconds");
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 1;
const PACKET = 1420;
const POOL = 64;

interface Case {
  name: string;
  v6: boolean;
  tcp: boolean;
}
const cases: Case[] = [
  { name: "TCP/IPv4", v6: false, tcp: true },
  { name: "UDP/IPv4", v6: false, tcp: false },
  { name: "TCP/IPv6", v6: true, tcp: true },
  { name: "UDP/IPv6", v6: true, tcp: false },
];

function makePool(c: Case): Uint8Array {
  const mem = new Uint8Array(new ArrayBuffer(POOL * 2048));
  const src = c.v6 ? parseIp("fd00:2021:1111::1")! : parseIp("100.64.0.1")!;
  const dst = c.v6 ? parseIp("fd00:2021:1111:8000::1")! : parseIp("100.96.0.1")!;
  const hl = c.v6 ? 40 : 20;
  for (let i = 0; i < POOL; i++) {
    const payload = new Uint8Array(PACKET - hl - (c.tcp ? 20 : 8)).map((_, k) => (k * 31 + i) & 0xff);
    const n = c.tcp
      ? buildTcpPacket(mem, i * 2048, src, dst, 40000 + i, 443, i * 1000, 0, TCP_ACK, 65535, payload)
      : buildUdpPacket(mem, i * 2048, src, dst, 40000 + i, 443, payload);
    if (n !== PACKET) throw new Error(`built ${n}`);
  }
  return mem;
}

const REAL4 = [parseIPv4("192.0.2.10")!, parseIPv4("198.51.100.77")!];
const REAL6 = [parseIp("2001:db8::10")!, parseIp("2001:db8:5::77")!];

/** One pass over the pool: parse, rewrite destination address + port. */
function runIncremental(mem: Uint8Array, v: PacketView, c: Case, flip: number): number {
  let bad = 0;
  for (let i = 0; i < POOL; i++) {
    if (v.parse(mem, i * 2048, PACKET) !== "ok") bad++;
    if (c.v6) natRewrite(v, DESTINATION, REAL6[flip], 0, 8443 + flip);
    else natRewrite4(v, DESTINATION, REAL4[flip], 8443 + flip);
  }
  return bad;
}

/** Parse alone, to show what the rewrite adds on top. */
function runParse(mem: Uint8Array, v: PacketView): number {
  let bad = 0;
  for (let i = 0; i < POOL; i++) if (v.parse(mem, i * 2048, PACKET) !== "ok") bad++;
  return bad;
}

/** Baseline: the same parse and field writes, then both checksums recomputed from scratch. */
function runFull(mem: Uint8Array, v: PacketView, c: Case, flip: number): number {
  let bad = 0;
  for (let i = 0; i < POOL; i++) {
    const off = i * 2048;
    if (v.parse(mem, off, PACKET) !== "ok") bad++;
    if (c.v6) {
      const a = REAL6[flip];
      for (let k = 0; k < 16; k++) mem[v.dstOff + k] = a[k];
    } else {
      const a = REAL4[flip];
      mem[v.dstOff] = a >>> 24;
      mem[v.dstOff + 1] = (a >>> 16) & 0xff;
      mem[v.dstOff + 2] = (a >>> 8) & 0xff;
      mem[v.dstOff + 3] = a & 0xff;
      fillIPv4Checksum(mem, off);
    }
    const port = 8443 + flip;
    mem[v.l4Off + 2] = port >>> 8;
    mem[v.l4Off + 3] = port & 0xff;
    fillTransportChecksum(v);
  }
  return bad;
}

function measure(fn: (flip: number) => number): number {
  // Warm up so the JIT has compiled the loop before the clock starts.
  for (let w = 0; w < 200; w++) fn(w & 1);
  let packets = 0;
  let bad = 0;
  const start = performance.now();
  const until = start + SECONDS * 1000;
  let flip = 0;
  let now = start;
  while (now < until) {
    for (let k = 0; k < 50; k++) {
      bad += fn(flip);
      flip ^= 1;
      packets += POOL;
    }
    now = performance.now();
  }
  if (bad !== 0) throw new Error(`${bad} packets failed to parse`);
  return packets / ((now - start) / 1000);
}

function checkValid(mem: Uint8Array, c: Case): void {
  const v = new PacketView();
  for (let i = 0; i < POOL; i++) {
    if (v.parse(mem, i * 2048, PACKET) !== "ok") throw new Error("pool corrupted");
    if (!c.v6 && !verifyIPv4Checksum(mem, i * 2048)) throw new Error("IPv4 checksum broken");
    if (!verifyTransportChecksum(v)) throw new Error("transport checksum broken");
  }
}

console.log(`bun ${Bun.version}, ${PACKET}-byte packets, ${SECONDS} s per measurement`);
console.log("case        parse-only pkt/s   parse+NAT incremental   parse+NAT full recompute   ratio");
for (const c of cases) {
  const mem = makePool(c);
  const v = new PacketView();
  const parseOnly = measure(() => runParse(mem, v));
  const inc = measure((f) => runIncremental(mem, v, c, f));
  checkValid(mem, c);
  const full = measure((f) => runFull(mem, v, c, f));
  checkValid(mem, c);
  const fmt = (x: number, w: number) => Math.round(x).toLocaleString("en").padStart(w);
  const line = `${c.name.padEnd(10)}  ${fmt(parseOnly, 16)}   ${fmt(inc, 21)}   ${fmt(full, 24)}   ${(inc / full).toFixed(1)}×`;
  console.log(line);
}
