import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ExponentialBackoff, MAX_INTERVAL_MS } from "../../src/portal/backoff.ts";
import { ChannelSession, type ChannelAction, type ChannelEvent } from "../../src/portal/channel-session.ts";
import { FIXTURES } from "./helpers.ts";

const text = (name: string) => readFileSync(join(FIXTURES, name), "utf8");

/** Drives a session by hand: collects what it sends and emits. */
function harness(topic = "test", options: { joinPayload?: unknown; maxPartitionMs?: number; random?: () => number } = {}) {
  const s = new ChannelSession({ topic, random: () => 0.5, ...options });
  const sent: string[] = [];
  const actions: ChannelAction[] = [];
  const events: ChannelEvent[] = [];
  const drain = () => {
    for (let a = s.pollAction(); a; a = s.pollAction()) {
      actions.push(a);
      if (a.type === "send") sent.push(a.text);
    }
    for (let e = s.pollEvent(); e; e = s.pollEvent()) events.push(e);
  };
  let now = 1_000_000;
  return {
    s,
    sent,
    actions,
    events,
    get now() {
      return now;
    },
    advance(ms: number) {
      now += ms;
      s.handleTimeout(now);
      drain();
    },
    /** Runs timeouts up to `now + ms` in the order the session asks for them. */
    runFor(ms: number) {
      const end = now + ms;
      for (let t = s.pollTimeout(); t && t.at <= end; t = s.pollTimeout()) {
        now = Math.max(now, t.at);
        s.handleTimeout(now);
        drain();
      }
      now = end;
    },
    connectAndOpen() {
      s.connect(now);
      s.handleOpen(now);
      drain();
    },
    receive(t: string) {
      s.handleText(t, now);
      drain();
    },
    upgradeFailed(f: Parameters<ChannelSession["handleUpgradeFailed"]>[0]) {
      s.handleUpgradeFailed(f, now);
      drain();
    },
    closed() {
      s.handleClosed(now);
      drain();
    },
    drain,
  };
}

const JOIN_OK = text("phoenix-phx_reply-5.json");

describe("ChannelSession (sans-IO phoenix channel client)", () => {
  test("the join is byte-exact with Firezone's, and messages wait for its reply (no pipelining)", () => {
    const h = harness();
    h.connectAndOpen();
    expect(h.sent).toEqual([text("phoenix-phx_join-1.json")]);
    h.s.send("bar");
    h.s.send("bar"); // deduplicated while held
    h.drain();
    expect(h.sent).toHaveLength(1);
    h.receive(JOIN_OK);
    expect(h.events[0]).toEqual({ type: "joined", response: {} });
    expect(h.sent).toEqual([text("phoenix-phx_join-1.json"), text("phoenix-message-2.json")]);
  });

  test("held messages are dropped on reconnect, not replayed stale", () => {
    const h = harness();
    h.connectAndOpen();
    h.s.send("bar");
    h.closed();
    expect(h.events.at(-1)).toMatchObject({ type: "hiccup" });
    h.runFor(2_000);
    expect(h.actions.filter((a) => a.type === "open")).toHaveLength(2);
    h.s.handleOpen(h.now);
    h.drain();
    h.receive(JOIN_OK);
    expect(h.sent.filter((t) => t.includes('"bar"'))).toEqual([]);
    expect(h.s.send("dropped-when-waiting")).toBe(true);
    h.closed();
    expect(h.s.send("nothing")).toBe(false);
    expect(h.s.dropped).toBe(1);
  });

  test("heartbeats every 10 s with increasing refs; a reply to another ref is no answer; 3 unanswered reconnect", () => {
    const h = harness();
    h.connectAndOpen();
    h.receive(JOIN_OK);
    h.advance(10_000);
    expect(h.sent.at(-1)).toBe(text("phoenix-heartbeat-1.json"));
    h.receive(text("phoenix-phx_reply-6.json")); // ref 9999: not ours
    h.advance(10_000);
    h.advance(10_000);
    expect(h.sent.slice(-3).map((t) => JSON.parse(t).ref)).toEqual([1, 2, 3]);
    expect(h.events.some((e) => e.type === "hiccup")).toBe(false);
    h.advance(10_000);
    expect(h.events.at(-1)).toMatchObject({ type: "hiccup", reason: "too many heartbeats were unanswered" });
    expect(h.actions.at(-1)).toMatchObject({ type: "close" });
  });

  test("answered heartbeats keep the channel up", () => {
    const h = harness();
    h.connectAndOpen();
    h.receive(JOIN_OK);
    for (let i = 0; i < 10; i++) {
      h.advance(10_000);
      const ref = JSON.parse(h.sent.at(-1)!).ref;
      h.receive(JSON.stringify({ topic: "phoenix", event: "phx_reply", payload: { status: "ok", response: {} }, ref }));
    }
    expect(h.events.filter((e) => e.type === "hiccup")).toEqual([]);
    expect(h.s.isJoined).toBe(true);
  });

  test("messages reach the caller; phx_close reconnects; disconnect{token_expired} is final", () => {
    const h = harness();
    h.connectAndOpen();
    h.receive(JOIN_OK);
    h.receive(text("phoenix-message-3.json"));
    expect(h.events.at(-1)).toEqual({ type: "message", event: "foo", payload: null });
    h.receive(text("phoenix-message-1.json")); // another topic: not for this channel
    expect(h.events.at(-1)).toEqual({ type: "message", event: "foo", payload: null });

    const c = harness("client");
    c.connectAndOpen();
    c.receive(JSON.stringify({ topic: "client", event: "phx_reply", payload: { status: "ok", response: {} }, ref: 0 }));
    c.receive(text("phoenix-phx_close-1.json"));
    expect(c.events.at(-1)).toMatchObject({ type: "hiccup", reason: "the portal closed the channel" });
    c.runFor(1_000);
    c.s.handleOpen(c.now);
    c.drain();
    c.receive(JSON.stringify({ topic: "client", event: "phx_reply", payload: { status: "ok", response: {} }, ref: 0 }));
    c.receive(text("phoenix-disconnect-1.json"));
    const last = c.events.at(-1)!;
    expect(last.type).toBe("fatal");
    expect(last.type === "fatal" && last.error.kind).toBe("token_expired");
    expect(c.s.isFinished).toBe(true);
    expect(c.s.pollTimeout()).toBeUndefined();
  });

  test("a refused join and a join without reply both reconnect", () => {
    const h = harness("client");
    h.connectAndOpen();
    h.receive(text("phoenix-phx_reply-4.json").replace('"ref":null', '"ref":0'));
    expect(h.events.at(-1)).toMatchObject({ type: "hiccup", reason: "join refused: disabled" });
    h.runFor(1_000);
    h.s.handleOpen(h.now);
    h.drain();
    h.advance(5_000);
    expect(h.events.at(-1)).toMatchObject({ type: "hiccup", reason: "join was not acknowledged" });
  });

  test("HTTP refusals: 401 is final (invalid_token vs authentication failed), 429/503 honour Retry-After, others retry", () => {
    const cases = JSON.parse(text("portal-http_upgrade_responses.json")).cases as any[];
    for (const c of cases) {
      const h = harness();
      h.s.connect(h.now);
      h.drain();
      const r = c.response;
      h.upgradeFailed({ status: r.status, retryAfter: r.headers["Retry-After"] ?? null, contentType: r.headers["Content-Type"], body: r.body });
      const e = h.events.at(-1)!;
      if (c.outcome.startsWith("Err(Error::InvalidToken)")) expect(e.type === "fatal" && e.error.kind).toBe("invalid_token");
      else if (c.outcome.startsWith("Err(Error::AuthenticationFailed)")) expect(e.type === "fatal" && e.error.kind).toBe("authentication_failed");
      else {
        expect(e.type).toBe("hiccup");
        const m = /backoff == (\d+) s/.exec(c.outcome);
        if (m) expect(e.type === "hiccup" && e.retryInMs).toBe(Number(m[1]) * 1000);
      }
    }
  });

  test("first connect retries every second for 15 s, then gives up", () => {
    const h = harness();
    h.s.connect(h.now);
    h.drain();
    for (let i = 0; i < 30 && !h.s.isFinished; i++) {
      h.upgradeFailed({});
      h.runFor(1_000);
    }
    const opens = h.actions.filter((a) => a.type === "open").length;
    expect(opens).toBe(16); // the first attempt and 15 retries
    const e = h.events.at(-1)!;
    expect(e.type === "fatal" && e.error.kind).toBe("unreachable");
  });

  test("reconnects after a join back off 0.5 s ×1.5 up to 60 s, reset by a successful join", () => {
    const h = harness("test", { random: () => 0.5 });
    h.connectAndOpen();
    h.receive(JOIN_OK);
    const waits: number[] = [];
    for (let i = 0; i < 20; i++) {
      h.closed();
      const e = h.events.at(-1)!;
      if (e.type !== "hiccup") throw new Error("expected a hiccup");
      waits.push(e.retryInMs);
      h.runFor(e.retryInMs);
      h.s.handleOpen(h.now);
      h.drain();
    }
    expect(waits[0]).toBe(500);
    expect(waits.slice(1, 4)).toEqual([750, 1125, 1688]);
    expect(Math.max(...waits)).toBe(MAX_INTERVAL_MS);
    h.receive(JOIN_OK);
    h.closed();
    expect(h.events.at(-1)).toMatchObject({ type: "hiccup", retryInMs: 500 });
  });

  test("back-off jitter stays within ±50 % and a partition limit ends it", () => {
    const b = new ExponentialBackoff(undefined, Math.random);
    let interval = 500;
    for (let i = 0; i < 30; i++) {
      const w = b.next(0)!;
      expect(w).toBeGreaterThanOrEqual(Math.floor(interval * 0.5));
      expect(w).toBeLessThanOrEqual(Math.ceil(interval * 1.5));
      interval = Math.min(interval * 1.5, 60_000);
    }
    const limited = new ExponentialBackoff(10_000, () => 0.5);
    expect(limited.next(0)).toBe(500);
    expect(limited.next(9_999)).toBe(750);
    expect(limited.next(10_000)).toBeUndefined();
  });

  test("a relay joins with its stamp_secret", () => {
    const h = harness("relay", { joinPayload: { stamp_secret: "abc" } });
    h.connectAndOpen();
    expect(h.sent[0]).toBe('{"topic":"relay","event":"phx_join","payload":{"stamp_secret":"abc"},"ref":0}');
  });
});
