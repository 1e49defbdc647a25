import { describe, expect, test } from "bun:test";
import { x25519GenerateKeyPair } from "../../src/crypto/index.ts";
import {
  KEEPALIVE_TIMEOUT,
  MAX_SESSIONS,
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_RESPONSE_SIZE,
  REJECT_AFTER_TIME,
  REKEY_AFTER_TIME,
  REKEY_TIMEOUT,
  REKEY_TIMEOUT_JITTER_MAX,
  ZERO_KEYS_AFTER,
} from "../../src/wireguard/constants.ts";
import { IndexTable } from "../../src/wireguard/index-table.ts";
import { readU32 } from "../../src/wireguard/messages.ts";
import { RateLimiter } from "../../src/wireguard/rate-limiter.ts";
import { DropReason, TunnAction } from "../../src/wireguard/result.ts";
import { randomIndex, Tunnel } from "../../src/wireguard/tunnel.ts";
import { copyOut, ipv4Packet, Pair } from "./pair.ts";

const text = (p: Uint8Array) => new TextDecoder().decode(p.subarray(20));

function established(opts?: ConstructorParameters<typeof Pair>[0]): Pair {
  const p = new Pair(opts);
  expect(p.send(p.a, ipv4Packet("hello")).map(text)).toEqual(["hello"]);
  return p;
}

/** Seals one packet and returns the datagram without delivering it. */
function seal(p: Pair, from: Tunnel, payload: string): Uint8Array {
  const r = from.encapsulate(ipv4Packet(payload), p.out, p.now);
  expect(r.action).toBe(TunnAction.WriteToNetwork);
  expect(r.buf[0]).toBe(4);
  return copyOut(r);
}

function open(p: Pair, to: Tunnel, datagram: Uint8Array) {
  return to.decapsulate(datagram, p.out, p.now, "192.0.2.9", 4000);
}

describe("handshake and data", () => {
  test("handshake, then data both ways, with and without PSK", () => {
    for (const psk of [undefined, new Uint8Array(32).fill(9)]) {
      const p = established({ psk });
      expect(p.send(p.b, ipv4Packet("back")).map(text)).toEqual(["back"]);
      expect(p.send(p.a, ipv4Packet("again")).map(text)).toEqual(["again"]);
      expect(p.a.pollEvent()).toMatchObject({ type: "handshakeCompleted", initiator: true });
      expect(p.b.pollEvent()).toMatchObject({ type: "handshakeCompleted", initiator: false });
      expect(p.a.stats.handshakesCompleted).toBe(1);
      expect(p.a.stats.txPackets).toBe(2);
      expect(p.b.stats.rxPackets).toBe(2);
      expect(p.a.stats.dropsTotal + p.b.stats.dropsTotal).toBe(0);
    }
  });

  test("mismatched PSKs never complete", () => {
    const p = new Pair({ a: { presharedKey: new Uint8Array(32).fill(1) }, b: { presharedKey: new Uint8Array(32).fill(2) } });
    expect(p.send(p.a, ipv4Packet("x"))).toEqual([]);
    expect(p.a.stats.drops[DropReason.HandshakeDecryptFailed]).toBe(1);
    expect(p.a.hasSession(p.now)).toBe(false);
  });

  test("message sizes and padding to 16 bytes", () => {
    const p = new Pair();
    const init = p.a.encapsulate(ipv4Packet("x"), p.out, p.now);
    expect(init.length).toBe(MESSAGE_INITIATION_SIZE);
    const resp = p.b.decapsulate(copyOut(init), p.out, p.now);
    expect(resp.length).toBe(MESSAGE_RESPONSE_SIZE);
    const first = p.a.decapsulate(copyOut(resp), p.out, p.now);
    // The queued packet goes out first, so no keepalive is needed.
    expect(first.action).toBe(TunnAction.WriteToNetwork);
    expect(first.length).toBe(16 + 32 + 16); // 21-byte packet padded to 32
    expect(p.a.pollTransmit(p.now).action).toBe(TunnAction.Done);
    for (const [len, wire] of [[20, 16 + 32 + 16], [32, 16 + 32 + 16], [33, 16 + 48 + 16], [1420, 16 + 1424 + 16]]) {
      const r = p.a.encapsulate(ipv4Packet(new Uint8Array(len - 20)), p.out, p.now);
      expect(r.length).toBe(wire);
    }
  });

  test("packet already at out[16] is sealed in place; decapsulate in place", () => {
    const p = established();
    const buf = new Uint8Array(2048);
    const pkt = ipv4Packet("in-place");
    buf.set(pkt, 16);
    const r = p.a.encapsulate(buf.subarray(16, 16 + pkt.length), buf, p.now);
    expect(r.buf).toBe(buf);
    const d = p.b.decapsulate(buf.subarray(0, r.length), buf, p.now);
    expect(d.action).toBe(TunnAction.WriteToTunnelV4);
    expect(text(copyOut(d))).toBe("in-place");
  });

  test("output buffer too small is a counted drop", () => {
    const p = established();
    const r = p.a.encapsulate(ipv4Packet(new Uint8Array(100)), new Uint8Array(64), p.now);
    expect(r.action).toBe(TunnAction.Dropped);
    expect(r.reason).toBe(DropReason.BufferTooSmall);
  });

  test("IPv6 packets come out as WriteToTunnelV6; malformed plaintext is dropped", () => {
    const p = established();
    const v6 = new Uint8Array(48);
    v6[0] = 0x60;
    v6[5] = 8;
    let r = open(p, p.b, copyOut(p.a.encapsulate(v6, p.out, p.now)));
    expect(r.action).toBe(TunnAction.WriteToTunnelV6);
    expect(r.length).toBe(48);
    const bogus = ipv4Packet("abc");
    bogus[3] = 200; // total length beyond the plaintext
    r = open(p, p.b, copyOut(p.a.encapsulate(bogus, p.out, p.now)));
    expect(r.reason).toBe(DropReason.InvalidIpPacket);
  });

  test("responder does not send on a session before key confirmation", () => {
    const p = new Pair();
    const init = copyOut(p.a.encapsulate(ipv4Packet("q"), p.out, p.now));
    const resp = copyOut(open(p, p.b, init));
    const confirm = p.drain(p.a, open(p, p.a, resp)); // a's queued "q" packet
    expect(p.b.hasSession(p.now)).toBe(false);
    // b has data before the confirmation arrives: it is queued, not sent on the new keys.
    const r = p.b.encapsulate(ipv4Packet("early"), p.out, p.now);
    expect(r.action === TunnAction.Done || r.buf[0] === 1).toBe(true);
    expect(confirm.length).toBe(1);
    const got = open(p, p.b, confirm[0]);
    expect(text(copyOut(got))).toBe("q");
    expect(p.b.hasSession(p.now)).toBe(true);
    // The queued packet leaves with the next pollTransmit (SendPending is due now).
    expect(p.b.pollTimeout()).toMatchObject({ at: p.now, reason: "send pending" });
    const flushed = p.drain(p.b, p.b.handleTimeout(p.now));
    expect(p.deliver(p.a, flushed).map(text)).toContain("early");
  });
});

describe("replay and reorder", () => {
  test("a duplicate is dropped as Replay", () => {
    const p = established();
    const d = seal(p, p.a, "once");
    expect(open(p, p.b, d.slice()).action).toBe(TunnAction.WriteToTunnelV4);
    const r = open(p, p.b, d.slice());
    expect(r.action).toBe(TunnAction.Dropped);
    expect(r.reason).toBe(DropReason.Replay);
    expect(p.b.stats.drops[DropReason.Replay]).toBe(1);
  });

  test("reordering inside the window is accepted", () => {
    const p = established();
    const ds = Array.from({ length: 3000 }, (_, i) => seal(p, p.a, `p${i}`));
    ds.reverse();
    for (const d of ds) expect(open(p, p.b, d).action).toBe(TunnAction.WriteToTunnelV4);
  });

  test("a packet older than the window is dropped; a forged one does not move the window", () => {
    const p = established();
    const ds = Array.from({ length: 8300 }, (_, i) => seal(p, p.a, `p${i}`));
    const forged = ds[8299].slice();
    forged[40] ^= 1;
    expect(open(p, p.b, forged).reason).toBe(DropReason.DecryptFailed);
    // The forged packet carried a high counter but did not authenticate: old packets still pass.
    expect(open(p, p.b, ds[10]).action).toBe(TunnAction.WriteToTunnelV4);
    expect(open(p, p.b, ds[8299]).action).toBe(TunnAction.WriteToTunnelV4);
    expect(open(p, p.b, ds[11]).reason).toBe(DropReason.Replay);
    expect(open(p, p.b, ds[8299 - 8000]).action).toBe(TunnAction.WriteToTunnelV4);
  });
});

describe("rekey and roll-over", () => {
  test("initiator rekeys on send after REKEY_AFTER_TIME; responder does not", () => {
    const p = established();
    p.time.advance(REKEY_AFTER_TIME);
    // b sends: the responder of the session never rekeys on age.
    expect(p.send(p.b, ipv4Packet("from-b")).map(text)).toEqual(["from-b"]);
    expect(p.b.stats.initiationsSent).toBe(0);
    const oldIndex = readU32(seal(p, p.a, "probe"), 4);
    // a's send asked for a handshake; it is due now.
    expect(p.a.pollTimeout()).toMatchObject({ at: p.now, reason: "send pending" });
    p.tick();
    expect(p.a.stats.handshakesCompleted).toBe(2);
    const newIndex = readU32(seal(p, p.a, "after"), 4);
    expect(newIndex).not.toBe(oldIndex);
    expect(p.send(p.a, ipv4Packet("new-session")).map(text)).toEqual(["new-session"]);
  });

  test("initiator rekeys after rekeyAfterMessages", () => {
    const p = established({ a: { rekeyAfterMessages: 50 } });
    p.time.advance(REKEY_TIMEOUT); // initiations are at most one per REKEY_TIMEOUT
    for (let i = 0; i < 48; i++) seal(p, p.a, "x");
    expect(p.a.pollTimeout()?.reason).not.toBe("send pending");
    seal(p, p.a, "x");
    expect(p.a.pollTimeout()).toMatchObject({ reason: "send pending" });
  });

  test("a session past the counter limit is not used; the receiver refuses counters at its limit", () => {
    const p = established({ a: { rejectAfterMessages: 5 }, b: { rejectAfterMessages: 3 } });
    const ds = [1, 2, 3].map(() => seal(p, p.a, "x")); // counters 1..3 (0 went with "hello")
    expect(open(p, p.b, ds[0]).action).toBe(TunnAction.WriteToTunnelV4);
    expect(open(p, p.b, ds[1]).action).toBe(TunnAction.WriteToTunnelV4);
    expect(open(p, p.b, ds[2]).reason).toBe(DropReason.CounterLimit);
    seal(p, p.a, "x"); // counter 4 is the last below 5
    p.time.advance(REKEY_TIMEOUT); // initiations are at most one per REKEY_TIMEOUT
    const r = p.a.encapsulate(ipv4Packet("y"), p.out, p.now);
    expect(r.buf[0]).toBe(1); // queued, new initiation instead
  });

  test("roll-over: packets sealed under the old session still decrypt after the new one takes over", () => {
    const p = established();
    const oldFromA = seal(p, p.a, "old-a");
    const oldFromB = seal(p, p.b, "old-b");
    p.time.advance(1000);
    const r = p.a.rollOver(p.now);
    expect(r.action).toBe(TunnAction.WriteToNetwork);
    expect(r.length).toBe(MESSAGE_INITIATION_SIZE);
    p.deliver(p.b, p.drain(p.a, r));
    expect(p.a.stats.handshakesCompleted).toBe(2);
    expect(p.b.stats.handshakesCompleted).toBe(2); // confirmed by a's keepalive
    const newFromA = seal(p, p.a, "new-a");
    expect(readU32(newFromA, 4)).not.toBe(readU32(oldFromA, 4));
    expect(open(p, p.b, newFromA).action).toBe(TunnAction.WriteToTunnelV4);
    expect(text(copyOut(open(p, p.b, oldFromA)))).toBe("old-a");
    expect(text(copyOut(open(p, p.a, oldFromB)))).toBe("old-b");
    expect(p.send(p.b, ipv4Packet("b-on-new")).map(text)).toEqual(["b-on-new"]);
  });

  test("at most MAX_SESSIONS sessions are kept and their indices freed", () => {
    const table = new IndexTable<Tunnel>(randomIndex);
    const p = established({ a: { indexTable: table } });
    for (let i = 0; i < 12; i++) {
      p.time.advance(1000);
      p.deliver(p.b, p.drain(p.a, p.a.rollOver(p.now)));
    }
    expect(p.a.stats.handshakesCompleted).toBe(13);
    expect(p.a.sessionCount).toBe(MAX_SESSIONS);
    expect(p.b.sessionCount).toBe(MAX_SESSIONS);
    expect(table.size).toBe(MAX_SESSIONS);
    expect(p.send(p.a, ipv4Packet("still")).map(text)).toEqual(["still"]);
  });

  test("initiator rekeys on receive near REJECT_AFTER_TIME even when idle itself", () => {
    const p = established();
    p.time.advance(REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT);
    open(p, p.a, seal(p, p.b, "late"));
    expect(p.a.pollTimeout()).toMatchObject({ at: p.now, reason: "send pending" });
    p.tick();
    expect(p.a.stats.handshakesCompleted).toBe(2);
  });
});

describe("timers", () => {
  test("retransmits every REKEY_TIMEOUT + jitter, gives up after rekeyAttemptTime", () => {
    const p = new Pair({ a: { rekeyAttemptTime: 20_000 } });
    const start = p.now;
    const r = p.a.encapsulate(ipv4Packet("lost"), p.out, p.now);
    expect(r.length).toBe(MESSAGE_INITIATION_SIZE);
    const sentAt = [p.now];
    let expired = false;
    for (let i = 0; i < 10 && !expired; i++) {
      const t = p.a.pollTimeout()!;
      p.time.now = t.at;
      const out = p.a.handleTimeout(p.now);
      if (out.action === TunnAction.WriteToNetwork) sentAt.push(p.now);
      for (let e = p.a.pollEvent(); e; e = p.a.pollEvent()) if (e.type === "connectionExpired") expired = true;
    }
    expect(expired).toBe(true);
    expect(p.now).toBe(start + 20_000);
    for (let i = 1; i < sentAt.length; i++) {
      const gap = sentAt[i] - sentAt[i - 1];
      expect(gap).toBeGreaterThanOrEqual(REKEY_TIMEOUT);
      expect(gap).toBeLessThan(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
    }
    expect(sentAt.length).toBe(4); // 0, ~5, ~10, ~15 s
    expect(p.a.stats.drops[DropReason.ConnectionExpired]).toBe(1); // the queued packet
    // Nothing is retried after giving up, until new traffic asks for it.
    expect(p.a.pollTimeout()?.reason).toBe("zero key material");
  });

  test("a session made by the peer's handshake ends our retries: no expiry while it works", () => {
    const p = new Pair({ a: { rekeyAttemptTime: 20_000 } });
    // a's initiations are all lost...
    expect(p.a.encapsulate(ipv4Packet("lost"), p.out, p.now).length).toBe(MESSAGE_INITIATION_SIZE);
    p.time.advance(1000);
    // ...but b's handshake gets through and a confirms it with data.
    // a's queued packet leaves on the confirmed session too.
    expect(p.send(p.b, ipv4Packet("from-b")).map(text)).toEqual(["from-b", "lost"]);
    expect(p.a.hasSession(p.now)).toBe(true);
    p.runUntil(p.now + 60_000);
    const events = [];
    for (let e = p.a.pollEvent(); e; e = p.a.pollEvent()) events.push(e.type);
    expect(events).not.toContain("connectionExpired");
    expect(p.a.stats.initiationsSent).toBe(1);
  });

  test("default rekey attempt time is 90 s", () => {
    const p = new Pair();
    p.a.encapsulate(ipv4Packet("lost"), p.out, p.now);
    const start = p.now;
    let expiredAt = -1;
    for (let i = 0; i < 40 && expiredAt < 0; i++) {
      p.time.now = p.a.pollTimeout()!.at;
      p.a.handleTimeout(p.now);
      for (let e = p.a.pollEvent(); e; e = p.a.pollEvent()) if (e.type === "connectionExpired") expiredAt = p.now;
    }
    expect(expiredAt - start).toBe(90_000);
  });

  test("passive keepalive after KEEPALIVE_TIMEOUT of receiving without sending", () => {
    const p = established();
    expect(p.b.pollTimeout()).toMatchObject({ at: p.now + KEEPALIVE_TIMEOUT, reason: "passive keepalive" });
    p.runUntil(p.now + KEEPALIVE_TIMEOUT);
    expect(p.b.stats.keepalivesSent).toBe(1);
    expect(p.a.stats.keepalivesReceived).toBeGreaterThanOrEqual(1);
  });

  test("persistent keepalive every interval while idle", () => {
    const p = established({ a: { persistentKeepalive: 25_000 } });
    const before = p.a.stats.keepalivesSent;
    const start = p.now;
    p.runUntil(start + 100_000);
    // Any authenticated packet restarts the interval: b's passive keepalive at 10 s did, so
    // a's keepalives go at 35, 60 and 85 s, the next is due at 110 s.
    expect(p.a.stats.keepalivesSent - before).toBe(3);
    expect(p.a.pollTimeout()).toMatchObject({ at: start + 110_000, reason: "persistent keepalive" });
    expect(p.b.stats.keepalivesSent).toBe(1); // only the passive one: keepalives do not ask for keepalives
  });

  test("new handshake when sent data is unanswered for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT", () => {
    const p = established();
    p.send(p.b, ipv4Packet("answer")); // a heard back: its unanswered-data timer is off
    p.time.advance(1000);
    seal(p, p.a, "into the void"); // not delivered
    const t = p.a.pollTimeout()!;
    expect(t.reason).toBe("new handshake after unanswered data");
    expect(t.at - p.now).toBeGreaterThanOrEqual(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT);
    expect(t.at - p.now).toBeLessThan(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
    p.time.now = t.at;
    const r = p.a.handleTimeout(p.now);
    expect(r.length).toBe(MESSAGE_INITIATION_SIZE);
  });

  test("session expires after REJECT_AFTER_TIME", () => {
    const p = established();
    p.time.advance(REJECT_AFTER_TIME - 1);
    const late = seal(p, p.b, "just in time"); // b is the responder: no rekey on send
    p.time.advance(1);
    const r = open(p, p.a, late);
    expect(r.action).toBe(TunnAction.Dropped);
    expect(r.reason).toBe(DropReason.SessionExpired);
    expect(p.a.hasSession(p.now)).toBe(false);
    // Sending now queues and starts a new handshake, which succeeds.
    expect(p.send(p.a, ipv4Packet("fresh")).map(text)).toEqual(["fresh"]);
    expect(p.a.stats.handshakesCompleted).toBe(2);
  });

  test("keys are zeroed after 3 x REJECT_AFTER_TIME without a new session", () => {
    const p = established();
    const d = seal(p, p.a, "kept");
    p.runUntil(p.now + ZERO_KEYS_AFTER);
    expect(p.a.sessionCount).toBe(0);
    expect(p.b.sessionCount).toBe(0);
    expect(open(p, p.b, d).reason).toBe(DropReason.UnknownReceiverIndex);
    expect(p.a.pollTimeout()).toBeNull();
    expect(p.b.pollTimeout()).toBeNull();
  });

  test("a long idle run reaches quiescence (no timer spins)", () => {
    const p = established({ a: { persistentKeepalive: 10_000 } });
    p.runUntil(p.now + 10 * 60_000);
    expect(p.a.stats.handshakesCompleted).toBeGreaterThanOrEqual(2);
    expect(p.a.stats.dropsTotal + p.b.stats.dropsTotal).toBe(0);
  });
});

describe("initiation checks", () => {
  test("a replayed or older initiation is rejected", () => {
    const p = new Pair();
    const first = copyOut(p.a.encapsulate(ipv4Packet("x"), p.out, p.now));
    p.time.advance(REKEY_TIMEOUT + 400);
    const second = copyOut(p.a.handleTimeout(p.now)); // retransmission with a later timestamp
    expect(second.length).toBe(MESSAGE_INITIATION_SIZE);
    expect(open(p, p.b, second).length).toBe(MESSAGE_RESPONSE_SIZE);
    p.time.advance(100);
    expect(open(p, p.b, second).reason).toBe(DropReason.ReplayedTimestamp);
    expect(open(p, p.b, first).reason).toBe(DropReason.ReplayedTimestamp);
  });

  test("initiations faster than 20 ms apart are a flood", () => {
    const p = new Pair();
    const a = copyOut(p.a.rollOver(p.now));
    p.time.advance(17); // a later TAI64N bucket, but within the flood guard
    const b = copyOut(p.a.rollOver(p.now));
    expect(open(p, p.b, a).length).toBe(MESSAGE_RESPONSE_SIZE);
    expect(open(p, p.b, b).reason).toBe(DropReason.InitiationFlood);
  });

  test("an initiation from another static key is WrongPeer; a garbled MAC1 is InvalidMac1", () => {
    const p = new Pair();
    const stranger = new Tunnel({ privateKey: x25519GenerateKeyPair().privateKey, peerPublicKey: p.keysB.publicKey, wallClock: p.time.wall });
    const init = copyOut(stranger.encapsulate(ipv4Packet("x"), p.out, p.now));
    expect(open(p, p.b, init).reason).toBe(DropReason.WrongPeer);
    init[120] ^= 1;
    expect(open(p, p.b, init).reason).toBe(DropReason.InvalidMac1);
  });

  test("a response nobody asked for is dropped", () => {
    const p = new Pair();
    const init = copyOut(p.a.encapsulate(ipv4Packet("x"), p.out, p.now));
    const resp = copyOut(open(p, p.b, init));
    expect(open(p, p.a, resp).action).toBe(TunnAction.WriteToNetwork);
    expect(open(p, p.a, resp).reason).toBe(DropReason.UnexpectedHandshake);
  });
});

describe("cookies under load", () => {
  test("under load, an initiation without MAC2 gets a cookie reply; the retry with MAC2 is accepted", () => {
    const p = new Pair({ b: { rateLimiter: new RateLimiter(0) } });
    const init = copyOut(p.a.encapsulate(ipv4Packet("x"), p.out, p.now));
    const reply = p.b.decapsulate(init, p.out, p.now, "198.51.100.7", 51820);
    expect(reply.action).toBe(TunnAction.WriteToNetwork);
    expect(reply.length).toBe(MESSAGE_COOKIE_REPLY_SIZE);
    expect(reply.buf[0]).toBe(3);
    expect(readU32(reply.buf, 4)).toBe(readU32(init, 4));
    expect(p.b.stats.cookieRepliesSent).toBe(1);
    expect(p.b.sessionCount).toBe(0);
    const cookie = copyOut(reply);
    expect(open(p, p.a, cookie).action).toBe(TunnAction.Done);
    expect(p.a.stats.cookiesReceived).toBe(1);
    expect(open(p, p.a, cookie).reason).toBe(DropReason.CookieDecryptFailed); // bound to one MAC1

    // The retransmission carries MAC2 for that cookie.
    p.time.now = p.a.pollTimeout()!.at;
    const retry = copyOut(p.a.handleTimeout(p.now));
    expect(retry.subarray(132).some((b) => b !== 0)).toBe(true);
    // From another source address the MAC2 does not verify: another cookie reply.
    expect(p.b.decapsulate(retry, p.out, p.now, "203.0.113.5", 51820).length).toBe(MESSAGE_COOKIE_REPLY_SIZE);
    const resp = p.b.decapsulate(retry, p.out, p.now, "198.51.100.7", 51820);
    expect(resp.length).toBe(MESSAGE_RESPONSE_SIZE);
    p.deliver(p.a, [copyOut(resp)]);
    expect(p.a.hasSession(p.now)).toBe(true);
    expect(p.send(p.a, ipv4Packet("through")).map(text)).toEqual(["through"]);
  });

  test("under load without a source address the initiation is dropped as UnderLoad", () => {
    const p = new Pair({ b: { rateLimiter: new RateLimiter(0) } });
    const init = copyOut(p.a.encapsulate(ipv4Packet("x"), p.out, p.now));
    expect(p.b.decapsulate(init, p.out, p.now).reason).toBe(DropReason.UnderLoad);
  });

  test("the rate limiter puts the responder under load after its limit per second", () => {
    const limiter = new RateLimiter(3);
    const hits = [0, 10, 20, 30, 40].map((t) => limiter.countAndCheck(t));
    expect(hits).toEqual([false, false, false, true, true]);
    expect(limiter.underLoad(500)).toBe(true);
    expect(limiter.countAndCheck(1000)).toBe(false);
    expect(limiter.underLoad(1000)).toBe(false);
  });

  test("a cookie reply with an index that is not ours is dropped", () => {
    const p = new Pair({ b: { rateLimiter: new RateLimiter(0) } });
    const init = copyOut(p.a.encapsulate(ipv4Packet("x"), p.out, p.now));
    const cookie = copyOut(p.b.decapsulate(init, p.out, p.now, "198.51.100.7", 1));
    cookie[4] ^= 0xff;
    expect(open(p, p.a, cookie).reason).toBe(DropReason.UnexpectedHandshake);
  });
});

describe("malformed input", () => {
  test("short, unknown and reserved-bit datagrams are counted drops", () => {
    const p = established();
    expect(open(p, p.a, new Uint8Array(0)).reason).toBe(DropReason.InvalidLength);
    expect(open(p, p.a, new Uint8Array([4, 0, 0])).reason).toBe(DropReason.InvalidLength);
    expect(open(p, p.a, new Uint8Array([9, 0, 0, 0, 1, 2, 3, 4])).reason).toBe(DropReason.UnknownType);
    expect(open(p, p.a, new Uint8Array([1, 0, 1, 0])).reason).toBe(DropReason.UnknownType);
    expect(open(p, p.a, new Uint8Array(147).fill(0).map((_, i) => (i === 0 ? 1 : 0))).reason).toBe(DropReason.InvalidLength);
    expect(open(p, p.a, new Uint8Array(31).map((_, i) => (i === 0 ? 4 : 0))).reason).toBe(DropReason.InvalidLength);
    const d = seal(p, p.b, "x");
    d[4] ^= 1;
    expect(open(p, p.a, d).reason).toBe(DropReason.UnknownReceiverIndex);
    expect(p.a.stats.dropsTotal).toBe(7);
  });

  test("closed tunnels drop everything and free their indices", () => {
    const table = new IndexTable<Tunnel>(randomIndex);
    const p = established({ a: { indexTable: table } });
    expect(table.size).toBe(1);
    p.a.close();
    expect(table.size).toBe(0);
    expect(p.a.encapsulate(ipv4Packet("x"), p.out, p.now).reason).toBe(DropReason.Closed);
    expect(p.a.pollTimeout()).toBeNull();
  });
});
