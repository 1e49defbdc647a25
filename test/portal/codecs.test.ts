import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfigText, parseFilterList } from "../../src/portal/config.ts";
import { readIngestClaims } from "../../src/portal/ingest-token.ts";
import { authorizationHeader, loginUrl } from "../../src/portal/login-url.ts";
import {
  encodeClientNoRelays,
  encodeRequestAuthorization,
  encodeSetSnownetCapabilities,
  parseRequestAuthorization,
} from "../../src/portal/messages/client.ts";
import { parsePeerCandidates, parseSnownetCapabilities } from "../../src/portal/messages/common.ts";
import {
  encodeAuthorizationCreated,
  encodeGatewayNoRelays,
  encodeGatewaySetSnownetCapabilities,
  parseAuthorizationCreatedReply,
} from "../../src/portal/messages/gateway.ts";
import { decodeMessage, encodeMessage, parseReply } from "../../src/portal/phoenix.ts";
import { parseProblemDetails, blamesToken } from "../../src/portal/problem-details.ts";
import { parseRetryAfterMs } from "../../src/portal/retry-after.ts";
import { FIXTURES } from "./helpers.ts";

const text = (name: string) => readFileSync(join(FIXTURES, name), "utf8");
const json = (name: string) => JSON.parse(text(name));

describe("byte-exact output (fixtures marked exact)", () => {
  test("client egress messages", () => {
    const id = "f16ecfa0-a94f-4bfd-a2ef-1cc1f2ef3da3";
    expect(encodeRequestAuthorization({ resource_id: id, connected_gateway_ids: [] })).toBe(text("client-request_authorization-1.json"));
    expect(encodeRequestAuthorization({ resource_id: id, connected_gateway_ids: [], ipv4: "100.65.0.1" })).toBe(text("client-request_authorization-2.json"));
    expect(encodeRequestAuthorization({ resource_id: id, connected_gateway_ids: [], ipv6: "fd00:2021:1111::1" })).toBe(text("client-request_authorization-3.json"));
    expect(encodeClientNoRelays()).toBe(text("client-no_relays-1.json"));
    expect(encodeSetSnownetCapabilities({ iceless: true })).toBe(text("client-set_snownet_capabilities-1.json"));
  });

  test("gateway egress messages", () => {
    expect(encodeAuthorizationCreated("signed-reference")).toBe(text("gateway-authorization_created-1.json"));
    expect(encodeGatewayNoRelays()).toBe(text("gateway-no_relays-1.json"));
    expect(encodeGatewaySetSnownetCapabilities({ iceless: true })).toBe(text("gateway-set_snownet_capabilities-1.json"));
  });

  test("phoenix envelopes", () => {
    expect(encodeMessage("test", "phx_join", null, 0)).toBe(text("phoenix-phx_join-1.json"));
    expect(encodeMessage("phoenix", "heartbeat", {}, 1)).toBe(text("phoenix-heartbeat-1.json"));
    expect(encodeMessage("test", "bar", undefined, 1)).toBe(text("phoenix-message-2.json"));
    // phx_reply-5 is parsed, not produced, by connlib: the portal's reply must mean the same.
    expect(JSON.parse(encodeMessage("test", "phx_reply", { status: "ok", response: {} }, 0))).toEqual(JSON.parse(text("phoenix-phx_reply-5.json")));
  });
});

describe("parsing what the other side sends", () => {
  test("every phoenix fixture decodes; refs that are not numbers read as null", () => {
    for (const name of ["phoenix-message-1.json", "phoenix-message-3.json", "phoenix-phx_close-1.json", "phoenix-disconnect-1.json", "phoenix-phx_reply-1.json", "phoenix-phx_reply-4.json", "phoenix-phx_reply-5.json", "phoenix-phx_reply-6.json"]) {
      const d = decodeMessage(text(name));
      expect(d.ok).toBe(true);
    }
    const m1 = decodeMessage(text("phoenix-message-1.json"));
    expect(m1.ok && m1.message).toMatchObject({ topic: "room:lobby", event: "shout", ref: null, payload: { hello: "world" } });
    const r1 = decodeMessage(text("phoenix-phx_reply-1.json"));
    expect(r1.ok && r1.message.ref).toBe(null);
    expect(r1.ok && parseReply(r1.message.payload)).toEqual({ status: "error", reason: "unmatched topic" });
    for (const [name, reason] of [["phoenix-phx_reply-2.json", "bad reply"], ["phoenix-phx_reply-3.json", "invalid_version"], ["phoenix-phx_reply-4.json", "disabled"]]) {
      const d = decodeMessage(text(name!));
      expect(d.ok && parseReply(d.message.payload)).toEqual({ status: "error", reason });
    }
    expect(decodeMessage("{").ok).toBe(false);
    expect(decodeMessage('{"topic":1,"event":"x"}')).toEqual({ ok: false, error: "missing_topic" });
  });

  test("client and gateway messages the portal reads", () => {
    for (const name of ["client-request_authorization-1.json", "client-request_authorization-2.json", "client-request_authorization-3.json"]) {
      const payload = JSON.parse(text(name)).payload;
      expect(parseRequestAuthorization(payload)).toEqual(payload);
    }
    expect(parseRequestAuthorization({ resource_id: "x", connected_gateway_ids: [] })).toBeUndefined();
    expect(parseRequestAuthorization({ resource_id: "f16ecfa0-a94f-4bfd-a2ef-1cc1f2ef3da3", ipv4: "fd00::1" })).toBeUndefined();
    expect(parseAuthorizationCreatedReply(json("gateway-authorization_created-1.json").payload)).toEqual({ ref: "signed-reference" });
    expect(parseSnownetCapabilities(json("common-snownet_capabilities-1.json"))).toEqual({ iceless: false });
    expect(parseSnownetCapabilities(json("common-snownet_capabilities-2.json"))).toEqual({ iceless: true });
    expect(parseSnownetCapabilities(json("client-set_snownet_capabilities-1.json").payload)).toEqual({ iceless: true });
    // Junk candidate strings are forwarded as they are: the receiving connlib skips them.
    expect(parsePeerCandidates(json("client-gateway_ice_candidates-1.json"), "gateway_id")?.candidates).toHaveLength(4);
    expect(parsePeerCandidates({ gateway_id: "f16ecfa0-a94f-4bfd-a2ef-1cc1f2ef3da3", candidates: [1] }, "gateway_id")).toBeUndefined();
  });

  test("resource filters from Firezone's tests are accepted as they are", () => {
    const filters = [1, 2, 3, 4, 5].map((i) => json(`gateway-filter-${i}.json`));
    expect(parseFilterList(filters, "filters")).toEqual(filters);
    expect(parseFilterList(json("gateway-resource_updated-1.json").payload.filters, "f")).toEqual([{ protocol: "icmp" }, { protocol: "tcp" }]);
  });

  test("Retry-After values", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    for (const c of json("portal-retry_after-cases.json").cases as { value: string; seconds: unknown }[]) {
      if (c.value.startsWith("<")) continue;
      expect(parseRetryAfterMs(c.value, now)).toBe(c.seconds === null ? undefined : (c.seconds as number) * 1000);
    }
    expect(parseRetryAfterMs(new Date(now + 60_000).toUTCString(), now)).toBe(60_000);
    expect(parseRetryAfterMs(new Date(now - 60_000).toUTCString(), now)).toBe(0);
  });

  test("problem details on refused upgrades", () => {
    for (const c of json("portal-problem_details-cases.json").cases as any[]) {
      const p = parseProblemDetails(c.content_type, c.body);
      expect(p !== undefined).toBe(c.parsed);
      if (c.parsed) expect(p!.code).toBe(c.code);
      if (c.parsed && c.detail) expect(p!.detail).toBe(c.detail);
      if (c.outcome) expect(blamesToken(p)).toBe(c.outcome.includes("requires_sign_in == true"));
    }
  });

  test("login URLs and the token header", () => {
    for (const c of json("portal-login_url-cases.json").cases as any[]) {
      if (c.kind === "mtls_host" || c.certificate || !c.expect.path) continue;
      expect(loginUrl(c.api_url, c.kind, { deviceId: c.device_id, name: c.name, port: c.listen_port }).pathname).toBe(c.expect.path);
    }
    const u = loginUrl("http://localhost:8081/ignored?x=1", "client", { deviceId: "3abd725a-733b-4801-ac16-72f26cd98a24", name: "n", publicKey: "k+/=" });
    expect(u.protocol).toBe("ws:");
    expect(u.host).toBe("localhost:8081");
    expect([...u.searchParams.keys()]).toEqual(["external_id", "name", "public_key"]);
    expect(u.searchParams.get("external_id")).toMatch(/^[0-9a-f]{64}$/);
    expect(u.searchParams.get("public_key")).toBe("k+/=");
    for (const c of json("portal-websocket_request_headers.json").cases as any[]) {
      expect(authorizationHeader(c.token) ?? null).toBe(c.x_authorization);
    }
  });

  test("minted ingest tokens carry the claims connlib requires", () => {
    const golden = readIngestClaims(json("common-ingest_token-1.json"))!;
    expect(golden.role).toBe("initiator");
    const required = ["account_id", "iat", "exp", "uploads_enabled", "role", "initiator_device_id", "responder_device_id", "policy_authorization_id", "policy_id", "resource_id", "resource_name", "initiator_actor_id", "initiator_actor_name", "authorized_at", "authorization_expires_at"];
    for (const k of required) expect(golden).toHaveProperty(k);
  });

  test("configs in YAML parse like JSON", () => {
    const c = parseConfigText("sites:\n  - name: hq\nresources:\n  - {name: r, type: cidr, address: 10.0.0.0/8, sites: [hq]}\n", "p.yml");
    expect(c.resources[0]!.address).toBe("10.0.0.0/8");
  });
});
