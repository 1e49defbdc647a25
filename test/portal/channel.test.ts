import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { PortalChannel, type ChannelEvent } from "../../src/portal/channel.ts";
import { DEFAULT_SETTINGS } from "../../src/portal/config.ts";
import { loginUrl } from "../../src/portal/login-url.ts";
import { encodeAuthorizationCreated } from "../../src/portal/messages/gateway.ts";
import { PortalServer } from "../../src/portal/server.ts";
import { SqliteStore } from "../../src/portal/store/sqlite-store.ts";
import { KEY_A, KEY_B, startTestPortal, tempDir } from "./helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A channel plus a log of its messages, so tests can await one by event name. */
function channel(url: URL, token: string, topic: string, joinPayload?: unknown) {
  const messages: { event: string; payload: any }[] = [];
  const waiters: { event: string; resolve: (p: any) => void; from: number }[] = [];
  const ch = new PortalChannel({
    url,
    token,
    topic,
    joinPayload,
    onEvent: (e: ChannelEvent) => {
      if (e.type !== "message") return;
      messages.push({ event: e.event, payload: e.payload });
      for (const w of [...waiters]) {
        if (w.event === e.event) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(e.payload);
        }
      }
    },
  });
  cleanups.push(() => ch.stop());
  return {
    ch,
    messages,
    /** The next message with this event that arrives after this call. */
    next(event: string): Promise<any> {
      return new Promise((resolve) => waiters.push({ event, resolve, from: messages.length }));
    },
  };
}

describe("PortalChannel against the real portal", () => {
  test("joins, receives init, sends messages, and stops cleanly", async () => {
    const t = await startTestPortal();
    cleanups.push(() => t.stop());
    const base = `http://127.0.0.1:${t.server.port}`;
    const client = channel(loginUrl(base, "client", { deviceId: "dev-1", name: "laptop", publicKey: KEY_A }), t.tokens.alice, "client");
    const init = client.next("init");
    client.ch.start();
    const payload = await init;
    expect(payload.resources.length).toBe(3);
    expect(client.ch.joined).toBe(true);
    const relays = client.next("relays_presence");
    expect(client.ch.send("no_relays", {})).toBe(true);
    expect(await relays).toEqual({ disconnected_ids: [], connected: [] });
    client.ch.stop();
    expect(await client.ch.done()).toBeUndefined();
  });

  test("with an injected clock, heartbeats go out on the channel's schedule and the real portal answers them", async () => {
    const t = await startTestPortal();
    cleanups.push(() => t.stop());
    let now = 0;
    const timers: { at: number; fn: () => void; id: number }[] = [];
    let nextId = 0;
    const clock = {
      now: () => now,
      setTimeout: (fn: () => void, ms: number) => {
        const id = nextId++;
        timers.push({ at: now + ms, fn, id });
        return id;
      },
      clearTimeout: (id: unknown) => {
        const i = timers.findIndex((x) => x.id === id);
        if (i >= 0) timers.splice(i, 1);
      },
    };
    const events: ChannelEvent[] = [];
    const ch = new PortalChannel({ url: t.clientUrl(), token: t.tokens.alice, topic: "client", clock, onEvent: (e) => void events.push(e) });
    cleanups.push(() => ch.stop());
    ch.start();
    await ch.next("joined");
    const answered = () => t.server.portal.counters.framesIn;
    for (let i = 0; i < 5; i++) {
      // Jump to the next timer (the heartbeat) and fire it; the portal's reply arrives over the socket.
      const timer = timers.sort((a, b) => a.at - b.at).shift()!;
      expect(timer.at - now).toBe(10_000);
      now = timer.at;
      timer.fn();
      // Frames on one socket stay in order: once this push is back, the heartbeat reply is in.
      const marker = ch.next("message", (e) => e.event === "relays_presence");
      ch.send("no_relays", {});
      await marker;
    }
    // Five heartbeats answered: no hiccup, still joined; the portal saw the join, 5 heartbeats, 5 no_relays.
    expect(events.filter((e) => e.type === "hiccup")).toEqual([]);
    expect(ch.joined).toBe(true);
    expect(answered()).toBe(11);
  });

  test("a refused token ends the channel with invalid_token (no retry loop)", async () => {
    const t = await startTestPortal();
    cleanups.push(() => t.stop());
    const ch = new PortalChannel({ url: t.clientUrl(), token: "not-a-token", topic: "client" });
    ch.start();
    const error = await ch.done();
    expect(error?.kind).toBe("invalid_token");
  });

  test("429 with Retry-After: the driver learns the header and waits that long, then connects", async () => {
    let requests = 0;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, srv) {
        // The refused upgrade and the driver's plain re-request both see the 429.
        if (++requests <= 2) return new Response("", { status: 429, headers: { "retry-after": "1" } });
        return srv.upgrade(req) ? undefined : new Response("no", { status: 400 });
      },
      websocket: {
        message(ws, m) {
          const f = JSON.parse(String(m));
          if (f.event === "phx_join") ws.send(JSON.stringify({ topic: f.topic, event: "phx_reply", payload: { status: "ok", response: {} }, ref: f.ref }));
        },
      },
    });
    cleanups.push(() => server.stop(true));
    const events: ChannelEvent[] = [];
    const ch = new PortalChannel({ url: `ws://127.0.0.1:${server.port}/client/v2/websocket`, token: "t", topic: "client", onEvent: (e) => void events.push(e) });
    cleanups.push(() => ch.stop());
    ch.start();
    await ch.next("joined");
    expect(events[0]).toMatchObject({ type: "hiccup", reason: "HTTP 429", retryInMs: 1000 });
  });

  test("401 without a problem code is an authentication failure, not a bad token", async () => {
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () =>
        new Response(JSON.stringify({ title: "Unauthorized", status: 401, detail: "Invalid token" }), {
          status: 401,
          headers: { "content-type": "application/problem+json; charset=utf-8" },
        }),
    });
    cleanups.push(() => server.stop(true));
    const ch = new PortalChannel({ url: `ws://127.0.0.1:${server.port}/gateway/v2/websocket`, token: "t", topic: "gateway" });
    ch.start();
    const error = await ch.done();
    expect(error?.kind).toBe("authentication_failed");
    expect(error?.message).toBe("failed to authenticate with the portal: Invalid token");
  });

  test("revoking the token mid-session ends the channel with token_expired", async () => {
    const t = await startTestPortal();
    cleanups.push(() => t.stop());
    const client = channel(new URL(t.clientUrl()), t.tokens.alice, "client");
    const init = client.next("init");
    client.ch.start();
    await init;
    t.store.revokeToken(t.store.findTokenByName("alice-laptop")!.id, Date.now());
    t.server.modelChanged();
    expect((await client.ch.done())?.kind).toBe("token_expired");
  });

  test("portal restart on the same database: channels reconnect by themselves and access is intact", async () => {
    const { dir, cleanup } = tempDir("fz-portal-restart-");
    cleanups.push(cleanup);
    const path = join(dir, "portal.db");
    const first = await startTestPortal({ path });
    const port = first.server.port;
    const tokens = first.tokens;
    const lan = first.store.findResource("lan")!.id;
    let firstStopped = false;
    cleanups.push(async () => {
      if (!firstStopped) await first.stop();
    });

    const gateway = channel(new URL(first.gatewayUrl("gw-1", KEY_B)), tokens.hq, "gateway");
    const client = channel(new URL(first.clientUrl("dev-1", KEY_A)), tokens.alice, "client");
    const gwInit = gateway.next("init");
    const clInit = client.next("init");
    gateway.ch.start();
    client.ch.start();
    const gatewayInit = await gwInit;
    const clientInit = await clInit;

    // The gateway answers create_authorization like connlib's gateway does.
    gateway.ch.on((e) => {
      if (e.type === "message" && e.event === "create_authorization") {
        const inner = JSON.parse(encodeAuthorizationCreated((e.payload as { ref: string }).ref));
        gateway.ch.send(inner.event, inner.payload);
      }
    });
    const created = client.next("authorization_created");
    client.ch.send("request_authorization", { resource_id: lan, connected_gateway_ids: [] });
    const authorization = await created;
    expect(authorization.resource_id).toBe(lan);

    // Stop the portal; both channels notice and start backing off.
    const gwHiccup = gateway.ch.next("hiccup");
    const clHiccup = client.ch.next("hiccup");
    await first.server.stop();
    first.store.close();
    firstStopped = true;
    await Promise.all([gwHiccup, clHiccup]);

    // Start a new portal on the same port and database.
    const store = new SqliteStore(path);
    const server = new PortalServer({ store, port, settings: DEFAULT_SETTINGS });
    cleanups.push(async () => {
      await server.stop();
      store.close();
    });
    const gwInit2 = gateway.next("init");
    const clInit2 = client.next("init");
    const [gatewayInit2, clientInit2] = await Promise.all([gwInit2, clInit2]);

    // Same addresses, same resources, and the gateway is told about the access it had.
    expect(clientInit2.interface).toEqual(clientInit.interface);
    expect(clientInit2.resources).toEqual(clientInit.resources);
    expect(gatewayInit2.interface).toEqual(gatewayInit.interface);
    expect(gatewayInit2.authorizations).toHaveLength(1);
    expect(gatewayInit2.authorizations[0].resource_id).toBe(lan);
    // And new authorizations work through the restarted portal.
    const again = client.next("authorization_created");
    client.ch.send("request_authorization", { resource_id: lan, connected_gateway_ids: [authorization.gateway_id] });
    expect((await again).gateway_id).toBe(authorization.gateway_id);
  });
});
