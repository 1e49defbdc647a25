import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { checkUsername, generatePassword } from "../../src/relay/credentials.ts";
import { readIngestClaims } from "../../src/portal/ingest-token.ts";
import { encodeAuthorizationCreated } from "../../src/portal/messages/gateway.ts";
import { FIXTURES, KEY_A, KEY_B, KEY_C, TestSocket, startTestPortal, type Frame } from "./helpers.ts";

const RELAY_SECRET = "4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab";

function fixture(name: string): any {
  return JSON.parse(readFileSync(join(FIXTURES, name), "utf8"));
}

/** The structure of a JSON value: keys and value types, arrays by their first element. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.length === 0 ? [] : [shape(v[0])];
  if (v === null) return "null";
  if (typeof v === "object") return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, shape((v as any)[k])]));
  return typeof v;
}

/** A gateway's answer to create_authorization, as connlib's gateway writes it (wrapped by phoenix). */
function answer(gateway: TestSocket, create: Frame): void {
  const inner = JSON.parse(encodeAuthorizationCreated(create.payload.ref));
  gateway.push("gateway", inner.event, inner.payload);
}

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(options: Parameters<typeof startTestPortal>[0] = {}) {
  const p = await startTestPortal(options);
  const sockets: TestSocket[] = [];
  cleanups.push(async () => {
    for (const s of sockets) s.close();
    await p.stop();
  });
  const open = async (url: string, token: string | null) => {
    const s = await TestSocket.open(url, token);
    sockets.push(s);
    return s;
  };
  const client = async (externalId = "device-1", token = p.tokens.alice, key = KEY_A) => {
    const s = await open(p.clientUrl(externalId, key), token);
    expect((await s.join("client")).payload).toEqual({ status: "ok", response: {} });
    return { socket: s, init: await s.next("init") };
  };
  const gateway = async (externalId = "gw-1", token = p.tokens.hq, key = KEY_B) => {
    const s = await open(p.gatewayUrl(externalId, key), token);
    expect((await s.join("gateway")).payload.status).toBe("ok");
    return { socket: s, init: await s.next("init") };
  };
  const relay = async (name = "relay-1", secret = RELAY_SECRET) => {
    const s = await open(p.relayUrl(name), p.tokens.relay);
    expect((await s.join("relay", { stamp_secret: secret })).payload.status).toBe("ok");
    expect((await s.next("init")).payload).toEqual({});
    return s;
  };
  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${p.server.url}/admin/v1/${path}`, {
      method,
      headers: { authorization: `Bearer ${p.tokens.admin}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return { ...p, open, client, gateway, relay, admin };
}

async function authorize(client: TestSocket, gateway: TestSocket, resourceId: string, preferred: string[] = []) {
  client.push("client", "request_authorization", { resource_id: resourceId, connected_gateway_ids: preferred });
  const create = await gateway.next("create_authorization");
  answer(gateway, create);
  const created = await client.next((f) => f.event === "authorization_created" || f.event === "authorization_creation_failed");
  return { create, created };
}

describe("client, gateway and relay flows over real sockets", () => {
  test("client init: tunnel addresses, allowed resources only, flow_logs; shapes match Firezone's", async () => {
    const t = await setup({ settings: { upstreamDo53: ["1.1.1.1"], searchDomain: "corp.example" } });
    const { init } = await t.client();
    const p = init.payload;
    expect(init.topic).toBe("client");
    expect(p.interface.ipv4).toMatch(/^100\.(6[4-9]|[78]\d|9[0-5])\./);
    expect(p.interface.ipv6).toMatch(/^fd00:2021:1111::/);
    expect(p.interface.upstream_do53).toEqual([{ ip: "1.1.1.1" }]);
    expect(p.interface.search_domain).toBe("corp.example");
    expect(p.resources.map((r: any) => r.name).sort()).toEqual(["gitlab", "labnet", "lan"]);
    const gitlab = p.resources.find((r: any) => r.name === "gitlab");
    expect(gitlab.ip_stack).toBe("ipv4_only");
    expect(gitlab.filters).toEqual([{ protocol: "tcp", port_range_start: 443, port_range_end: 443 }]);
    // Same fields as Firezone's own resource descriptions (client-resource_description-1.json).
    const golden = fixture("client-resource_description-1.json");
    for (const key of Object.keys(golden)) expect(gitlab).toHaveProperty(key);
    expect(shape(gitlab.gateway_groups)).toEqual(shape(golden.gateway_groups));
    const lan = p.resources.find((r: any) => r.name === "lan");
    const goldenCidr = fixture("client-init-3.json").payload.resources[0];
    for (const key of Object.keys(goldenCidr)) expect(lan).toHaveProperty(key);
    expect(shape(p.flow_logs)).toEqual(shape(fixture("client-init-1.json").flow_logs));
    expect(p.flow_logs.upload_interval_secs).toBe(0);
    expect(p.relays).toEqual([]);
  });

  test("relay join derives per-device credentials; relays_presence on join and leave", async () => {
    const t = await setup();
    const c = await t.client();
    const g = await t.gateway();
    const relay = await t.relay();
    const forClient = await c.socket.next("relays_presence");
    const forGateway = await g.socket.next("relays_presence");
    const golden = fixture("client-relays_presence-1.json").payload;
    expect(shape(forClient.payload.connected[0])).toEqual(shape(golden.connected[0]));
    expect(Object.keys(forClient.payload).sort()).toEqual(Object.keys(golden).sort());
    expect(forClient.payload.connected.map((r: any) => r.addr)).toEqual(["192.0.2.10:3478", "[2001:db8::10]:3478"]);
    for (const entry of [...forClient.payload.connected, ...forGateway.payload.connected]) {
      const [expiry, salt] = entry.username.split(":");
      expect(Number(expiry)).toBe(entry.expires_at);
      expect(entry.password).toBe(generatePassword(RELAY_SECRET, Number(expiry), salt));
      expect(checkUsername(RELAY_SECRET, entry.username, Date.now() / 1000)).toMatchObject({ ok: true, password: entry.password });
    }
    // Each device gets its own username.
    expect(forClient.payload.connected[0].username).not.toBe(forGateway.payload.connected[0].username);
    // A device that joins later finds the relay in its init.
    const c2 = await t.client("device-2");
    expect(c2.init.payload.relays).toHaveLength(2);
    const relayId = forClient.payload.connected[0].id;
    relay.close();
    const gone = await c.socket.next("relays_presence");
    expect(gone.payload).toEqual({ disconnected_ids: [relayId], connected: [] });
    expect((await g.socket.next("relays_presence")).payload.disconnected_ids).toEqual([relayId]);
  });

  test("authorization round trip: create_authorization to the gateway, authorization_created to the client", async () => {
    const t = await setup();
    await t.relay();
    const c = await t.client();
    const g = await t.gateway();
    expect(shape(g.init.payload.interface)).toEqual(shape(fixture("gateway-init-1.json").payload.interface));
    expect(g.init.payload.config).toEqual({ ipv4_masquerade_enabled: true, ipv6_masquerade_enabled: true });
    expect(g.init.payload.relays).toHaveLength(2);
    expect(g.init.payload.authorizations).toEqual([]);
    const gitlab = c.init.payload.resources.find((r: any) => r.name === "gitlab");
    c.socket.push("client", "set_snownet_capabilities", { iceless: true });
    const { create, created } = await authorize(c.socket, g.socket, gitlab.id);

    const goldenCreate = fixture("gateway-create_authorization-1.json").payload;
    const required = ["ref", "resource", "client", "client_ice_credentials", "gateway_ice_credentials", "expires_at", "flow_logs_ingest_token"];
    for (const key of required) expect(create.payload).toHaveProperty(key);
    expect(shape(create.payload.client)).toEqual(shape(goldenCreate.client));
    expect(shape(create.payload.client_ice_credentials)).toEqual(shape(goldenCreate.client_ice_credentials));
    expect(create.payload.resource).toEqual({
      id: gitlab.id,
      type: "dns",
      name: "gitlab",
      address: "gitlab.corp.example",
      filters: [{ protocol: "tcp", port_range_start: 443, port_range_end: 443 }],
    });
    expect(create.payload.client.public_key).toBe(KEY_A);
    expect(create.payload.client.ipv4).toBe(c.init.payload.interface.ipv4);
    expect(create.payload.expires_at).toBeGreaterThan(Date.now() / 1000);
    expect(readIngestClaims(create.payload.flow_logs_ingest_token)).toMatchObject({ role: "responder", resource_id: gitlab.id, uploads_enabled: false });

    expect(created.event).toBe("authorization_created");
    const goldenCreated = fixture("client-authorization_created-2.json").payload;
    expect(shape(created.payload)).toEqual(shape(goldenCreated));
    expect(created.payload.resource_id).toBe(gitlab.id);
    expect(created.payload.gateway_public_key).toBe(KEY_B);
    expect(created.payload.gateway_ipv4).toBe(g.init.payload.interface.ipv4);
    expect(created.payload.preshared_key).toBe(create.payload.client.preshared_key);
    expect(created.payload.client_ice_credentials).toEqual(create.payload.client_ice_credentials);
    expect(created.payload.gateway_ice_credentials).toEqual(create.payload.gateway_ice_credentials);
    expect(created.payload.client_ice_credentials).not.toEqual(created.payload.gateway_ice_credentials);
    expect(created.payload.use_iceless).toBe(false); // the portal flag is off
    expect(readIngestClaims(created.payload.flow_logs_ingest_token)).toMatchObject({ role: "initiator", initiator_actor_email: "alice@corp.example" });
  });

  test("ICE candidates and invalidations are forwarded both ways", async () => {
    const t = await setup();
    const c = await t.client();
    const g = await t.gateway();
    const lan = c.init.payload.resources.find((r: any) => r.name === "lan");
    const { created } = await authorize(c.socket, g.socket, lan.id);
    const gatewayId = created.payload.gateway_id;
    const clientId = (await g.socket.frames.find((f) => f.event === "create_authorization"))!.payload.client.id;
    const candidate = "candidate:7031633958891736544 1 udp 50331391 35.244.108.190 53909 typ relay";

    c.socket.push("client", "new_gateway_ice_candidates", { gateway_id: gatewayId, candidates: [candidate] });
    const toGateway = await g.socket.next("ice_candidates");
    expect(toGateway.payload).toEqual({ client_id: clientId, candidates: [candidate] });
    expect(shape(toGateway.payload)).toEqual(shape(fixture("gateway-ice_candidates-1.json")));

    c.socket.push("client", "invalidate_gateway_ice_candidates", { gateway_id: gatewayId, candidates: [candidate] });
    const invalidated = await g.socket.next("invalidate_ice_candidates");
    expect(shape(invalidated.payload)).toEqual(shape(fixture("gateway-invalidate_ice_candidates-1.json").payload));

    g.socket.push("gateway", "broadcast_ice_candidates", { client_ids: [clientId], candidates: [candidate] });
    const toClient = await c.socket.next("ice_candidates");
    expect(toClient.payload).toEqual({ gateway_id: gatewayId, candidates: [candidate] });
    expect(shape(toClient)).toEqual(shape({ ...fixture("client-ice_candidates-1.json"), ref: null }));

    g.socket.push("gateway", "broadcast_invalidated_ice_candidates", { client_ids: [clientId], candidates: [candidate] });
    const inv = await c.socket.next("invalidate_ice_candidates");
    expect(shape(inv.payload)).toEqual(shape(fixture("client-invalidate_ice_candidates-1.json").payload));

    // Candidates for a gateway the client was never introduced to go nowhere.
    const before = g.socket.frames.length;
    c.socket.push("client", "new_gateway_ice_candidates", { gateway_id: crypto.randomUUID(), candidates: [candidate] });
    const hb = c.socket.push("phoenix", "heartbeat", {});
    await c.socket.next((f) => f.ref === hb);
    expect(g.socket.frames.length).toBe(before);
    expect(t.server.portal.counters.dropped.candidates_for_unknown_gateway).toBe(1);
  });

  test("failures: unknown resource, no policy, no gateway online, gateway that never answers", async () => {
    const t = await setup({ authorizationTimeoutMs: 300 });
    const c = await t.client();
    const secret = t.store.findResource("secret")!;
    const labnet = t.store.findResource("labnet")!;
    const gitlab = t.store.findResource("gitlab")!;
    const fail = async (resourceId: string) => {
      c.socket.push("client", "request_authorization", { resource_id: resourceId, connected_gateway_ids: [] });
      return (await c.socket.next("authorization_creation_failed")).payload;
    };
    const unknown = crypto.randomUUID();
    expect(await fail(unknown)).toEqual({ resource_id: unknown, reason: "not_found" });
    expect(await fail(secret.id)).toEqual({ resource_id: secret.id, reason: "forbidden" });
    expect(await fail(labnet.id)).toEqual({ resource_id: labnet.id, reason: "offline" });
    expect(shape(await fail(labnet.id))).toEqual(shape(fixture("client-authorization_creation_failed-2.json").payload));
    // The resource list never offered the secret resource either.
    expect(c.init.payload.resources.some((r: any) => r.id === secret.id)).toBe(false);
    // A gateway that takes the request and stays silent: the client still hears back.
    const g = await t.gateway();
    c.socket.push("client", "request_authorization", { resource_id: gitlab.id, connected_gateway_ids: [] });
    await g.socket.next("create_authorization");
    expect((await c.socket.next("authorization_creation_failed")).payload).toEqual({ resource_id: gitlab.id, reason: "offline" });
    expect(t.store.listAuthorizations(Date.now())).toHaveLength(0);
    // A gateway that leaves with a request in flight: the same answer, at once.
    c.socket.push("client", "request_authorization", { resource_id: gitlab.id, connected_gateway_ids: [] });
    await g.socket.next("create_authorization");
    g.socket.close();
    expect((await c.socket.next("authorization_creation_failed")).payload.reason).toBe("offline");
  });

  test("gateway choice prefers connected gateways and spreads load otherwise", async () => {
    const t = await setup();
    const c = await t.client();
    const g1 = await t.gateway("gw-1", t.tokens.hq, KEY_B);
    const g2 = await t.gateway("gw-2", t.tokens.hq, KEY_C);
    const lan = t.store.findResource("lan")!.id;
    const gitlab = t.store.findResource("gitlab")!.id;
    const request = async (resource: string, preferred: string[]) => {
      c.socket.push("client", "request_authorization", { resource_id: resource, connected_gateway_ids: preferred });
      const [socket, create] = await Promise.race([
        g1.socket.next("create_authorization").then((f) => [g1.socket, f] as const),
        g2.socket.next("create_authorization").then((f) => [g2.socket, f] as const),
      ]);
      answer(socket, create);
      const created = await c.socket.next("authorization_created");
      return { socket, gatewayId: created.payload.gateway_id as string };
    };
    const first = await request(lan, []);
    const second = await request(gitlab, []);
    expect(second.socket).not.toBe(first.socket); // the idle gateway takes the next one
    // With loads 1 and 1, then 2 and 1: the connected gateway still wins.
    expect((await request(gitlab, [first.gatewayId])).socket).toBe(first.socket);
    expect((await request(lan, [first.gatewayId])).socket).toBe(first.socket);
    // A preferred gateway that is not in the resource's sites does not count.
    expect((await request(lan, [crypto.randomUUID()])).socket).toBe(second.socket);
  });

  test("heartbeats, leave, no_relays, device-pool and client-to-client requests get answers", async () => {
    const t = await setup();
    await t.relay();
    const c = await t.client();
    const ref = c.socket.push("phoenix", "heartbeat", {});
    expect(await c.socket.next((f) => f.ref === ref)).toEqual({ topic: "phoenix", event: "phx_reply", payload: { status: "ok", response: {} }, ref });
    c.socket.push("client", "no_relays", {});
    expect((await c.socket.next("relays_presence")).payload.connected).toHaveLength(2);
    const pool = "b2c3d4e5-f6a7-8901-bcde-f12345678901";
    c.socket.push("client", "resolve_device_pool_domain", fixture("client-resolve_device_pool_domain-1.json").payload);
    const failed = await c.socket.next("device_pool_domain_resolution_failed");
    expect(shape(failed.payload)).toEqual(shape(fixture("client-device_pool_domain_resolution_failed-1.json").payload));
    expect(failed.payload.resource_id).toBe(pool);
    c.socket.push("client", "new_client_ice_candidates", { client_id: crypto.randomUUID(), candidates: [] });
    const err = await c.socket.next("client_ice_candidate_error");
    expect(shape(err.payload)).toEqual(shape(fixture("client-client_ice_candidate_error-1.json").payload));
    const g = await t.gateway();
    g.socket.push("gateway", "no_relays", {});
    expect((await g.socket.next("relays_presence")).payload.connected).toHaveLength(2);
    g.socket.push("gateway", "set_snownet_capabilities", { iceless: true, future_feature: true });
    const leave = c.socket.push("client", "phx_leave", {});
    expect((await c.socket.next((f) => f.ref === leave)).payload.status).toBe("ok");
    await c.socket.waitClosed();
  });

  test("iceless is used only when the portal allows it and both ends announce it", async () => {
    const t = await setup({ settings: { iceless: true } });
    const c = await t.client();
    const g = await t.gateway();
    const lan = t.store.findResource("lan")!.id;
    c.socket.push("client", "set_snownet_capabilities", { iceless: true });
    let r = await authorize(c.socket, g.socket, lan);
    expect(r.created.payload.use_iceless).toBe(false);
    g.socket.push("gateway", "set_snownet_capabilities", { iceless: true });
    r = await authorize(c.socket, g.socket, lan);
    expect(r.create.payload.use_iceless).toBe(true);
    expect(r.created.payload.use_iceless).toBe(true);
  });
});

describe("policy changes reach the sockets", () => {
  test("removing a membership takes the resources away and the gateway rejects access", async () => {
    const t = await setup();
    const c = await t.client();
    const g = await t.gateway();
    const lan = t.store.findResource("lan")!.id;
    await authorize(c.socket, g.socket, lan);
    const res = await t.admin("DELETE", "groups/eng/members/alice");
    expect(res.status).toBe(200);
    expect((await g.socket.next("reject_access")).payload).toEqual({ client_id: t.store.listClients()[0]!.id, resource_id: lan });
    const deleted = new Set<string>();
    for (let i = 0; i < 3; i++) deleted.add((await c.socket.next("resource_deleted")).payload);
    expect(deleted.has(lan)).toBe(true);
    expect(t.store.listAuthorizations(Date.now())).toHaveLength(0);
    // No policy now: no authorization either.
    c.socket.push("client", "request_authorization", { resource_id: lan, connected_gateway_ids: [] });
    expect((await c.socket.next("authorization_creation_failed")).payload.reason).toBe("forbidden");
  });

  test("deleting the policy ends the access it gave", async () => {
    const t = await setup();
    const c = await t.client();
    const g = await t.gateway();
    const labnet = t.store.findResource("labnet")!.id;
    const lan = t.store.findResource("lan")!.id;
    await authorize(c.socket, g.socket, lan);
    const policy = t.store.listPolicies().find((p) => p.resourceId === lan)!;
    expect((await t.admin("DELETE", `policies/${policy.id}`)).status).toBe(200);
    expect((await c.socket.next("resource_deleted")).payload).toBe(lan);
    expect((await g.socket.next("reject_access")).payload.resource_id).toBe(lan);
    // Other resources stay.
    expect(c.socket.frames.filter((f) => f.event === "resource_deleted").map((f) => f.payload)).not.toContain(labnet);
  });

  test("resource updates and deletions: resource_created_or_updated, resource_updated, resource_deleted", async () => {
    const t = await setup();
    const c = await t.client();
    const g = await t.gateway();
    const gitlab = t.store.findResource("gitlab")!;
    await authorize(c.socket, g.socket, gitlab.id);
    const res = await t.admin("POST", "resources", {
      name: "gitlab", type: "dns", address: "*.gitlab.corp.example", filters: [{ protocol: "icmp" }], sites: ["hq"],
    });
    expect(res.status).toBe(200);
    const updated = await c.socket.next("resource_created_or_updated");
    expect(updated.payload.address).toBe("*.gitlab.corp.example");
    expect(updated.payload.ip_stack).toBeUndefined();
    const gwUpdate = await g.socket.next("resource_updated");
    expect(gwUpdate.payload).toEqual({ id: gitlab.id, type: "dns", name: "gitlab", address: "*.gitlab.corp.example", filters: [{ protocol: "icmp" }] });
    expect(shape(gwUpdate.payload)).toEqual(shape(fixture("gateway-resource_updated-1.json").payload));
    // A new policy makes a resource appear.
    expect((await t.admin("POST", "policies", { group: "eng", resource: "secret" })).status).toBe(201);
    const added = await c.socket.next("resource_created_or_updated");
    expect(added.payload.name).toBe("secret");
    // Deleting the resource: the client loses it, the gateway drops the access.
    expect((await t.admin("DELETE", `resources/${gitlab.id}`)).status).toBe(200);
    expect((await c.socket.next("resource_deleted")).payload).toBe(gitlab.id);
    expect((await g.socket.next("reject_access")).payload.resource_id).toBe(gitlab.id);
  });

  test("authorizations expire: the gateway gets reject_access when the clock passes expires_at", async () => {
    let clock = Date.now();
    const t = await setup({ now: () => clock, sweep: false, settings: { authorizationTtlSeconds: 60 } });
    const c = await t.client();
    const g = await t.gateway();
    const lan = t.store.findResource("lan")!.id;
    const { create } = await authorize(c.socket, g.socket, lan);
    expect(create.payload.expires_at).toBe(Math.floor((clock + 60_000) / 1000));
    t.server.tick();
    clock += 59_000;
    t.server.tick();
    clock += 1_000;
    t.server.tick();
    expect((await g.socket.next("reject_access")).payload.resource_id).toBe(lan);
    expect(g.socket.frames.filter((f) => f.event === "reject_access")).toHaveLength(1);
    expect(t.store.listAuthorizations(clock)).toHaveLength(0);
  });

  test("new DNS settings through the admin API reach clients as config_changed", async () => {
    const t = await setup();
    const c = await t.client();
    const res = await t.admin("POST", "config", { settings: { upstream_do53: ["9.9.9.9"], search_domain: "lab.example" } });
    expect(res.status).toBe(200);
    const changed = await c.socket.next("config_changed");
    expect(changed.payload.interface).toMatchObject({ ipv4: c.init.payload.interface.ipv4, ipv6: c.init.payload.interface.ipv6, upstream_do53: [{ ip: "9.9.9.9" }], search_domain: "lab.example" });
    const golden = fixture("client-config_changed-1.json").payload;
    expect(Object.keys(changed.payload)).toEqual(Object.keys(golden));
    // Documents without settings leave them alone.
    await t.admin("POST", "config", { sites: [{ name: "extra" }] });
    expect(t.server.portal.settings.searchDomain).toBe("lab.example");
  });

  test("a token revoked mid-session disconnects its socket with token_expired; others stay", async () => {
    const t = await setup();
    const c = await t.client();
    const other = await t.client("device-2", t.tokens.bob, KEY_C);
    const token = t.store.findTokenByName("alice-laptop")!;
    expect((await t.admin("DELETE", `tokens/${token.id}`)).status).toBe(200);
    const d = await c.socket.next("disconnect");
    expect(shape(d)).toEqual(shape(fixture("phoenix-disconnect-1.json")));
    expect(d.payload).toEqual({ reason: "token_expired" });
    expect((await c.socket.waitClosed()).code).toBe(4001);
    const ref = other.socket.push("phoenix", "heartbeat", {});
    expect((await other.socket.next((f) => f.ref === ref)).payload.status).toBe("ok");
    // And it cannot come back.
    const res = await fetch(t.clientUrl().replace("ws://", "http://"), { headers: { "x-authorization": `Bearer ${t.tokens.alice}` } });
    expect(res.status).toBe(401);
  });

  test("revoking a client's token ends the access granted under it, even with the client offline", async () => {
    const t = await setup();
    const c = await t.client();
    const g = await t.gateway();
    const lan = t.store.findResource("lan")!.id;
    await authorize(c.socket, g.socket, lan);
    c.socket.close();
    await c.socket.waitClosed();
    expect((await t.admin("DELETE", "tokens/alice-laptop")).status).toBe(200);
    expect((await g.socket.next("reject_access")).payload.resource_id).toBe(lan);
    expect(t.store.listAuthorizations(Date.now())).toHaveLength(0);
  });

  test("a token revoked between the upgrade and the join cannot join", async () => {
    const t = await setup();
    const s = await t.open(t.clientUrl(), t.tokens.alice);
    t.store.revokeToken(t.store.findTokenByName("alice-laptop")!.id, Date.now());
    s.push("client", "phx_join", null);
    expect((await s.next("disconnect")).payload.reason).toBe("token_expired");
    expect((await s.waitClosed()).code).toBe(4001);
    expect(t.server.portal.onlineClients()).toHaveLength(0);
  });

  test("relay credentials are renewed an hour before they expire", async () => {
    let clock = Date.now();
    const t = await setup({ now: () => clock, sweep: false });
    await t.relay();
    const c = await t.client();
    const first = c.init.payload.relays[0];
    clock += (first.expires_at * 1000 - clock) - 3600_000 - 1000;
    t.server.tick();
    expect(c.socket.frames.filter((f) => f.event === "relays_presence")).toHaveLength(0);
    clock += 1000;
    t.server.tick();
    const renewed = await c.socket.next("relays_presence");
    expect(renewed.payload.connected[0].id).toBe(first.id);
    expect(renewed.payload.connected[0].expires_at).toBeGreaterThan(first.expires_at);
    expect(renewed.payload.disconnected_ids).toEqual([]);
  });

  test("a token that expires while connected is disconnected at the sweep", async () => {
    let clock = Date.now();
    const t = await setup({ now: () => clock, sweep: false });
    t.store.db.run("UPDATE tokens SET expires_at = ? WHERE name = 'alice-laptop'", [clock + 5000]);
    const c = await t.client();
    clock += 5000;
    t.server.tick();
    expect((await c.socket.next("disconnect")).payload.reason).toBe("token_expired");
  });

  test("a device connecting again replaces its older socket; re-authorizing keeps one grant", async () => {
    const t = await setup();
    const c = await t.client();
    const g = await t.gateway();
    const lan = t.store.findResource("lan")!.id;
    await authorize(c.socket, g.socket, lan);
    await authorize(c.socket, g.socket, lan);
    expect(t.store.listAuthorizations(Date.now())).toHaveLength(1);
    const again = await t.client();
    expect((await c.socket.waitClosed()).code).toBe(4002);
    expect(again.init.payload.interface).toEqual(c.init.payload.interface);
    expect(t.server.portal.onlineClients()).toHaveLength(1);
    // The gateway's view did not change: no reject for the replaced socket.
    expect(g.socket.frames.some((f) => f.event === "reject_access")).toBe(false);
  });

  test("a gateway that reconnects gets its authorizations back in init", async () => {
    const t = await setup();
    const c = await t.client();
    const g = await t.gateway();
    const lan = t.store.findResource("lan")!.id;
    const { create } = await authorize(c.socket, g.socket, lan);
    g.socket.close();
    await g.socket.waitClosed();
    const again = await t.gateway();
    expect(again.init.payload.authorizations).toEqual([{ client_id: create.payload.client.id, resource_id: lan, expires_at: create.payload.expires_at }]);
    expect(again.init.payload.interface).toEqual(g.init.payload.interface);
  });
});

describe("refusals and bad input", () => {
  test("401 with a problem body for missing, bad, revoked and wrong-kind tokens", async () => {
    const t = await setup();
    const http = t.clientUrl().replace("ws://", "http://");
    const cases: [string | null, string][] = [
      [null, "missing_token"],
      ["nonsense", "invalid_token"],
      [t.tokens.hq, "invalid_token"],
    ];
    for (const [token, code] of cases) {
      const res = await fetch(http, { headers: token ? { "x-authorization": `Bearer ${token}` } : {} });
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(((await res.json()) as { code: string }).code).toBe(code);
    }
    await expect(TestSocket.open(t.clientUrl(), "nonsense")).rejects.toThrow(/401/);
    const missingKey = await fetch(http.replace(/&public_key=.*/, ""), { headers: { "x-authorization": `Bearer ${t.tokens.alice}` } });
    expect(missingKey.status).toBe(400);
  });

  test("malformed JSON, unknown events, wrong topics and early messages get error replies; oversized frames close", async () => {
    const t = await setup({ maxFrameBytes: 4096 });
    const s = await t.open(t.clientUrl(), t.tokens.alice);
    s.push("client", "request_authorization", { resource_id: crypto.randomUUID(), connected_gateway_ids: [] });
    expect((await s.next("phx_reply")).payload).toEqual({ status: "error", response: { reason: "unmatched topic" } });
    const wrong = await s.join("gateway");
    expect(wrong.payload).toEqual({ status: "error", response: { reason: "unmatched topic" } });
    expect((await s.join("client")).payload.status).toBe("ok");
    await s.next("init");
    s.sendText("{not json");
    expect((await s.next("phx_reply")).payload.response.reason).toBe("malformed_json");
    s.sendText("[1,2,3]");
    expect((await s.next("phx_reply")).payload.response.reason).toBe("not_an_object");
    const unknown = s.push("client", "what_is_this", {});
    expect((await s.next((f) => f.ref === unknown)).payload).toEqual({ status: "error", response: { reason: "unknown_event" } });
    const bad = s.push("client", "request_authorization", { resource_id: "not-a-uuid" });
    expect((await s.next((f) => f.ref === bad)).payload.response.reason).toBe("invalid_payload");
    s.ws.send(new Uint8Array([1, 2, 3]));
    expect((await s.next("phx_reply")).payload.response.reason).toBe("malformed_json");

    const victim = await t.open(t.clientUrl("device-2"), t.tokens.alice);
    await victim.join("client");
    victim.sendText(JSON.stringify({ topic: "client", event: "no_relays", payload: { pad: "x".repeat(8192) }, ref: 1 }));
    const closed = await victim.waitClosed();
    expect(closed.code).toBe(1009);
    // Everyone else is still served.
    const ref = s.push("phoenix", "heartbeat", {});
    expect((await s.next((f) => f.ref === ref)).payload.status).toBe("ok");
  });

  test("a socket that keeps sending garbage is closed, the portal keeps going", async () => {
    const t = await setup();
    const s = await t.open(t.clientUrl(), t.tokens.alice);
    for (let i = 0; i < 25; i++) s.sendText("garbage");
    expect((await s.waitClosed()).code).toBe(4003);
    // connlib reads phx_close as "reconnect"; its payload is exactly {} (deny_unknown_fields).
    const close = s.frames.find((f) => f.event === "phx_close")!;
    expect(close.payload).toEqual({});
    expect(Object.keys(close).sort()).toEqual(Object.keys(JSON.parse(readFileSync(join(FIXTURES, "phoenix-phx_close-1.json"), "utf8"))).sort());
    const c = await t.client("device-3");
    expect(c.init.payload.resources.length).toBe(3);
  });

  test("a relay join without a usable stamp_secret is refused", async () => {
    const t = await setup();
    const s = await t.open(t.relayUrl(), t.tokens.relay);
    expect((await s.join("relay", null)).payload).toEqual({ status: "error", response: { reason: "invalid_payload" } });
    expect((await s.join("relay", { stamp_secret: RELAY_SECRET })).payload.status).toBe("ok");
    const noAddr = await fetch(t.relayUrl().replace("ws://", "http://").replace(/&ipv4=.*/, ""), { headers: { "x-authorization": `Bearer ${t.tokens.relay}` } });
    expect(noAddr.status).toBe(400);
  });
});
