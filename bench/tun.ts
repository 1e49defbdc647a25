/**
 * TUN and packet-loop benchmark, in network namespaces it creates and deletes.
 *
 *   bun bench/tun.ts            short run (~30 s): every comparison once
 *   bun bench/tun.ts --long     more packets per drain, 8 s live runs
 *
 * Parts (each number is packets per second, measured in the same run as its alternatives):
 * 1. raw TUN: DRAIN read (the kernel queues K packets, then one reader drains them: the reader's
 *    ceiling without sharing a core with the load) and write (to a blackhole TUN through the
 *    forwarding path), for 1280- and 1420-byte packets.
 * 2. TX drain, TUN → parse → UDP (1420 B): main thread vs Worker × FFI sendmmsg vs FFI GSO vs
 *    Bun `sendMany` on a connected socket. The other namespace counts what arrives.
 * 3. RX drain, UDP → parse → TUN write (1420 B): FFI recvmmsg on the main thread.
 * 4. Live: generator → TUN A → Worker A → UDP over veth → Worker B → TUN B → sink, 2 cores
 *    shared by 4 processes, per transport.
 * Internal roles (`--role …`) run inside the namespaces.
 */
import { spawn, spawnSync } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildUdpPacket, parseIp } from "../src/ip/index.ts";
import { buildDataplane } from "../src/io/dataplane-build.ts";
import { Dataplane } from "../src/io/dataplane.ts";
import { LoopStats } from "../src/io/loop-stats.ts";
import * as C from "../src/io/netlink/constants.ts";
import { ACTION_TO_NET, PacketBatch } from "../src/io/packet-batch.ts";
import { TunDevice } from "../src/io/tun-device.ts";
import { TunIo } from "../src/io/tun-io.ts";
import { FfiUdpSocket } from "../src/io/udp-ffi.ts";
import { ptr } from "bun:ffi";
import { libc, pinned, POLLOUT } from "../ffi/libc.ts";

const args = process.argv.slice(2);
const LONG = args.includes("--long");
const role = args[args.indexOf("--role") + 1];
const K = LONG ? 150_000 : 60_000;
const LIVE_SECONDS = LONG ? 8 : 3;

if (args.includes("--role")) await runRole(role!);
else await orchestrate();

// ---------------------------------------------------------------- orchestration (root ns)

async function orchestrate(): Promise<void> {
  const id = Math.random().toString(36).slice(2, 7);
  const ns1 = `fzb1-${id}`, nsA = `fzba-${id}`, nsB = `fzbb-${id}`;
  const state = mkdtempSync(join(tmpdir(), "fzbench-"));
  const sh = (...cmd: string[]) => {
    const r = spawnSync(cmd, { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
  };
  const results: Record<string, unknown> = {};
  try {
    for (const ns of [ns1, nsA, nsB]) {
      sh("ip", "netns", "add", ns);
      sh("ip", "-n", ns, "link", "set", "lo", "up");
    }
    sh("ip", "link", "add", `bva${id}`, "netns", nsA, "type", "veth", "peer", "name", `bvb${id}`, "netns", nsB);
    sh("ip", "-n", nsA, "addr", "add", "10.99.0.1/24", "dev", `bva${id}`);
    sh("ip", "-n", nsB, "addr", "add", "10.99.0.2/24", "dev", `bvb${id}`);
    sh("ip", "-n", nsA, "link", "set", `bva${id}`, "up");
    sh("ip", "-n", nsB, "link", "set", `bvb${id}`, "up");

    console.log(`# bench/tun.ts ${LONG ? "--long" : "(short)"}: K=${K} packets per drain, live ${LIVE_SECONDS}s`);
    console.log("\n## 1. raw TUN (one process, DRAIN read / write to a blackhole TUN)");
    for (const size of [1280, 1420]) {
      const r = await child(ns1, ["raw", String(size), state]);
      results[`raw-${size}`] = r;
      console.log(`  ${size} B: read ${kpps(r.readPps)}  write ${kpps(r.writePps)}   (read ${r.read}/${r.queued} queued)`);
    }

    console.log("\n## 2. TX drain: TUN read → parse → UDP send (1420 B), sink counts in the other namespace");
    const sink = startChild(nsB, ["sink", "10.99.0.2:51820"]);
    await sink.json();
    const base: Record<string, number> = {};
    for (const mode of ["main:ffi", "main:ffi-gso", "main:bun", "worker:ffi", "worker:ffi-gso", "worker:bun"]) {
      const before = await sink.ask("count");
      const r = await child(nsA, ["tx-drain", mode, state]);
      const after = await sink.ask("count");
      results[`tx-${mode}`] = { ...r, arrived: after.count - before.count };
      base[mode] = r.pps;
      console.log(`  ${mode.padEnd(15)} ${kpps(r.pps)}   sent ${r.udpTx}/${r.tunRx}, arrived ${after.count - before.count}, gso segments ${r.gso}`);
    }
    sink.send("quit");
    console.log(`  ratios vs main:ffi — ${Object.entries(base).map(([m, v]) => `${m} ${(v / base["main:ffi"]!).toFixed(2)}×`).join(", ")}`);

    console.log("\n## 3. RX drain: UDP recvmmsg → parse → TUN write (1420 B)");
    for (const mode of ["main:ffi"]) {
      const rx = startChild(nsB, ["rx-drain", mode, state]);
      await rx.json();
      const g = await child(nsA, ["gen-udp", "10.99.0.2:51820", String(K), "1420"]);
      rx.send("go");
      const r = await rx.json();
      results[`rx-${mode}`] = r;
      console.log(`  ${mode.padEnd(15)} ${kpps(r.pps)}   written ${r.tunTx}/${r.udpRx} received (${g.sent} sent)`);
    }

    console.log(`\n## 4. live, ${LIVE_SECONDS}s: gen → TUN A → Worker A → UDP → Worker B → TUN B → sink (4 processes, 2 cores)`);
    for (const transport of ["ffi-gso", "ffi", "bun"]) {
      const b = startChild(nsB, ["node", "10.88.0.2/32", "10.88.0.1/32", "10.99.0.2:51820", "10.99.0.1:51820", transport, state]);
      const a = startChild(nsA, ["node", "10.88.0.1/32", "10.88.0.2/32", "10.99.0.1:51820", "10.99.0.2:51820", transport, state]);
      await b.json();
      await a.json();
      const s = startChild(nsB, ["sink", "10.88.0.2:9"]);
      await s.json();
      const g = await child(nsA, ["gen-live", "10.88.0.2:9", String(LIVE_SECONDS), "1392"]);
      const got = await s.ask("count");
      const sa = await a.ask("stats");
      const sb = await b.ask("stats");
      for (const p of [a, b, s]) p.send("quit");
      const pps = got.count / LIVE_SECONDS;
      results[`live-${transport}`] = { pps, offered: g.sent / LIVE_SECONDS, a: sa, b: sb };
      console.log(`  ${transport.padEnd(8)} delivered ${kpps(pps)} (${((pps * 1420 * 8) / 1e6).toFixed(0)} Mbit/s)  offered ${kpps(g.sent / LIVE_SECONDS)}  A tun→udp ${sa.udpTxPackets}  B udp→tun ${sb.tunTxPackets}`);
      await Promise.all([a.proc.exited, b.proc.exited, s.proc.exited]);
    }
    if (args.includes("--json")) console.log(JSON.stringify(results));
  } finally {
    for (const ns of [ns1, nsA, nsB]) spawnSync(["ip", "netns", "del", ns], { stderr: "ignore" });
    rmSync(state, { recursive: true, force: true });
  }
}

function kpps(v: number): string {
  return `${(v / 1000).toFixed(0).padStart(4)}k pps`;
}

interface Child {
  proc: ReturnType<typeof spawn>;
  json(): Promise<any>;
  send(line: string): void;
  ask(line: string): Promise<any>;
}

function startChild(ns: string, roleArgs: string[]): Child {
  const proc = spawn(["ip", "netns", "exec", ns, process.execPath, import.meta.path, "--role", ...roleArgs], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  let buf = "";
  const json = async () => {
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const v = JSON.parse(line);
        if (v.error) throw new Error(`${roleArgs[0]}: ${v.error}`);
        return v;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`${roleArgs.join(" ")} exited`);
      buf += new TextDecoder().decode(value);
    }
  };
  const send = (line: string) => {
    proc.stdin.write(`${line}\n`);
    proc.stdin.flush();
  };
  return { proc, json, send, ask: (l) => (send(l), json()) };
}

async function child(ns: string, roleArgs: string[]): Promise<any> {
  const c = startChild(ns, roleArgs);
  const r = await c.json();
  await c.proc.exited;
  return r;
}

// ---------------------------------------------------------------- roles (inside namespaces)

async function runRole(name: string): Promise<void> {
  const r = args.slice(args.indexOf("--role") + 2);
  try {
    if (name === "raw") return rawTun(Number(r[0]), r[1]!);
    if (name === "tx-drain") return await txDrain(r[0]!, r[1]!);
    if (name === "rx-drain") return await rxDrain(r[0]!, r[1]!);
    if (name === "sink") return await sinkRole(ep(r[0]!));
    if (name === "gen-udp") return genUdp(ep(r[0]!), Number(r[1]), Number(r[2]));
    if (name === "gen-live") return genLive(ep(r[0]!), Number(r[1]), Number(r[2]));
    if (name === "node") return await nodeRole(r);
    throw new Error(`unknown role ${name}`);
  } catch (e) {
    out({ error: String(e instanceof Error ? e.message : e) });
    process.exit(1);
  }
}

function out(v: unknown): void {
  console.log(JSON.stringify(v));
}

function ep(s: string) {
  const i = s.lastIndexOf(":");
  return { ip: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

/** Sends `count` UDP datagrams of `payload` bytes with GSO (the fastest generator: bun-lab §4). */
function sendCount(sock: FfiUdpSocket, to: { ip: string; port: number }, count: number, payload: number, until = Infinity): number {
  const batch = new PacketBatch(64);
  for (let i = 0; i < 64; i++) {
    batch.push(new Uint8Array(payload).fill(i), ACTION_TO_NET);
    sock.encodeAddress(to, batch.addr, i * 28);
  }
  const pfd = pinned(8);
  new DataView(pfd.buffer).setInt32(0, sock.pollFd, true);
  new DataView(pfd.buffer).setInt16(4, POLLOUT, true);
  let sent = 0;
  while (sent < count && performance.now() < until) {
    batch.count = Math.min(64, count - sent);
    const n = sock.sendBatch(batch);
    sent += n;
    if (n < batch.count) libc.poll(pfd, 1, 5);
  }
  return sent;
}

function rawTun(size: number, stateDir: string): void {
  writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
  const dev = TunDevice.open({ name: "bt0", stateDir, txQueueLen: 400_000, mtu: 1500 });
  const hole = TunDevice.open({ name: "bt1", stateDir, mtu: 1500 });
  try {
    dev.addAddress("10.200.0.1/32");
    dev.addRoute("10.200.1.0/24", C.RT_TABLE_MAIN);
    hole.addRoute("10.201.0.0/24", C.RT_TABLE_MAIN);
    // Read: queue K packets with nobody reading, then drain.
    const gen = new FfiUdpSocket({ bind: { ip: "10.200.0.1", port: 0 }, bufferBytes: 64 << 20 });
    const queued = sendCount(gen, { ip: "10.200.1.9", port: 9 }, K, size - 28);
    const tun = new TunIo(dev.fd);
    const batch = new PacketBatch();
    const t0 = performance.now();
    let read = 0;
    for (;;) {
      batch.count = 0;
      const n = tun.readBatch(batch);
      if (n === 0) break;
      read += n;
    }
    const readPps = read / ((performance.now() - t0) / 1000);
    // Write: one prebuilt packet, forwarded by the kernel to the blackhole TUN.
    const pkt = pinned(size);
    buildUdpPacket(pkt, 0, parseIp("10.200.1.9")!, parseIp("10.201.0.9")!, 40000, 9, new Uint8Array(size - 28));
    const addr = ptr(pkt);
    let written = 0;
    const t1 = performance.now();
    while (written < K) {
      if (!tun.writeAt(addr, size)) break;
      written++;
    }
    const writePps = written / ((performance.now() - t1) / 1000);
    gen.close();
    out({ size, queued, read, readPps, written, writePps, errors: Object.fromEntries(tun.txErrors) });
  } finally {
    dev.close();
    hole.close();
  }
}

/** Fills TUN A with K packets, then measures how fast the chosen mode moves them to UDP. */
async function txDrain(mode: string, stateDir: string): Promise<void> {
  const [thread, transport] = mode.split(":") as ["main" | "worker", string];
  const dev = TunDevice.open({ name: "ba0", stateDir, txQueueLen: 400_000, mtu: 1420 });
  try {
    dev.addAddress("10.88.0.1/32");
    dev.addRoute("10.88.0.2/32", C.RT_TABLE_MAIN);
    const gen = new FfiUdpSocket({ bind: { ip: "10.88.0.1", port: 0 }, bufferBytes: 64 << 20 });
    const queued = sendCount(gen, { ip: "10.88.0.2", port: 9 }, K, 1420 - 28);
    gen.close();
    const peer = { ip: "10.99.0.2", port: 51820 };
    const cfg = {
      tunFd: dev.fd,
      udp: {
        transport: (transport === "bun" ? "bun" : "ffi") as "bun" | "ffi",
        bind: { ip: "10.99.0.1", port: 0 },
        connect: transport === "bun" ? peer : undefined,
        gso: transport === "ffi-gso",
        bufferBytes: 16 << 20,
      },
      handler: { kind: "forward" as const, peer },
      idleMs: 5,
    };
    let stats: LoopStats;
    let stop: () => Promise<void>;
    if (thread === "main") {
      const built = await buildDataplane({ ...cfg, stats: new SharedArrayBuffer(11 * 8), stop: new SharedArrayBuffer(4) });
      stats = built.loop.stats;
      void built.loop.run();
      stop = async () => {
        built.loop.stop();
        built.udp.close();
      };
    } else {
      const dp = await Dataplane.start(cfg);
      stats = dp.stats;
      stop = () => dp.stop();
    }
    const m = await measureUntil(stats, "tunRxPackets", queued);
    const snap = stats.snapshot();
    await stop();
    out({ mode, queued, pps: m.pps, tunRx: snap.tunRxPackets, udpTx: snap.udpTxPackets, gso: snap.udpTxGsoSegments, drops: snap.udpTxDrops });
  } finally {
    dev.close();
  }
}

/** Polls a shared counter every millisecond; rate between its first move and reaching `target` (or stalling). */
async function measureUntil(stats: LoopStats, name: "tunRxPackets" | "udpRxPackets", target: number): Promise<{ pps: number }> {
  let t0 = 0, v0 = 0, last = -1, lastChange = performance.now();
  for (;;) {
    await Bun.sleep(1);
    const v = stats.get(name);
    const now = performance.now();
    if (t0 === 0 && v > 0) {
      t0 = now;
      v0 = v;
    }
    if (v !== last) {
      last = v;
      lastChange = now;
    }
    if (v >= target || (t0 > 0 && now - lastChange > 300) || (t0 === 0 && now - lastChange > 5000)) {
      const end = v >= target ? now : lastChange;
      return { pps: t0 > 0 && end > t0 ? (v - v0) / ((end - t0) / 1000) : 0 };
    }
  }
}

/** B side: the socket exists and buffers; on "go" the loop drains it into the TUN. */
async function rxDrain(mode: string, stateDir: string): Promise<void> {
  const dev = TunDevice.open({ name: "bb0", stateDir, mtu: 1420 });
  try {
    dev.addAddress("10.88.0.2/32");
    dev.addRoute("10.88.0.1/32", C.RT_TABLE_MAIN);
    const built = await buildDataplane({
      tunFd: dev.fd,
      udp: { transport: "ffi", bind: { ip: "10.99.0.2", port: 51820 }, bufferBytes: 256 << 20 },
      handler: { kind: "forward", peer: { ip: "10.99.0.1", port: 51820 } },
      stats: new SharedArrayBuffer(11 * 8),
      stop: new SharedArrayBuffer(4),
      idleMs: 5,
    });
    // A socket for the forwarded packets, never read: without it every TUN write would also
    // make the kernel build an ICMP port-unreachable.
    const hole = new FfiUdpSocket({ bind: { ip: "10.88.0.2", port: 9 }, bufferBytes: 256 << 20 });
    out({ ready: true, mode });
    for await (const chunk of Bun.stdin.stream()) {
      if (!new TextDecoder().decode(chunk).includes("go")) continue;
      void built.loop.run();
      await measureUntil(built.loop.stats, "udpRxPackets", Infinity).then((m) => {
        const s = built.loop.stats.snapshot();
        out({ mode, pps: m.pps, udpRx: s.udpRxPackets, tunTx: s.tunTxPackets });
      });
      built.loop.stop();
      built.udp.close();
      hole.close();
      break;
    }
  } finally {
    dev.close();
  }
  process.exit(0);
}

/** A UDP sink that counts datagrams; answers "count", ends on "quit". */
async function sinkRole(bind: { ip: string; port: number }): Promise<void> {
  const sock = new FfiUdpSocket({ bind, bufferBytes: 64 << 20 });
  const batch = new PacketBatch(64);
  let count = 0;
  const drain = () => {
    for (;;) {
      batch.count = 0;
      const n = sock.recvBatch(batch);
      if (n === 0) break;
      count += n;
    }
  };
  const timer = setInterval(drain, 1);
  out({ ready: true });
  for await (const chunk of Bun.stdin.stream()) {
    const t = new TextDecoder().decode(chunk);
    if (t.includes("count")) {
      drain();
      out({ count });
    }
    if (t.includes("quit")) break;
  }
  clearInterval(timer);
  sock.close();
  process.exit(0);
}

function genUdp(to: { ip: string; port: number }, count: number, size: number): void {
  const sock = new FfiUdpSocket({ bind: { ip: "0.0.0.0", port: 0 }, bufferBytes: 64 << 20 });
  // The payload is itself a valid IP packet (what B's forward handler expects from the wire).
  const sent = sendCountPackets(sock, to, count, size);
  out({ sent });
}

function sendCountPackets(sock: FfiUdpSocket, to: { ip: string; port: number }, count: number, size: number): number {
  const batch = new PacketBatch(64);
  const pkt = new Uint8Array(size);
  buildUdpPacket(pkt, 0, parseIp("10.88.0.1")!, parseIp("10.88.0.2")!, 40000, 9, new Uint8Array(size - 28));
  for (let i = 0; i < 64; i++) {
    batch.push(pkt, ACTION_TO_NET);
    sock.encodeAddress(to, batch.addr, i * 28);
  }
  const pfd = pinned(8);
  new DataView(pfd.buffer).setInt32(0, sock.pollFd, true);
  new DataView(pfd.buffer).setInt16(4, POLLOUT, true);
  let sent = 0;
  while (sent < count) {
    batch.count = Math.min(64, count - sent);
    const n = sock.sendBatch(batch);
    sent += n;
    if (n < batch.count) libc.poll(pfd, 1, 5);
  }
  return sent;
}

function genLive(to: { ip: string; port: number }, seconds: number, payload: number): void {
  const sock = new FfiUdpSocket({ bind: { ip: "0.0.0.0", port: 0 }, bufferBytes: 16 << 20 });
  const sent = sendCount(sock, to, Infinity, payload, performance.now() + seconds * 1000);
  out({ sent });
}

/** One forwarding end with its Worker, for the live run. argv: local via bind peer transport stateDir */
async function nodeRole(r: string[]): Promise<void> {
  const [local, via, bind, peer, transport, stateDir] = r as [string, string, string, string, string, string];
  const dev = TunDevice.open({ name: `bn${local.split(".")[3]![0]}`, stateDir, mtu: 1420 });
  dev.addAddress(local);
  dev.addRoute(via, C.RT_TABLE_MAIN);
  const dp = await Dataplane.start({
    tunFd: dev.fd,
    udp: {
      transport: transport === "bun" ? "bun" : "ffi",
      bind: ep(bind),
      connect: transport === "bun" ? ep(peer) : undefined,
      gso: transport === "ffi-gso",
      bufferBytes: 16 << 20,
    },
    handler: { kind: "forward", peer: ep(peer) },
    idleMs: 5,
  });
  out({ ready: true });
  for await (const chunk of Bun.stdin.stream()) {
    const t = new TextDecoder().decode(chunk);
    if (t.includes("stats")) out(dp.stats.snapshot());
    if (t.includes("quit")) break;
  }
  await dp.stop();
  dev.close();
  process.exit(0);
}
