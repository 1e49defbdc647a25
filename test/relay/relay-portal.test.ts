import { afterEach, describe, expect, test } from "bun:test";
import type { ServerWebSocket } from "bun";
import { hostname } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../src/cli/exit.ts";
import { relayConfig } from "../../src/cli/relay.ts";
import { PortalChannel } from "../../src/portal/channel.ts";
import { applyConfig, validateConfig } from "../../src/portal/config.ts";
import { loginUrl } from "../../src/portal/login-url.ts";
import { encodeMessage, encodeReplyOk } from "../../src/portal/phoenix.ts";
import { PortalServer } from "../../src/portal/server.ts";
import { SqliteStore } from "../../src/portal/store/sqlite-store.ts";
import { checkUsername, generateSecret } from "../../src/relay/credentials.ts";
import { PortalPresence } from "../../src/relay/portal-presence.ts";
import { disconnectedIn, Recorder, relaysIn } from "../support/portal-events.ts";

const CLIENT_TOKEN = "client-token-for-relay-portal";
const GATEWAY_TOKEN = "gateway-token-for-relay-portal";
const RELAY_TOKEN = "relay-token-for-relay-portal";
const CLIENT_KEY = "S6REkbStSNMfn8hpLkVxibjR+zz3RO/Gq40TprHJE2U=";
const GATEWAY_KEY = "uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY=";

/** Upper bound for waiting on an expected event, only so a broken build fails instead of hanging. */
const WAIT_MS = 10_000;

describe("relayConfig: portal flags", () => {
  const base = { listen: "127.0.0.1" };

  test("--portal and --token (and --name) join a portal; the generated secret is kept", () => {
    const c = relayConfig({ ...base, portal: "http://127.0.0.1:8080", token: "tok", name: "edge-1" }, {});
    expect(c.portal).toEqual({ url: "http://127.0.0.1:8080", token: "tok", name: "edge-1" });
    expect(c.secretGenerated).toBe(true);
    expect(c.secret).toMatch(/^[0-9a-f]{64}$/);
  });

  test("Firezone's environment: FIREZONE_API_URL, FIREZONE_TOKEN, FIREZONE_NAME; flags win", () => {
    const env = { FIREZONE_API_URL: "wss://portal.example", FIREZONE_TOKEN: "envtok", FIREZONE_NAME: "envname" };
    expect(relayConfig(base, env).portal).toEqual({ url: "wss://portal.example", token: "envtok", name: "envname" });
    expect(relayConfig({ ...base, portal: "ws://127.0.0.1:1", token: "flagtok", name: "flag" }, env).portal).toEqual({
      url: "ws://127.0.0.1:1",
      token: "flagtok",
      name: "flag",
    });
  });

  test("the name defaults to the host name", () => {
    expect(relayConfig({ ...base, portal: "http://127.0.0.1:8080", token: "tok" }, {}).portal?.name).toBe(hostname());
  });

  test("no token: no portal, even with FIREZONE_API_URL in the environment", () => {
    expect(relayConfig(base, { FIREZONE_API_URL: "http://127.0.0.1:8080" }).portal).toBeUndefined();
  });

  test("usage errors", () => {
    const bad: [Record<string, unknown>, Record<string, string>][] = [
      [{ ...base, portal: "http://127.0.0.1:8080" }, {}],
      [{ ...base, token: "tok" }, {}],
      [base, { FIREZONE_TOKEN: "tok" }],
      [{ ...base, portal: "not a url", token: "tok" }, {}],
      [{ ...base, portal: "ftp://127.0.0.1", token: "tok" }, {}],
      [{ ...base, portal: "http://127.0.0.1", token: "two words" }, {}],
      [{ ...base, name: "lonely" }, {}],
    ];
    for (const [args, env] of bad) expect(() => relayConfig(args, env)).toThrow(UsageError);
  });
});

describe("firezone relay command: portal flags", () => {
  const MAIN = join(import.meta.dir, "../../src/cli/main.ts");
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const p = Bun.spawn([process.execPath, MAIN, "relay", ...args], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, FIREZONE_TOKEN: "", FIREZONE_API_URL: "", ...env },
    });
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    return { code: await p.exited, out, err };
  };

  test("--help documents --portal, --token and --name", async () => {
    const { code, out } = await run(["--help"]);
    expect(code).toBe(0);
    for (const f of ["--portal", "--token", "--name", "FIREZONE_API_URL", "FIREZONE_TOKEN"]) expect(out).toContain(f);
  });

  test("a token without a portal URL is a usage error (exit 2), before anything listens", async () => {
    const { code, err } = await run(["--listen", "127.0.0.1", "--port", "1"], { FIREZONE_TOKEN: "tok" });
    expect(code).toBe(2);
    expect(err).toContain("--portal");
  });
});

/** Resolves once `cond()` holds (checked every few ms); fails after WAIT_MS with `what`. */
function waitFor(what: string, cond: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} never happened`)), WAIT_MS);
    const check = () => (cond() ? (clearTimeout(timer), resolve()) : setTimeout(check, 5));
    check();
  });
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function newStore(): SqliteStore {
  const store = new SqliteStore(":memory:");
  const config = validateConfig({
    actors: [{ name: "alice", email: "alice@corp.example" }],
    groups: [{ name: "eng", members: ["alice"] }],
    sites: [{ name: "hq" }],
    resources: [{ name: "lan", type: "cidr", address: "10.20.0.0/16", sites: ["hq"] }],
    policies: [{ group: "eng", resource: "lan" }],
    tokens: [
      { name: "alice-laptop", kind: "client", actor: "alice", secret: CLIENT_TOKEN },
      { name: "hq-gw", kind: "gateway", site: "hq", secret: GATEWAY_TOKEN },
      { name: "relay-1", kind: "relay", secret: RELAY_TOKEN },
    ],
  });
  applyConfig(store, config, Date.now());
  return store;
}

/** A fresh store and a portal on it, both closed after the test. */
function startWorld(): { store: SqliteStore; server: PortalServer } {
  const store = newStore();
  const server = startPortal(store);
  cleanups.push(() => store.close(), () => server.stop());
  return { store, server };
}

function startPortal(store: SqliteStore, port = 0): PortalServer {
  const server = new PortalServer({ store, port });
  return server;
}

function device(server: PortalServer, role: "client" | "gateway"): { channel: PortalChannel; heard: Recorder } {
  const url = loginUrl(server.url, role, role === "client" ? { deviceId: "laptop-1", name: "laptop", publicKey: CLIENT_KEY } : { deviceId: "gw-1", name: "gw", publicKey: GATEWAY_KEY });
  const channel = new PortalChannel({ url, token: role === "client" ? CLIENT_TOKEN : GATEWAY_TOKEN, topic: role });
  const heard = new Recorder(channel, WAIT_MS);
  channel.start();
  cleanups.push(() => channel.stop());
  return { channel, heard };
}

function presence(server: PortalServer, secret: string, token = RELAY_TOKEN): PortalPresence {
  const p = new PortalPresence({ apiUrl: server.url, token, name: "edge-1", port: 3478, publicIpv4: "192.0.2.7", publicIpv6: "2001:db8::7", secret });
  cleanups.push(() => p.stop());
  return p;
}

describe("PortalPresence against the portal", () => {
  test("joins with stamp_secret: clients and gateways get credentials that only this secret verifies", async () => {
    const { server } = startWorld();
    const client = device(server, "client");
    const gateway = device(server, "gateway");
    await client.heard.until((e) => e.type === "joined");
    await gateway.heard.until((e) => e.type === "joined");

    const secret = generateSecret();
    const relay = presence(server, secret);
    relay.start();
    const heardByClient = relaysIn(await client.heard.until((e) => relaysIn(e).length > 0));
    const heardByGateway = relaysIn(await gateway.heard.until((e) => relaysIn(e).length > 0));
    await waitFor("relay online", () => relay.state === "online");
    expect(relay.joinCount).toBe(1);

    // The query parameters named the relay and its public addresses on the announced port.
    const online = server.portal.onlineRelays();
    expect(online).toHaveLength(1);
    expect(online[0]!.name).toBe("edge-1");
    expect(online[0]!.addrs).toEqual(["192.0.2.7:3478", "[2001:db8::7]:3478"]);
    for (const entries of [heardByClient, heardByGateway]) {
      expect(entries.map((r) => r.addr).sort()).toEqual(["192.0.2.7:3478", "[2001:db8::7]:3478"]);
      for (const r of entries) {
        expect(r.id).toBe(online[0]!.id);
        const ok = checkUsername(secret, r.username, Date.now() / 1000);
        expect(ok.ok && ok.password).toBe(r.password);
        const other = checkUsername(generateSecret(), r.username, Date.now() / 1000);
        expect(other.ok && other.password).not.toBe(r.password);
      }
    }
  });

  test("leave(): the portal drops the relay at once and tells clients disconnected_ids", async () => {
    const { server } = startWorld();
    const client = device(server, "client");
    const relay = presence(server, generateSecret());
    relay.start();
    const id = relaysIn(await client.heard.until((e) => relaysIn(e).length > 0))[0]!.id;

    await relay.leave();
    expect(relay.state).toBe("left");
    expect(await relay.done()).toBeUndefined();
    const gone = await client.heard.until((e) => disconnectedIn(e).includes(id));
    expect(disconnectedIn(gone)).toEqual([id]);
    expect(server.portal.onlineRelays()).toEqual([]);
  });

  test("a restarted portal: the relay joins again by itself", async () => {
    const store = newStore();
    let server = startPortal(store);
    const port = server.port;
    cleanups.push(() => store.close(), () => server.stop());
    const relay = presence(server, generateSecret());
    relay.start();
    const joined = () => waitFor("relay joined", () => relay.state === "online" && server.portal.onlineRelays().length === 1);
    await joined();
    expect(relay.joinCount).toBe(1);

    await server.stop();
    server = startPortal(store, port);
    await joined();
    expect(relay.joinCount).toBe(2);
    expect(server.portal.onlineRelays()[0]!.name).toBe("edge-1");
  });

  test("a refused token ends the presence with invalid_token", async () => {
    const { server } = startWorld();
    const relay = presence(server, generateSecret(), "not-a-relay-token-at-all");
    relay.start();
    const error = await relay.done();
    expect(error?.kind).toBe("invalid_token");
    expect(relay.state).toBe("failed");
    // A client token is a valid token, but not for the relay socket.
    const wrongKind = presence(server, generateSecret(), CLIENT_TOKEN);
    wrongKind.start();
    expect((await wrongKind.done())?.kind).toBe("invalid_token");
  });

  test("a token revoked while joined: disconnect{token_expired} ends the presence", async () => {
    const { store, server } = startWorld();
    const client = device(server, "client");
    const relay = presence(server, generateSecret());
    relay.start();
    const id = relaysIn(await client.heard.until((e) => relaysIn(e).length > 0))[0]!.id;
    store.revokeToken(store.findTokenByName("relay-1")!.id, Date.now());
    server.modelChanged();
    expect((await relay.done())?.kind).toBe("token_expired");
    expect(relay.state).toBe("failed");
    await client.heard.until((e) => disconnectedIn(e).includes(id));
  });
});

describe("PortalPresence on the wire", () => {
  test("URL, header, join payload and phx_leave as Firezone's relay sends them", async () => {
    const frames: { topic: string; event: string; payload: unknown; ref: unknown }[] = [];
    let upgrade: { url: URL; auth: string | null } | undefined;
    const fake = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, srv) {
        upgrade = { url: new URL(req.url), auth: req.headers.get("x-authorization") };
        return srv.upgrade(req, { data: undefined }) ? undefined : new Response("no", { status: 400 });
      },
      websocket: {
        message(ws: ServerWebSocket<undefined>, text) {
          const f = JSON.parse(String(text));
          frames.push(f);
          if (f.event === "phx_join") {
            ws.send(encodeReplyOk("relay", f.ref));
            ws.send(encodeMessage("relay", "init", {}, null));
          }
          if (f.event === "phx_leave") {
            ws.send(encodeReplyOk("relay", f.ref));
            ws.close(1000, "left");
          }
        },
      },
    });
    cleanups.push(() => fake.stop(true));
    const secret = generateSecret();
    const relay = new PortalPresence({ apiUrl: `http://127.0.0.1:${fake.port}/ignored/path?x=1`, token: " tok\n", name: "edge 1", port: 3479, publicIpv4: "198.51.100.4", secret });
    cleanups.push(() => relay.stop());
    relay.start();
    await waitFor("relay online", () => relay.state === "online");
    expect(upgrade!.url.pathname).toBe("/relay/websocket");
    expect(Object.fromEntries(upgrade!.url.searchParams)).toEqual({ name: "edge 1", ipv4: "198.51.100.4", port: "3479" });
    expect(upgrade!.auth).toBe("Bearer tok");
    expect(frames[0]).toMatchObject({ topic: "relay", event: "phx_join", payload: { stamp_secret: secret } });

    await relay.leave();
    expect(frames.at(-1)).toMatchObject({ topic: "relay", event: "phx_leave" });
    expect(relay.state).toBe("left");
    expect(await relay.done()).toBeUndefined();
  });

  test("a relay without a public address cannot be announced", () => {
    expect(() => new PortalPresence({ apiUrl: "http://127.0.0.1:1", token: "t", name: "n", port: 3478, secret: "s".repeat(32) })).toThrow(RangeError);
  });
});
