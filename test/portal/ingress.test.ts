import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseClientMessage, parseClientResource } from "../../src/portal/messages/client-ingress.ts";
import { parseGatewayMessage, parseGatewayResource } from "../../src/portal/messages/gateway-ingress.ts";
import { isSignalledCandidate, readFilter, readFlowLogs } from "../../src/portal/messages/ingress-common.ts";
import { key, parsed } from "../../src/portal/messages/reader.ts";
import { FIXTURES } from "./helpers.ts";

const json = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), "utf8"));
const envelope = (name: string) => {
  const m = json(name);
  return [m.event as string, m.payload] as const;
};

describe("what a client reads (fixtures: parse OK / parse FAILS as in Firezone's tests)", () => {
  test("init", () => {
    const one = parseClientMessage("init", json("client-init-1.json"));
    expect(one.ok && one.value.event === "init" && one.value.flowLogs).toEqual({ api_url: "https://flow-api.firezone.dev", upload_interval_secs: 60, upload_batch_size: 1000 });
    const two = parseClientMessage("init", json("client-init-2.json"));
    expect(two.ok).toBe(false);
    expect(!two.ok && two.error).toMatch(/flow_logs/);
    const three = parseClientMessage(...envelope("client-init-3.json"));
    expect(three.ok).toBe(true);
    if (three.ok && three.value.event === "init") {
      expect(three.value.resources.map((r) => r.type)).toEqual(["cidr", "cidr", "dns", "dns"]);
      expect(three.value.resources.every((r) => r.type !== "unknown" && r.type !== "dynamic_device_pool" && r.type !== "static_device_pool" && r.sites.length === 1)).toBe(true);
      expect(three.value.skippedResources).toBe(0);
    }
    // Malformed entries do not fail the message; the good one survives.
    const four = parseClientMessage(...envelope("client-init-4.json"));
    expect(four.ok).toBe(true);
    if (four.ok && four.value.event === "init") {
      expect(four.value.resources.map((r) => (r.type === "dns" ? r.name : r.type))).toEqual(["github.mycorp.com"]);
      expect(four.value.skippedResources).toBe(3);
    }
  });

  test("resource lists and descriptions", () => {
    const one = json("client-resource_list-1.json").map(parseClientResource);
    expect(one.map((r: any) => r?.type)).toEqual(["cidr", "dns", "internet"]);
    expect(one[2]).toMatchObject({ type: "internet", name: "Internet Resource" });
    expect(json("client-resource_list-2.json").map(parseClientResource).at(-1)).toEqual({ type: "unknown" });
    const pool = parseClientResource(json("client-resource_list-3.json")[0]);
    expect(pool).toMatchObject({ type: "static_device_pool", name: "IoT Devices" });
    expect(pool?.type === "static_device_pool" && pool.devices[0]).toEqual({ clientId: "a3632404-4b03-4468-9fc0-4a4c82415ade", ipv4: "100.64.1.38/32", ipv6: "fd00:2021:1111::125/128" });
    expect(parseClientResource(json("client-resource_list-4.json")[0])).toMatchObject({ type: "dynamic_device_pool", name: "Employee Laptops", address: "*.laptops.example.com" });
    const stacks = [1, 2, 3, 4].map((i) => parseClientResource(json(`client-resource_description-${i}.json`)));
    expect(stacks.map((r) => r?.type === "dns" && r.ipStack)).toEqual(["ipv4_only", "ipv6_only", "dual", "dual"]);
    const [five, six] = [5, 6].map((i) => parseClientResource(json(`client-resource_description-${i}.json`)));
    // Sites compare by id: a renamed site is the same site.
    expect(five?.type === "dns" && six?.type === "dns" && five.sites[0]!.id === six.sites[0]!.id).toBe(true);
  });

  test("ICE candidates (old and new names), junk skipped", () => {
    const m = parseClientMessage(...envelope("client-ice_candidates-1.json"));
    expect(m.ok && m.value).toEqual({ event: "gateway_ice_candidates", gatewayId: "b3d34a15-55ab-40df-994b-a838e75d65d7", candidates: ["candidate:7031633958891736544 1 udp 50331391 35.244.108.190 53909 typ relay"] });
    const inv = parseClientMessage(...envelope("client-invalidate_ice_candidates-1.json"));
    expect(inv.ok && inv.value.event).toBe("invalidate_gateway_ice_candidates");
    const junk = parseClientMessage("gateway_ice_candidates", json("client-gateway_ice_candidates-1.json"));
    expect(junk.ok && junk.value.event === "gateway_ice_candidates" && junk.value.candidates).toHaveLength(1);
    const lines = readFileSync(join(FIXTURES, "ice-candidates.txt"), "utf8").split("\n").filter((l) => l.startsWith("ACCEPT") || l.startsWith("SKIP"));
    for (const line of lines) {
      const fields = line.split("\t");
      if (!fields[1]!.startsWith("portal-message")) continue;
      expect(isSignalledCandidate(fields.at(-1)!)).toBe(fields[0]!.startsWith("ACCEPT"));
    }
  });

  test("authorization_created needs the ingest token; use_iceless defaults to false", () => {
    const one = parseClientMessage(...envelope("client-authorization_created-1.json"));
    expect(one.ok && one.value).toMatchObject({ event: "authorization_created", useIceless: false, siteId: "ef42a07f-87d0-40da-baa7-e881e619ea1c" });
    expect(one.ok && one.value.event === "authorization_created" && one.value.ingestToken).toBe(json("common-ingest_token-1.json"));
    const two = parseClientMessage(...envelope("client-authorization_created-2.json"));
    expect(two.ok && two.value.event === "authorization_created" && two.value.useIceless).toBe(true);
    const three = parseClientMessage(...envelope("client-authorization_created-3.json"));
    expect(three.ok).toBe(false);
  });

  test("failures, config, relays, device pools and client-to-client", () => {
    const unknown = parseClientMessage(...envelope("client-authorization_creation_failed-1.json"));
    expect(unknown.ok && unknown.value).toEqual({ event: "authorization_creation_failed", resourceId: "f16ecfa0-a94f-4bfd-a2ef-1cc1f2ef3da3", reason: "unknown" });
    const offline = parseClientMessage(...envelope("client-authorization_creation_failed-2.json"));
    expect(offline.ok && offline.value.event === "authorization_creation_failed" && offline.value.reason).toBe("offline");
    const config = parseClientMessage(...envelope("client-config_changed-1.json"));
    expect(config.ok && config.value.event === "config_changed" && config.value.interface.upstreamDo53).toEqual(["1.1.1.1"]);
    const relays = parseClientMessage(...envelope("client-relays_presence-1.json"));
    expect(relays.ok && relays.value.event === "relays_presence" && relays.value.presence.connected[0]).toMatchObject({ type: "turn", addr: "172.28.0.101:3478", expires_at: 1719367575 });
    const resolved = parseClientMessage(...envelope("client-device_pool_domain_resolved-1.json"));
    expect(resolved.ok && resolved.value).toMatchObject({ ipv4: "100.64.0.42", ipv6: "fd00:2021:1111::42" });
    const failed = parseClientMessage(...envelope("client-device_pool_domain_resolution_failed-1.json"));
    expect(failed.ok && failed.value.event === "device_pool_domain_resolution_failed" && failed.value.reason).toBe("not_found");
    const err = parseClientMessage(...envelope("client-client_ice_candidate_error-1.json"));
    expect(err.ok && err.value.event === "client_ice_candidate_error" && err.value.reason).toBe("offline");
    const c2c = parseClientMessage(...envelope("client-client_device_access_authorized-1.json"));
    expect(c2c.ok && c2c.value).toMatchObject({ iceRole: "controlled", expiresAt: 1729813989, resource: { id: "733e8d14-c18d-4931-af30-3639fa09c0c0", filters: [] } });
    expect(parseClientMessage("resource_deleted", "733e8d14-c18d-4931-af30-3639fa09c0c0")).toEqual({ ok: true, value: { event: "resource_deleted", resourceId: "733e8d14-c18d-4931-af30-3639fa09c0c0" } });
    expect(parseClientMessage("no_such_event", {}).ok).toBe(false);
  });

  test("loadtest-only messages are not full client messages", () => {
    // Relay ids "a"/"b" are not UUIDs and interface/flow_logs are incomplete (INDEX notes).
    expect(parseClientMessage(...envelope("loadtest-init-1.json")).ok).toBe(false);
    expect(parseClientMessage(...envelope("loadtest-relays_presence-1.json")).ok).toBe(false);
  });
});

describe("what a gateway reads", () => {
  test("init, create_authorization (with and without ingest token), resource_updated, relays, candidates", () => {
    const init = parseGatewayMessage(...envelope("gateway-init-1.json"));
    expect(init.ok && init.value).toMatchObject({ event: "init", config: { ipv4MasqueradeEnabled: true, ipv6MasqueradeEnabled: true }, relays: [], authorizations: [] });
    const create = parseGatewayMessage(...envelope("gateway-create_authorization-1.json"));
    expect(create.ok).toBe(true);
    if (create.ok && create.value.event === "create_authorization") {
      expect(create.value.reference).toStartWith("SFMyNTY.");
      expect(create.value.expiresAt).toBe(1729813989);
      expect(create.value.useIceless).toBe(false);
      expect(create.value.resource).toEqual({ type: "cidr", id: "c7793628-8579-465b-83e3-1a5d4af4db3b", name: "MyCorp Network", address: "172.20.0.0/16", filters: [] });
    }
    expect(parseGatewayMessage(...envelope("gateway-create_authorization-2.json")).ok).toBe(false);
    const updated = parseGatewayMessage(...envelope("gateway-resource_updated-1.json"));
    expect(updated.ok && updated.value.event === "resource_updated" && updated.value.resource).toMatchObject({
      type: "dns",
      address: "?.httpbin",
      filters: [{ protocol: "icmp" }, { protocol: "tcp", port_range_start: 0, port_range_end: 65535 }],
    });
    expect(parseGatewayMessage(...envelope("gateway-relays_presence-1.json")).ok).toBe(true);
    const inv = parseGatewayMessage(...envelope("gateway-invalidate_ice_candidates-1.json"));
    expect(inv.ok && inv.value).toMatchObject({ event: "invalidate_ice_candidates", clientId: "2b1524e6-239e-4570-bc73-70a188e12101" });
    const junk = parseGatewayMessage("ice_candidates", json("gateway-ice_candidates-1.json"));
    expect(junk.ok && junk.value.event === "ice_candidates" && junk.value.candidates).toHaveLength(1);
    expect(parseGatewayMessage("reject_access", { client_id: "2b1524e6-239e-4570-bc73-70a188e12101", resource_id: "c7793628-8579-465b-83e3-1a5d4af4db3b" }).ok).toBe(true);
  });

  test("gateway resource list: filters required on dns/cidr, internet by id alone", () => {
    const list = json("gateway-resource_list-1.json").map(parseGatewayResource);
    expect(list.map((r: any) => r.ok && r.value.type)).toEqual(["cidr", "dns", "internet"]);
    expect(parseGatewayResource({ id: "73037362-715d-4a83-a749-f18eadd970e6", type: "cidr", name: "x", address: "10.0.0.0/8" }).ok).toBe(false);
  });

  test("filters, flow_logs and keys", () => {
    expect([1, 2, 3, 4, 5].map((i) => readFilter(json(`gateway-filter-${i}.json`), "f"))).toEqual([
      { protocol: "udp", port_range_start: 10, port_range_end: 20 },
      { protocol: "udp", port_range_start: 0, port_range_end: 65535 },
      { protocol: "tcp", port_range_start: 10, port_range_end: 20 },
      { protocol: "tcp", port_range_start: 0, port_range_end: 65535 },
      { protocol: "icmp" },
    ]);
    expect(readFlowLogs(json("common-flow_logs-1.json"), "f").upload_interval_secs).toBe(60);
    expect(parsed(() => key(json("common-public_key-1.json"), "k"))).toEqual({ ok: true, value: "S6REkbStSNMfn8hpLkVxibjR+zz3RO/Gq40TprHJE2U=" });
    expect(parsed(() => key("c2hvcnQ=", "k")).ok).toBe(false);
  });
});

describe("the portal's own output reads back through these parsers", () => {
  test("covered by flows.test.ts shapes; here: a minted create_authorization and authorization_created parse", async () => {
    const { startTestPortal, TestSocket } = await import("./helpers.ts");
    const t = await startTestPortal();
    try {
      const c = await TestSocket.open(t.clientUrl(), t.tokens.alice);
      await c.join("client");
      const init = await c.next("init");
      const parsedInit = parseClientMessage("init", init.payload);
      expect(parsedInit.ok && parsedInit.value.event === "init" && parsedInit.value.resources.length).toBe(3);
      const g = await TestSocket.open(t.gatewayUrl(), t.tokens.hq);
      await g.join("gateway");
      const gInit = await g.next("init");
      expect(parseGatewayMessage("init", gInit.payload).ok).toBe(true);
      c.push("client", "request_authorization", { resource_id: t.store.findResource("gitlab")!.id, connected_gateway_ids: [] });
      const create = await g.next("create_authorization");
      const pc = parseGatewayMessage("create_authorization", create.payload);
      expect(pc.ok).toBe(true);
      g.push("gateway", "authorization_created", { ref: create.payload.ref });
      const created = await c.next("authorization_created");
      expect(parseClientMessage("authorization_created", created.payload).ok).toBe(true);
      c.close();
      g.close();
    } finally {
      await t.stop();
    }
  });
});
