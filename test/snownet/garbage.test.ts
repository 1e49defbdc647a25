/**
 * Mutated copies of every kind of datagram a node really receives (STUN from the relay,
 * ChannelData, ICE checks, WireGuard handshakes and data) go into handleInput: nothing may throw,
 * nothing may be handed to the TUN that WireGuard did not authenticate, and the connection keeps
 * working afterwards.
 */
import { expect, test } from "bun:test";
import { established, ipv4, pair, roundTrip } from "./harness.ts";
import type { SocketAddress } from "../../src/stun/index.ts";
import { xorshift32 } from "../support/prng.ts";

test("30k mutated real datagrams: no throw, no forged packet, connection intact", () => {
  const { wire, a, b } = pair({ blockDirect: true });
  // Record what B receives while the connection comes up and carries some data.
  const seen: Array<{ from: SocketAddress; to: SocketAddress; payload: Uint8Array }> = [];
  const original = b.node.handleInput.bind(b.node);
  b.node.handleInput = (from, to, payload, now) => {
    seen.push({ from, to, payload: payload.slice() });
    return original(from, to, payload, now);
  };
  expect(wire.runUntil(() => established(a, "gw") && established(b, "client"), 10_000)).toBe(true);
  for (let i = 0; i < 5; i++) {
    const r = a.node.encapsulate("gw", ipv4(`real ${i}`), wire.now);
    wire.sendEncapsulated(a, r);
    wire.runFor(20);
  }
  b.node.handleInput = original;
  expect(seen.length).toBeGreaterThan(10);
  const kinds = new Set(seen.map((s) => s.payload[0]! >= 64 ? "channel-data" : s.payload[0]! <= 1 && s.payload[4] === 0x21 ? "stun" : "other"));
  expect(kinds.has("channel-data")).toBe(true);
  expect(kinds.has("stun")).toBe(true);

  const next = xorshift32(0x1234567);
  const rand = () => next() / 0x1_0000_0000;
  const inboxBefore = b.inbox.length;
  let delivered = 0;
  for (let i = 0; i < 30_000; i++) {
    const src = seen[Math.floor(rand() * seen.length)]!;
    const m = src.payload.slice(0, Math.max(1, Math.floor(rand() * (src.payload.length + 8))));
    const flips = 1 + Math.floor(rand() * 4);
    for (let f = 0; f < flips; f++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
    const out = b.node.handleInput(src.from, src.to, m, wire.now);
    if (out) delivered++;
  }
  // A mutation that still authenticates would be a forgery: none may reach the TUN.
  expect(delivered).toBe(0);
  expect(b.inbox.length).toBe(inboxBefore);
  const drops = Object.values(b.node.stats().drops).reduce((x, y) => x + y, 0);
  expect(drops).toBeGreaterThan(1000);
  // Drain whatever the garbage provoked (ICE answers to replays, etc.), then the tunnel still works.
  wire.runFor(100);
  expect(roundTrip(wire, a, "gw", b, "after the storm")).toEqual(["after the storm"]);
});
