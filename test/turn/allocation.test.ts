import { describe, expect, test } from "bun:test";
import {
  ATTR_ADDITIONAL_ADDRESS_FAMILY,
  ATTR_MESSAGE_INTEGRITY,
  ATTR_NONCE,
  ATTR_REQUESTED_TRANSPORT,
  getAdditionalAddressFamily,
  getChannelNumber,
  getLifetime,
  getNonce,
  getRealm,
  getRequestedTransport,
  getSoftware,
  getXorPeerAddress,
  MessageBuilder,
  METHOD_ALLOCATE,
  METHOD_BINDING,
  METHOD_CHANNEL_BIND,
  METHOD_REFRESH,
  parseMessage,
  seededRandom,
  type SocketAddress,
} from "../../src/stun/index.ts";
import { Allocation, type AllocationEvent } from "../../src/turn/index.ts";
import { drainEvents, drainTransmits, FakeRelay, pump } from "./fake-relay.ts";

const LOCAL: SocketAddress = { ip: "10.0.0.2", port: 52625 };
const PEER: SocketAddress = { ip: "198.51.100.7", port: 40000 };
const PEER2: SocketAddress = { ip: "198.51.100.8", port: 40001 };
const USER = "1892160000:n23JJ2wKKtt30oXi";
const PASS = "00hqldgk5xLeKKOB+xls9mHMVtgqzie9DulfgQwMv68";
const T0 = 1_000_000;

function setup(opts: { password?: string } = {}) {
  const relay = new FakeRelay(USER, PASS);
  const a = new Allocation({ server: { v4: relay.addr }, username: USER, password: opts.password ?? PASS, now: T0, random: seededRandom(42) });
  return { relay, a };
}

/** Allocation that has completed BINDING + ALLOCATE at T0. */
function allocated() {
  const s = setup();
  pump(s.a, s.relay, LOCAL, T0);
  drainEvents(s.a);
  return s;
}

const kinds = (evs: AllocationEvent[]) =>
  evs.map((e) => (e.type === "relay-gone" ? `gone:${e.reason}` : `${e.type === "new-candidate" ? "+" : "-"}${e.candidate.kind}:${e.candidate.address.ip}:${e.candidate.address.port}`));

describe("allocate", () => {
  test("BINDING → host/srflx; ALLOCATE 401 challenge → authenticated retry → dual-stack relayed candidates", () => {
    const { relay, a } = setup();
    relay.mapped = { ip: "203.0.113.9", port: 61000 };
    pump(a, relay, LOCAL, T0);
    expect(kinds(drainEvents(a))).toEqual([
      "+host:10.0.0.2:52625",
      "+srflx:203.0.113.9:61000",
      "+relay:192.0.2.1:50000",
      "+relay:2001:db8::1:50000",
    ]);
    expect(relay.received.map((m) => m.method)).toEqual([METHOD_BINDING, METHOD_ALLOCATE, METHOD_ALLOCATE]);
    const [, first, second] = relay.received;
    // The first ALLOCATE goes unsigned (no nonce yet); the retry carries the challenge's nonce.
    expect(first.has(ATTR_NONCE)).toBe(false);
    expect(first.has(ATTR_MESSAGE_INTEGRITY)).toBe(false);
    expect(getNonce(second)).toBe("nonce-1");
    expect(getRealm(second)).toBe("firezone");
    expect(getSoftware(second)).toBe("snownet");
    expect(getRequestedTransport(second)).toBe(17);
    expect(getAdditionalAddressFamily(second)).toBe(6);
    expect(second.has(ATTR_MESSAGE_INTEGRITY)).toBe(true);
    expect(a.hasAllocation()).toBe(true);
    expect(a.relayedAddress(6)).toEqual({ ip: "2001:db8::1", port: 50000 });
    expect(a.rtt()).toBe(0);
    const st = a.status(T0 + 1000);
    expect(st.lifetimeRemainingMs).toBe(599_000);
    expect(st.candidates.map((c) => c.kind)).toEqual(["host", "srflx", "relay", "relay"]);
    expect(st.pendingRequests).toBe(0);
    expect(JSON.parse(JSON.stringify(st))).toEqual(st);
  });

  test("answers from other addresses or to unknown transactions are not ours", () => {
    const { relay, a } = setup();
    const [t] = drainTransmits(a);
    const answer = relay.handle(LOCAL, t.payload)!;
    expect(a.handleInput({ ip: "192.0.2.99", port: 3478 }, LOCAL, answer, T0).kind).toBe("not-mine");
    const other = new MessageBuilder(METHOD_BINDING, "success", new Uint8Array(12)).finish();
    expect(other.ok && a.handleInput(relay.addr, LOCAL, other.bytes, T0).kind).toBe("not-mine");
    expect(a.handleInput(relay.addr, LOCAL, new Uint8Array([1, 2, 3]), T0).kind).toBe("not-mine");
    expect(a.handleInput(relay.addr, LOCAL, answer, T0).kind).toBe("consumed");
  });

  test("438 stale nonce: the request is re-sent with the new nonce", () => {
    const { relay, a } = allocated();
    relay.nonce = "nonce-2";
    a.refresh(T0 + 1000);
    pump(a, relay, LOCAL, T0 + 1000);
    const refreshes = relay.received.filter((m) => m.method === METHOD_REFRESH);
    expect(refreshes.map((m) => getNonce(m))).toEqual(["nonce-1", "nonce-2"]);
    expect(a.hasAllocation()).toBe(true);
    expect(drainEvents(a)).toEqual([]);
  });

  test("401 after we sent a nonce: credentials are bad, the relay is gone", () => {
    const { relay, a } = setup({ password: "wrong" });
    pump(a, relay, LOCAL, T0);
    // BINDING, ALLOCATE without nonce → 401, ALLOCATE with nonce (bad MI) → 401 → give up.
    expect(relay.countOf(METHOD_ALLOCATE)).toBe(2);
    expect(kinds(drainEvents(a))).toEqual(["+host:10.0.0.2:52625", "+srflx:10.0.0.2:52625", "gone:authentication-error"]);
    expect(a.isGone()).toBe(true);
    expect(a.pollTimeout()).toBeUndefined();
  });

  test("a relay naming another realm is refused", () => {
    const { relay, a } = setup();
    relay.realm = "evil";
    pump(a, relay, LOCAL, T0);
    expect(kinds(drainEvents(a)).at(-1)).toBe("gone:authentication-error");
  });

  test("437 on ALLOCATE deletes the stale allocation (REFRESH lifetime 0) and allocates again", () => {
    const { relay, a } = setup();
    let mismatches = 1;
    relay.override[METHOD_ALLOCATE] = (m) => (m.has(ATTR_NONCE) && mismatches-- > 0 ? relay.error(m, 437, "Allocation Mismatch") : "default");
    pump(a, relay, LOCAL, T0);
    const seq = relay.received.map((m) => `${m.method}${m.method === METHOD_REFRESH ? `:${getLifetime(m)}` : ""}`);
    expect(seq).toEqual([`${METHOD_BINDING}`, `${METHOD_ALLOCATE}`, `${METHOD_ALLOCATE}`, `${METHOD_REFRESH}:0`, `${METHOD_ALLOCATE}`]);
    expect(a.hasAllocation()).toBe(true);
  });

  test("437 on REFRESH: relayed candidates invalidated, a new allocation is made", () => {
    const { relay, a } = allocated();
    relay.override[METHOD_REFRESH] = (m) => relay.error(m, 437, "Allocation Mismatch");
    relay.relayed4 = { ip: "192.0.2.1", port: 50002 };
    relay.relayed6 = undefined;
    a.refresh(T0 + 10);
    pump(a, relay, LOCAL, T0 + 10);
    expect(kinds(drainEvents(a))).toEqual(["-relay:192.0.2.1:50000", "-relay:2001:db8::1:50000", "+relay:192.0.2.1:50002"]);
  });

  test("a 438 without a NONCE is a protocol failure, not an endless retry", () => {
    const { relay, a } = allocated();
    relay.override[METHOD_REFRESH] = (m) => relay.reply(m, "error", (b) => b.addErrorCode(438, "Stale Nonce"));
    a.refresh(T0 + 5);
    pump(a, relay, LOCAL, T0 + 5);
    expect(relay.countOf(METHOD_REFRESH)).toBe(1);
    expect(a.counters["challenge-without-nonce"]).toBe(1);
    expect(kinds(drainEvents(a)).at(-1)).toBe("gone:protocol-failure");
  });

  test("420 unknown attribute is a protocol failure", () => {
    const { relay, a } = setup();
    relay.override[METHOD_ALLOCATE] = (m) => relay.reply(m, "error", (b) => b.addErrorCode(420, "Unknown Attribute").addUnknownAttributes([ATTR_REQUESTED_TRANSPORT]));
    pump(a, relay, LOCAL, T0);
    expect(kinds(drainEvents(a)).at(-1)).toBe("gone:protocol-failure");
  });

  test("answers without valid MESSAGE-INTEGRITY are dropped and the request stays pending", () => {
    const { relay, a } = setup();
    relay.override[METHOD_ALLOCATE] = (m) =>
      m.has(ATTR_NONCE) ? relay.reply(m, "success", (b) => b.addLifetime(600).addXorAddress(0x0016, { ip: "6.6.6.6", port: 6 }), false) : "default";
    pump(a, relay, LOCAL, T0);
    expect(a.hasAllocation()).toBe(false);
    expect(a.counters["drop:bad-message-integrity"]).toBe(1);
    expect(a.pollTimeout()?.reason).toBe("resend TURN request");
    delete relay.override[METHOD_ALLOCATE];
    a.handleTimeout(T0 + 1000);
    pump(a, relay, LOCAL, T0 + 1000);
    expect(a.hasAllocation()).toBe(true);
  });
});

describe("timers", () => {
  test("refresh at half the lifetime", () => {
    const { relay, a } = allocated();
    // Keep-alive (25 s) comes first; answer those until the refresh is due.
    let now = T0;
    for (;;) {
      const t = a.pollTimeout()!;
      now = t.at;
      a.handleTimeout(now);
      pump(a, relay, LOCAL, now);
      if (t.reason === "refresh allocation") break;
      expect(t.reason).toBe("TURN keep-alive");
    }
    expect(now).toBe(T0 + 300_000);
    expect(relay.countOf(METHOD_REFRESH)).toBe(1);
    expect(a.pollTimeout()!.at).toBeGreaterThan(now);
    // The refreshed lifetime counts from the answer.
    expect(relay.countOf(METHOD_BINDING)).toBe(1 + 12);
  });

  test("keep-alive BINDING every 25 s, postponed by sending ChannelData", () => {
    const { relay, a } = allocated();
    expect(a.pollTimeout()).toEqual({ at: T0 + 25_000, reason: "TURN keep-alive" });
    a.bindChannel(PEER, T0);
    pump(a, relay, LOCAL, T0);
    const buf = new Uint8Array(64);
    expect(a.encodeChannelData(PEER, buf, 4, 10, T0 + 20_000)).toEqual(relay.addr);
    expect(a.pollTimeout()).toEqual({ at: T0 + 45_000, reason: "TURN keep-alive" });
    a.handleTimeout(T0 + 45_000);
    const [t] = drainTransmits(a);
    const m = parseMessage(t.payload);
    expect(m.ok && m.message.method).toBe(METHOD_BINDING);
  });

  test("retransmission ×1.5 from 1 s, give up after 8 s: relay gone (no response)", () => {
    const { relay, a } = setup();
    relay.silent = true;
    const sentAt: number[] = [];
    let now = T0;
    for (let i = 0; i < 10 && !a.isGone(); i++) {
      for (const t of drainTransmits(a)) {
        relay.handle(LOCAL, t.payload);
        sentAt.push(now - T0);
      }
      const next = a.pollTimeout();
      if (!next) break;
      now = next.at;
      a.handleTimeout(now);
    }
    expect(sentAt).toEqual([0, 1000, 2500, 4750]);
    expect(now - T0).toBe(8125);
    expect(kinds(drainEvents(a))).toEqual(["gone:no-response-received"]);
  });

  test("a relay that stops answering after allocating: candidates invalidated, relay gone", () => {
    const { relay, a } = allocated();
    relay.silent = true;
    let now = T0;
    while (!a.isGone()) {
      const t = a.pollTimeout();
      if (!t) break;
      now = t.at;
      a.handleTimeout(now);
      drainTransmits(a);
    }
    expect(now - T0).toBe(25_000 + 8125);
    expect(kinds(drainEvents(a))).toEqual(["-relay:192.0.2.1:50000", "-relay:2001:db8::1:50000", "gone:no-response-received"]);
  });

  test("a refresh that is never answered while keep-alive BINDINGs are: the allocation is re-made after 8 s of retries", () => {
    const { relay, a } = allocated();
    relay.override[METHOD_REFRESH] = () => null; // BINDING keep-alives are still answered
    let now = T0;
    const events: string[] = [];
    while (!a.counters["allocation-unanswered"]) {
      const t = a.pollTimeout();
      if (!t) break;
      now = t.at;
      a.handleTimeout(now);
      pump(a, relay, LOCAL, now);
      events.push(...kinds(drainEvents(a)));
    }
    expect(now).toBe(T0 + 300_000 + 8125);
    expect(events).toEqual(["-relay:192.0.2.1:50000", "-relay:2001:db8::1:50000", "+relay:192.0.2.1:50000", "+relay:2001:db8::1:50000"]);
    expect(a.isGone()).toBe(false);
  });
});

describe("channels", () => {
  test("binds before the allocation exist are buffered and sent once allocated", () => {
    const { relay, a } = setup();
    a.bindChannel(PEER, T0);
    a.bindChannel(PEER, T0); // deduplicated
    pump(a, relay, LOCAL, T0);
    const binds = relay.received.filter((m) => m.method === METHOD_CHANNEL_BIND && m.has(ATTR_NONCE));
    expect(binds.length).toBe(1);
    expect(getXorPeerAddress(binds[0])).toEqual(PEER);
    expect(getChannelNumber(binds[0])).toBe(0x4000);
    expect(a.channelTo(PEER, T0)).toBe(0x4000);
  });

  test("round-robin numbers; data is sent and received on channels whose bind is still unconfirmed", () => {
    const { relay, a } = allocated();
    a.bindChannel(PEER, T0);
    a.bindChannel(PEER2, T0);
    const binds = drainTransmits(a); // not answered yet: unconfirmed
    expect(binds.length).toBe(2);
    expect(a.channelTo(PEER2, T0)).toBe(0x4001);
    const buf = new Uint8Array(32);
    buf.set([1, 2, 3], 8);
    expect(a.encodeChannelData(PEER2, buf, 8, 3, T0)).toEqual(relay.addr);
    expect(Array.from(buf.subarray(4, 11))).toEqual([0x40, 0x01, 0, 3, 1, 2, 3]);

    const incoming = new Uint8Array([0x40, 0x00, 0x00, 0x02, 9, 9]);
    // Data overtaking the bind's success answer is delivered, and counted as such.
    const early = a.handleInput(relay.addr, LOCAL, incoming, T0);
    expect(early.kind).toBe("channel-data");
    expect(a.counters["channel-data-before-bind-confirmed"]).toBe(1);
    // A number we never asked for stays a drop.
    expect(a.handleInput(relay.addr, LOCAL, new Uint8Array([0x40, 0x07, 0x00, 0x02, 9, 9]), T0).kind).toBe("consumed");
    expect(a.counters["drop:channel-data-unknown-channel"]).toBe(1);
    for (const t of binds) a.handleInput(relay.addr, LOCAL, relay.handle(LOCAL, t.payload)!, T0);
    const r = a.handleInput(relay.addr, LOCAL, incoming, T0);
    expect(r.kind).toBe("channel-data");
    if (r.kind !== "channel-data") return;
    expect(r.peer).toEqual(PEER);
    expect(r.relayed).toEqual({ ip: "192.0.2.1", port: 50000 });
    expect(incoming.subarray(r.payloadOffset, r.payloadOffset + r.payloadLength)).toEqual(new Uint8Array([9, 9]));
    expect(a.handleInput(relay.addr, LOCAL, new Uint8Array([0x40, 0x07, 0, 0]), T0).kind).toBe("consumed");
    expect(a.counters["drop:channel-data-unknown-channel"]).toBe(2);
  });

  test("sending with no channel drops the packet and asks for one", () => {
    const { relay, a } = allocated();
    const buf = new Uint8Array(16);
    expect(a.encodeChannelData(PEER, buf, 4, 4, T0)).toBeUndefined();
    expect(a.counters["send:no-channel"]).toBe(1);
    pump(a, relay, LOCAL, T0);
    expect(relay.countOf(METHOD_CHANNEL_BIND)).toBe(1);
    expect(a.encodeChannelData(PEER, buf, 3, 4, T0)).toBeUndefined(); // no headroom for the header
    expect(a.counters["send:no-headroom"]).toBe(1);
  });

  test("refreshed at 5 min only if data was received; expired after 10 min; same number rebinds", () => {
    const { relay, a } = allocated();
    a.bindChannel(PEER, T0);
    a.bindChannel(PEER2, T0);
    pump(a, relay, LOCAL, T0);
    // Data arrives on PEER's channel only.
    expect(a.handleInput(relay.addr, LOCAL, new Uint8Array([0x40, 0x00, 0, 0]), T0 + 1000).kind).toBe("channel-data");
    let now = T0;
    while (now < T0 + 300_000) {
      const t = a.pollTimeout()!;
      now = t.at;
      a.handleTimeout(now);
      pump(a, relay, LOCAL, now);
    }
    expect(now).toBe(T0 + 300_000);
    const binds = relay.received.filter((m) => m.method === METHOD_CHANNEL_BIND);
    expect(binds.map((m) => getChannelNumber(m))).toEqual([0x4000, 0x4001, 0x4000]);
    // PEER2's channel, never used, lapses at 10 minutes; sending then asks for a rebind, which
    // gets the same number because the relay keeps it reserved for that peer.
    const later = T0 + 600_000;
    expect(a.channelTo(PEER2, later)).toBeUndefined();
    expect(a.channelTo(PEER, later)).toBe(0x4000);
    expect(a.encodeChannelData(PEER2, new Uint8Array(8), 4, 4, later)).toBeUndefined();
    const [t] = drainTransmits(a);
    const m = parseMessage(t.payload);
    expect(m.ok && getChannelNumber(m.message)).toBe(0x4001);
  });

  test("a peer address that cannot be encoded is refused and counted", () => {
    const { relay, a } = allocated();
    a.bindChannel({ ip: "not-an-ip", port: 1 }, T0);
    a.bindChannel({ ip: "198.51.100.1", port: 0 }, T0);
    expect(a.counters["bind:bad-peer-address"]).toBe(2);
    pump(a, relay, LOCAL, T0);
    expect(relay.countOf(METHOD_CHANNEL_BIND)).toBe(0);
  });

  test("a failed ChannelBind frees its number", () => {
    const { relay, a } = allocated();
    relay.override[METHOD_CHANNEL_BIND] = (m) => relay.error(m, 403, "Forbidden");
    a.bindChannel(PEER, T0);
    pump(a, relay, LOCAL, T0);
    expect(a.channelTo(PEER, T0)).toBeUndefined();
    expect(a.isGone()).toBe(false);
  });

  test("437 on ChannelBind: re-allocates and re-binds the peer", () => {
    const { relay, a } = allocated();
    let once = true;
    relay.override[METHOD_CHANNEL_BIND] = (m) => (once ? ((once = false), relay.error(m, 437, "Allocation Mismatch")) : "default");
    a.bindChannel(PEER, T0);
    pump(a, relay, LOCAL, T0);
    expect(relay.received.map((m) => m.method).slice(-3)).toEqual([METHOD_CHANNEL_BIND, METHOD_ALLOCATE, METHOD_CHANNEL_BIND]);
    expect(a.hasAllocation()).toBe(true);
    // Round-robin continues after the re-allocation: the peer gets the next number.
    expect(a.channelTo(PEER, T0)).toBe(0x4001);
  });
});

describe("NAT rebinding", () => {
  /** Allocated with a channel to PEER bound, behind a NAT that maps LOCAL to 203.0.113.9:61000. */
  function behindNat() {
    const relay = new FakeRelay(USER, PASS);
    relay.mapped = { ip: "203.0.113.9", port: 61000 };
    const a = new Allocation({ server: { v4: relay.addr }, username: USER, password: PASS, now: T0, random: seededRandom(7) });
    pump(a, relay, LOCAL, T0);
    a.bindChannel(PEER, T0);
    pump(a, relay, LOCAL, T0);
    drainEvents(a);
    expect(a.isChannelBound(PEER, T0)).toBe(true);
    return { relay, a };
  }

  test("a keep-alive BINDING that sees a new mapping re-allocates at once and re-binds the channels", () => {
    const { relay, a } = behindNat();
    relay.mapped = { ip: "203.0.113.9", port: 62000 }; // the router rebooted
    relay.relayed4 = { ip: "192.0.2.1", port: 50004 };
    relay.relayed6 = undefined;
    const keepAlive = a.pollTimeout()!;
    expect(keepAlive.reason).toBe("TURN keep-alive");
    a.handleTimeout(keepAlive.at);
    const allocatesBefore = relay.countOf(METHOD_ALLOCATE);
    pump(a, relay, LOCAL, keepAlive.at);
    expect(kinds(drainEvents(a))).toEqual([
      "-srflx:203.0.113.9:61000",
      "+srflx:203.0.113.9:62000",
      "-relay:192.0.2.1:50000",
      "-relay:2001:db8::1:50000",
      "+relay:192.0.2.1:50004",
    ]);
    expect(relay.countOf(METHOD_ALLOCATE)).toBe(allocatesBefore + 1);
    expect(a.counters["nat-rebinding"]).toBe(1);
    // The channel to PEER is bound again on the new allocation, same peer.
    expect(getXorPeerAddress(relay.lastOf(METHOD_CHANNEL_BIND)!)).toEqual(PEER);
    expect(a.isChannelBound(PEER, keepAlive.at)).toBe(true);
    expect(a.relayedAddress(4)).toEqual({ ip: "192.0.2.1", port: 50004 });
  });

  test("an unchanged mapping changes nothing", () => {
    const { relay, a } = behindNat();
    const keepAlive = a.pollTimeout()!;
    a.handleTimeout(keepAlive.at);
    const allocates = relay.countOf(METHOD_ALLOCATE);
    pump(a, relay, LOCAL, keepAlive.at);
    expect(drainEvents(a)).toEqual([]);
    expect(relay.countOf(METHOD_ALLOCATE)).toBe(allocates);
    expect(a.counters["nat-rebinding"]).toBeUndefined();
  });

  test("probe: BINDING and REFRESH at once (not 25 s later); a rebinding found by it re-allocates", () => {
    const { relay, a } = behindNat();
    const t = T0 + 3_000;
    relay.mapped = { ip: "203.0.113.9", port: 62000 };
    a.probe(t);
    a.probe(t); // a second failing connection: nothing more in flight
    const sent = drainTransmits(a);
    expect(sent.map((x) => parseMessage(x.payload)).map((m) => (m.ok ? m.message.method : -1))).toEqual([METHOD_BINDING, METHOD_REFRESH]);
    // Answered by the relay: the BINDING shows the new mapping → ALLOCATE from the new 5-tuple.
    for (const x of sent) a.handleInput(relay.addr, LOCAL, relay.handle(LOCAL, x.payload)!, t);
    pump(a, relay, LOCAL, t);
    expect(a.counters["nat-rebinding"]).toBe(1);
    expect(a.isChannelBound(PEER, t)).toBe(true);
  });

  test("probe: a relay that lost the allocation (437 on REFRESH) gets a new one with the channels re-bound", () => {
    const { relay, a } = behindNat();
    let mismatches = 0;
    relay.override[METHOD_REFRESH] = (m) => (mismatches++ === 0 ? relay.error(m, 437, "Allocation Mismatch") : "default");
    const t = T0 + 3_000;
    a.probe(t);
    pump(a, relay, LOCAL, t);
    expect(mismatches).toBe(1);
    expect(kinds(drainEvents(a))).toEqual(["-relay:192.0.2.1:50000", "-relay:2001:db8::1:50000", "+relay:192.0.2.1:50000", "+relay:2001:db8::1:50000"]);
    expect(a.isChannelBound(PEER, t)).toBe(true);
  });

  test("an unanswered probe gives nothing up (our uplink may be down); the next one still works", () => {
    const { relay, a } = behindNat();
    relay.silent = true;
    let now = T0 + 1_000;
    a.probe(now);
    for (let i = 0; i < 10; i++) {
      drainTransmits(a);
      const t = a.pollTimeout()!;
      if (t.reason !== "resend TURN request") break;
      now = t.at;
      a.handleTimeout(now);
    }
    expect(a.counters["probe-unanswered"]).toBe(2);
    expect(a.isGone()).toBe(false);
    expect(a.hasAllocation()).toBe(true);
    relay.silent = false;
    relay.mapped = { ip: "203.0.113.9", port: 62000 };
    a.probe(now);
    pump(a, relay, LOCAL, now);
    expect(a.counters["nat-rebinding"]).toBe(1);
    expect(a.isChannelBound(PEER, now)).toBe(true);
  });

  test("a relay that answers BINDING but not our REFRESH lost the allocation: it is re-made, not given up", () => {
    const { relay, a } = behindNat();
    let silent = true;
    relay.override[METHOD_REFRESH] = () => (silent ? null : "default");
    let now = T0 + 1_000;
    a.probe(now);
    pump(a, relay, LOCAL, now); // the BINDING is answered, the REFRESH is not
    const allocates = relay.countOf(METHOD_ALLOCATE);
    for (let i = 0; i < 10 && relay.countOf(METHOD_ALLOCATE) === allocates; i++) {
      const t = a.pollTimeout()!;
      now = t.at;
      a.handleTimeout(now);
      pump(a, relay, LOCAL, now);
    }
    silent = false;
    expect(now - T0 - 1_000).toBe(8_125); // the REFRESH's retransmissions ran out
    expect(a.counters["allocation-unanswered"]).toBe(1);
    expect(a.isGone()).toBe(false);
    expect(a.hasAllocation()).toBe(true);
    expect(a.isChannelBound(PEER, now)).toBe(true);
  });

  test("a relay silent on everything is still given up", () => {
    const { relay, a } = behindNat();
    relay.silent = true;
    let now = T0;
    while (!a.isGone()) {
      const t = a.pollTimeout();
      if (!t) break;
      now = t.at;
      a.handleTimeout(now);
      drainTransmits(a);
    }
    expect(a.isGone()).toBe(true);
    expect(a.counters["allocation-unanswered"]).toBeUndefined();
  });

  test("the ALLOCATE answer's mapping is the reference, and it updates srflx too", () => {
    const { relay, a } = behindNat();
    expect(a.hostAndServerReflexiveCandidates().map((c) => c.address.port)).toEqual([52625, 61000]);
    // A REFRESH meets a 437 after the NAT rebound; the new ALLOCATE answer carries the new mapping.
    relay.mapped = { ip: "203.0.113.9", port: 63000 };
    let first = true;
    relay.override[METHOD_REFRESH] = (m) => (first ? ((first = false), relay.error(m, 437, "Allocation Mismatch")) : "default");
    a.refresh(T0 + 1);
    pump(a, relay, LOCAL, T0 + 1);
    expect(kinds(drainEvents(a)).filter((k) => k.includes("srflx"))).toEqual(["-srflx:203.0.113.9:61000", "+srflx:203.0.113.9:63000"]);
    // The next keep-alive sees the same mapping the allocation was made from: no second re-allocation.
    const keepAlive = a.pollTimeout()!;
    a.handleTimeout(keepAlive.at);
    pump(a, relay, LOCAL, keepAlive.at);
    expect(a.counters["nat-rebinding"]).toBeUndefined();
    expect(a.hasAllocation()).toBe(true);
  });
});

describe("restart and dual-stack servers", () => {
  test("BINDING goes to both relay addresses; the first answer picks the socket", () => {
    const relay = new FakeRelay(USER, PASS);
    const v6: SocketAddress = { ip: "2001:db8::3478", port: 3478 };
    const a = new Allocation({ server: { v4: relay.addr, v6 }, username: USER, password: PASS, now: T0, random: seededRandom(3) });
    const sent = drainTransmits(a);
    expect(sent.map((t) => t.dst)).toEqual([relay.addr, v6]);
    a.handleInput(relay.addr, LOCAL, relay.handle(LOCAL, sent[0].payload)!, T0 + 5);
    expect(a.activeServerSocket()).toEqual(relay.addr);
    expect(a.rtt()).toBe(5);
  });

  test("restart invalidates everything and starts over with the same credentials", () => {
    const { relay, a } = allocated();
    a.restart(T0 + 1);
    expect(kinds(drainEvents(a))).toEqual([
      "-host:10.0.0.2:52625",
      "-srflx:10.0.0.2:52625",
      "-relay:192.0.2.1:50000",
      "-relay:2001:db8::1:50000",
    ]);
    const local2 = { ip: "10.0.0.3", port: 52625 };
    pump(a, relay, local2, T0 + 1);
    expect(kinds(drainEvents(a))).toEqual(["+host:10.0.0.3:52625", "+srflx:10.0.0.3:52625", "+relay:192.0.2.1:50000", "+relay:2001:db8::1:50000"]);
  });

  test("restart revives a relay that was given up for not answering, but not one that refused us", () => {
    const { relay, a } = setup();
    relay.silent = true;
    for (let now = T0; !a.isGone(); ) {
      drainTransmits(a);
      now = a.pollTimeout()!.at;
      a.handleTimeout(now);
    }
    relay.silent = false;
    a.restart(T0 + 20_000);
    expect(a.isGone()).toBe(false);
    pump(a, relay, LOCAL, T0 + 20_000);
    expect(a.hasAllocation()).toBe(true);

    const bad = setup({ password: "wrong" });
    pump(bad.a, bad.relay, LOCAL, T0);
    expect(bad.a.isGone()).toBe(true);
    bad.a.restart(T0 + 1);
    expect(bad.a.isGone()).toBe(true);
    expect(drainTransmits(bad.a)).toEqual([]);
  });
});

test("request attributes are what the relay expects (sanity of the spec encoding)", () => {
  const { relay } = allocated();
  const alloc = relay.lastOf(METHOD_ALLOCATE)!;
  expect(alloc.has(ATTR_ADDITIONAL_ADDRESS_FAMILY)).toBe(true);
});
