#!/usr/bin/env bun
/**
 * snownet data path: packets/s through two Nodes back to back (encapsulate → handleInput), as a
 * ratio to the bare WireGuard Tunnel pair underneath (the baseline, measured in the same run).
 * Not a test (no timed assertions); run by hand:
 *
 *   bun test/snownet/data-path.bench.ts           # ~10 s
 *   bun test/snownet/data-path.bench.ts --long    # ~40 s
 */
import { established, ipv4, pair } from "./harness.ts";
import { Tunnel, TunnAction } from "../../src/wireguard/index.ts";
import { x25519GenerateKeyPair } from "../../src/crypto/index.ts";

const long = process.argv.includes("--long");
const SECONDS = long ? 4 : 1;
const RUNS = long ? 5 : 3;
const PACKET = ipv4("x".repeat(1280 - 20 - 8));

function measure(name: string, once: () => void): number {
  for (let i = 0; i < 2000; i++) once();
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let n = 0;
    const start = performance.now();
    let now = start;
    while (now - start < SECONDS * 1000) {
      for (let i = 0; i < 256; i++) once();
      n += 256;
      now = performance.now();
    }
    rates.push(n / ((now - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  const median = rates[rates.length >> 1]!;
  process.stderr.write(`  ${name}: ${Math.round(median)} packets/s\n`);
  return median;
}

// Baseline: two bare tunnels.
const ka = x25519GenerateKeyPair();
const kb = x25519GenerateKeyPair();
const wall = () => 1_800_000_000_000;
const ta = new Tunnel({ privateKey: ka.privateKey, peerPublicKey: kb.publicKey, wallClock: wall });
const tb = new Tunnel({ privateKey: kb.privateKey, peerPublicKey: ka.publicKey, wallClock: wall });
{
  const buf = new Uint8Array(2048);
  const init = ta.encapsulate(new Uint8Array(0), buf, 0).bytes().slice();
  const resp = tb.decapsulate(init, buf, 0).bytes().slice();
  const ka2 = ta.decapsulate(resp, buf, 0);
  const keepalive = ka2.bytes().slice();
  tb.decapsulate(keepalive, buf, 0);
}
const outA = new Uint8Array(2048);
const outB = new Uint8Array(2048);
const bare = measure("bare Tunnel pair", () => {
  const r = ta.encapsulate(PACKET, outA, 1);
  if (r.action !== TunnAction.WriteToNetwork) throw new Error("bare encapsulate");
  const d = tb.decapsulate(outA.subarray(0, r.length), outB, 1);
  if (d.action !== TunnAction.WriteToTunnelV4) throw new Error("bare decapsulate");
});

function nodePair(blockDirect: boolean) {
  const p = pair({ blockDirect });
  if (!p.wire.runUntil(() => established(p.a, "gw") && established(p.b, "client"), 10_000)) throw new Error("no connection");
  return p;
}

const direct = nodePair(false);
const nodeDirect = measure("Node pair, direct", () => {
  const now = direct.wire.now;
  const r = direct.a.node.encapsulate("gw", PACKET, now);
  if (r.status !== "transmit") throw new Error("node encapsulate");
  const got = direct.b.node.handleInput(direct.a.addr, direct.b.addr, r.buf.subarray(r.offset, r.offset + r.length), now);
  if (!got) throw new Error("node handleInput");
});

const relayed = nodePair(true);
const relayServer = relayed.relays[0]!.server;
const frame = new Uint8Array(2048);
const nodeRelayed = measure("Node pair, relayed (with the relay core in between)", () => {
  const now = relayed.wire.now;
  const r = relayed.a.node.encapsulate("gw", PACKET, now);
  if (r.status !== "transmit") throw new Error("relayed encapsulate");
  const dgram = r.buf.subarray(r.offset, r.offset + r.length);
  const ch = relayServer.handleClientPacket(relayed.a.addr.ip, relayed.a.addr.port, dgram, now);
  if (!ch) throw new Error("relay client side");
  const owner = relayServer.channelOwner;
  const len = relayServer.routedLength;
  const off = relayServer.routedOffset;
  const relayIp = relayed.relays[0]!.listen.ip;
  let input: Uint8Array;
  let from = { ip: relayIp, port: owner.port };
  if (ch.peerIp === relayIp) {
    // Relay to relay: the peer's allocation frames it as ChannelData to its owner.
    const back = relayServer.handlePeerPacket(ch.peerPort, relayIp, owner.port, len);
    if (!back) throw new Error("relay peer side");
    frame[0] = back.number >> 8;
    frame[1] = back.number & 0xff;
    frame[2] = len >> 8;
    frame[3] = len & 0xff;
    frame.set(dgram.subarray(off, off + len), 4);
    input = frame.subarray(0, 4 + len);
    from = relayed.relays[0]!.listen;
  } else {
    input = dgram.subarray(off, off + len);
  }
  const got = relayed.b.node.handleInput(from, relayed.b.addr, input, now);
  if (!got) throw new Error("relayed handleInput");
});

const out = {
  packetBytes: PACKET.length,
  bareTunnelPps: Math.round(bare),
  nodeDirectPps: Math.round(nodeDirect),
  nodeDirectRatio: +(nodeDirect / bare).toFixed(3),
  nodeRelayedPps: Math.round(nodeRelayed),
  nodeRelayedRatio: +(nodeRelayed / bare).toFixed(3),
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
