import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { admit } from "../../src/portal/admission.ts";
import { applyConfig, validateConfig } from "../../src/portal/config.ts";
import { decodeMessage } from "../../src/portal/phoenix.ts";
import { Portal, type Conn, type Session } from "../../src/portal/portal.ts";
import { SqliteStore } from "../../src/portal/store/sqlite-store.ts";
import { issueToken } from "../../src/portal/tokens.ts";
import { mulberry32 as rng } from "../support/prng.ts";
import { FIXTURES, KEY_A, KEY_B } from "./helpers.ts";

function mutate(text: string, r: () => number): string {
  const bytes = [...text];
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * Math.max(1, bytes.length));
    const op = Math.floor(r() * 4);
    const ch = String.fromCharCode(Math.floor(r() * 128));
    if (op === 0) bytes[at] = ch;
    else if (op === 1) bytes.splice(at, 1);
    else if (op === 2) bytes.splice(at, 0, ch);
    else bytes.splice(at, Math.floor(r() * 8));
  }
  return bytes.join("");
}

/** Replaces one value somewhere in a JSON tree with something of another type. */
function retype(value: unknown, r: () => number): unknown {
  const odd = [null, 0, -1, 1e308, "", "x".repeat(300), [], {}, true, "00000000-0000-0000-0000-000000000000"];
  if (r() < 0.2 || value === null || typeof value !== "object") return odd[Math.floor(r() * odd.length)];
  if (Array.isArray(value)) return value.length === 0 ? [odd[Math.floor(r() * odd.length)]] : value.map((v) => (r() < 0.5 ? retype(v, r) : v));
  const o = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(o);
  if (keys.length > 0) {
    const k = keys[Math.floor(r() * keys.length)]!;
    if (r() < 0.2) delete o[k];
    else o[k] = retype(o[k], r);
  }
  return o;
}

describe("fuzzing the portal with mutated valid frames", () => {
  test("every frame ends in a reply, a push or a counted drop; nothing throws; the portal keeps serving", () => {
    const store = new SqliteStore();
    applyConfig(
      store,
      validateConfig({
        actors: [{ name: "alice" }],
        groups: [{ name: "g", members: ["alice"] }],
        sites: [{ name: "hq" }],
        resources: [{ name: "lan", type: "cidr", address: "10.0.0.0/8", sites: ["hq"] }],
        policies: [{ group: "g", resource: "lan" }],
      }),
      0,
    );
    const clientSecret = issueToken(store, { kind: "client", name: "c", actorId: store.findActor("alice")!.id }, 0).secret;
    const gatewaySecret = issueToken(store, { kind: "gateway", name: "g", siteId: store.findSite("hq")!.id }, 0).secret;
    const portal = new Portal({ store, publicUrl: "http://127.0.0.1:1", authorizationTimeoutMs: 1000 });
    const outbox: string[] = [];
    let closes = 0;
    const conn: Conn = { send: (t) => void outbox.push(t), close: () => void closes++ };
    const open = (kind: "client" | "gateway"): Session => {
      const path = kind === "client" ? "/client/v2/websocket" : "/gateway/v2/websocket";
      const q = new URLSearchParams({ external_id: `${kind}-1`, public_key: kind === "client" ? KEY_A : KEY_B });
      const a = admit(store, path, `Bearer ${kind === "client" ? clientSecret : gatewaySecret}`, q, 0);
      if (!a.ok) throw new Error(a.detail);
      const s = portal.open(a.identity, conn);
      portal.handleFrame(s, JSON.stringify({ topic: kind, event: "phx_join", payload: null, ref: 0 }), 0);
      return s;
    };
    let client = open("client");
    let gateway = open("gateway");
    const lan = store.findResource("lan")!.id;

    const seeds: { kind: "client" | "gateway"; text: string }[] = [
      { kind: "client", text: JSON.stringify({ topic: "client", ...JSON.parse(readFileSync(join(FIXTURES, "client-request_authorization-2.json"), "utf8")), ref: 1 }) },
      { kind: "client", text: JSON.stringify({ topic: "client", event: "request_authorization", payload: { resource_id: lan, connected_gateway_ids: [] }, ref: 2 }) },
      { kind: "client", text: JSON.stringify({ topic: "client", event: "new_gateway_ice_candidates", payload: JSON.parse(readFileSync(join(FIXTURES, "client-gateway_ice_candidates-1.json"), "utf8")), ref: 3 }) },
      { kind: "client", text: readFileSync(join(FIXTURES, "phoenix-heartbeat-1.json"), "utf8") },
      { kind: "client", text: JSON.stringify({ topic: "client", ...JSON.parse(readFileSync(join(FIXTURES, "client-set_snownet_capabilities-1.json"), "utf8")), ref: 4 }) },
      { kind: "client", text: JSON.stringify({ topic: "client", event: "resolve_device_pool_domain", payload: { resource_id: lan, domain: "a.b" }, ref: 5 }) },
      { kind: "gateway", text: JSON.stringify({ topic: "gateway", ...JSON.parse(readFileSync(join(FIXTURES, "gateway-authorization_created-1.json"), "utf8")), ref: 1 }) },
      { kind: "gateway", text: JSON.stringify({ topic: "gateway", event: "broadcast_ice_candidates", payload: { client_ids: [client.kind === "client" ? client.client.id : ""], candidates: ["candidate:1 1 udp 1 1.2.3.4 5 typ host"] }, ref: 2 }) },
      { kind: "gateway", text: JSON.stringify({ topic: "gateway", event: "no_relays", payload: {}, ref: 3 }) },
    ];
    const r = rng(0x5eed);
    const ITERATIONS = 100_000;
    let now = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const seed = seeds[Math.floor(r() * seeds.length)]!;
      let text = seed.text;
      const how = r();
      if (how < 0.45) text = mutate(text, r);
      else if (how < 0.9) {
        const d = decodeMessage(text);
        if (d.ok) text = JSON.stringify({ topic: d.message.topic, event: d.message.event, payload: retype(d.message.payload, r), ref: d.message.rawRef });
      }
      const session = seed.kind === "client" ? client : gateway;
      const before = outbox.length + closes + Object.values(portal.counters.dropped).reduce((a, b) => a + b, 0) + portal.pendingAuthorizations();
      portal.handleFrame(session, text, now);
      const after = outbox.length + closes + Object.values(portal.counters.dropped).reduce((a, b) => a + b, 0) + portal.pendingAuthorizations();
      // Frames with no answer by design: capabilities, and a broadcast to nobody.
      if (after === before) expect(text.includes("set_snownet_capabilities") || text.includes('"client_ids":[]')).toBe(true);
      now += 1;
      if (i % 1000 === 999) portal.handleTimeout(now + 5000);
      // A socket closed for too many bad frames comes back, as a real device would.
      if (session.closed) {
        portal.close(session, now);
        if (seed.kind === "client") client = open("client");
        else gateway = open("gateway");
      }
      if (outbox.length > 10_000) outbox.length = 0;
    }
    // Still serving: a clean request gets its create_authorization.
    outbox.length = 0;
    portal.handleFrame(client, JSON.stringify({ topic: "client", event: "request_authorization", payload: { resource_id: lan, connected_gateway_ids: [] }, ref: 9 }), now);
    expect(outbox.some((t) => t.includes('"create_authorization"'))).toBe(true);
    expect(Object.keys(portal.counters.dropped).length).toBeGreaterThan(0);
    store.close();
  });
});
