/**
 * Two tunnels talking for 20 minutes of fake time over a lossy, reordering link: handshakes and
 * rekeys happen on their own (timers only, driven like a real driver by pollTimeout), traffic
 * keeps flowing across every session change, and nothing is dropped for a reason other than the
 * link's own doing.
 */
import { expect, test } from "bun:test";
import { REKEY_AFTER_TIME } from "../../src/wireguard/constants.ts";
import { DropReason, TunnAction, type TunnResult } from "../../src/wireguard/result.ts";
import type { Tunnel } from "../../src/wireguard/tunnel.ts";
import { copyOut, ipv4Packet, Pair, seededRandom } from "./pair.ts";

test("20 minutes over a lossy, reordering link", () => {
  const p = new Pair({ a: { rekeyAttemptTime: 20_000 } });
  const rnd = seededRandom(77);
  const LOSS = 0.05;
  // In-flight datagrams with their arrival time; a random delay of 5-60 ms reorders them.
  const wire: { at: number; to: Tunnel; bytes: Uint8Array }[] = [];
  const received = { a: 0, b: 0 };
  const sent = { a: 0, b: 0 };
  const events: string[] = [];

  const transmit = (from: Tunnel, r: TunnResult) => {
    const to = from === p.a ? p.b : p.a;
    const push = (x: TunnResult) => {
      if (x.action !== TunnAction.WriteToNetwork) return;
      if (rnd() < LOSS) return;
      wire.push({ at: p.now + 5 + Math.floor(rnd() * 55), to, bytes: copyOut(x) });
    };
    push(r);
    for (let q = from.pollTransmit(p.now); q.action === TunnAction.WriteToNetwork; q = from.pollTransmit(p.now)) push(q);
    for (const t of [p.a, p.b]) for (let e = t.pollEvent(); e; e = t.pollEvent()) events.push(`${t === p.a ? "a" : "b"}:${e.type}`);
  };

  const end = p.now + 20 * 60_000;
  let nextSend = p.now;
  let seq = 0;
  while (p.now < end) {
    const timers = [p.a.pollTimeout()?.at ?? Infinity, p.b.pollTimeout()?.at ?? Infinity];
    const nextWire = wire.reduce((m, w) => Math.min(m, w.at), Infinity);
    const next = Math.min(nextSend, nextWire, ...timers, end);
    p.time.now = Math.max(p.now, next);
    if (next === end) break;
    // Deliver everything due.
    for (let i = 0; i < wire.length; ) {
      if (wire[i].at <= p.now) {
        const w = wire.splice(i, 1)[0];
        const r = w.to.decapsulate(w.bytes, p.out, p.now);
        if (r.action === TunnAction.WriteToTunnelV4) received[w.to === p.a ? "a" : "b"]++;
        transmit(w.to, r.action === TunnAction.WriteToNetwork ? r : { ...r, action: TunnAction.Done } as TunnResult);
      } else i++;
    }
    for (const t of [p.a, p.b]) if ((t.pollTimeout()?.at ?? Infinity) <= p.now) transmit(t, t.handleTimeout(p.now));
    if (nextSend <= p.now) {
      // Both directions send every 200 ms: a request from a, an answer from b.
      const from = seq++ % 2 === 0 ? p.a : p.b;
      sent[from === p.a ? "a" : "b"]++;
      transmit(from, from.encapsulate(ipv4Packet(`m${seq}`), p.out, p.now));
      nextSend = p.now + 100;
    }
  }

  // Rekeys happened on schedule: about one per REKEY_AFTER_TIME, none lost the connection.
  const completed = p.a.stats.handshakesCompleted;
  expect(completed).toBeGreaterThanOrEqual(Math.floor((20 * 60_000) / REKEY_AFTER_TIME) - 1);
  expect(events).not.toContain("a:connectionExpired");
  expect(events).not.toContain("b:connectionExpired");
  // Loss of 5% each way; everything else arrives (queued packets during rekeys included).
  expect(received.b / sent.a).toBeGreaterThan(0.9);
  expect(received.a / sent.b).toBeGreaterThan(0.9);
  // The only drops allowed: handshake messages made stale by loss and retransmission.
  const allowed = new Set([DropReason.UnexpectedHandshake, DropReason.ReplayedTimestamp]);
  for (const t of [p.a, p.b]) {
    for (let reason = 1; reason < t.stats.drops.length; reason++) {
      if (!allowed.has(reason)) expect(`${DropReason[reason]}=${t.stats.drops[reason]}`).toBe(`${DropReason[reason]}=0`);
    }
  }
});
