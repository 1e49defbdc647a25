import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyConfig, ConfigError, parseConfigText, validateConfig } from "../../src/portal/config.ts";
import { MIGRATIONS } from "../../src/portal/store/migrations.ts";
import { SqliteStore, StoreError } from "../../src/portal/store/sqlite-store.ts";
import { ipv4ForOffset, ipv6ForOffset } from "../../src/portal/store/tunnel-addresses.ts";
import { checkToken, issueToken } from "../../src/portal/tokens.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), "fz-portal-store-"));
  dirs.push(dir);
  return join(dir, "portal.db");
}

describe("tunnel addresses", () => {
  test("offsets map into 100.64.0.0/11 and fd00:2021:1111::/107", () => {
    expect(ipv4ForOffset(1)).toBe("100.64.0.1");
    expect(ipv6ForOffset(1)).toBe("fd00:2021:1111::1");
    expect(ipv4ForOffset((1 << 21) - 2)).toBe("100.95.255.254");
    expect(ipv6ForOffset((1 << 21) - 2)).toBe("fd00:2021:1111::1f:fffe");
    expect(() => ipv4ForOffset(0)).toThrow(RangeError);
    expect(() => ipv4ForOffset(1 << 21)).toThrow(RangeError);
  });
});

describe("SqliteStore", () => {
  test("migrates, uses WAL and foreign keys, and keeps data across reopen", () => {
    const path = tempDb();
    const a = new SqliteStore(path);
    expect((a.db.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    expect((a.db.query("PRAGMA foreign_keys").get() as { foreign_keys: number }).foreign_keys).toBe(1);
    expect((a.db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(2);
    const actor = a.upsertActor({ name: "alice", type: "user", email: "alice@x" });
    const client = a.upsertClient({ actorId: actor.id, externalId: "dev1", name: "laptop", publicKey: "pk" }, 1);
    a.close();
    const b = new SqliteStore(path);
    expect(b.getActor(actor.id)?.email).toBe("alice@x");
    const again = b.upsertClient({ actorId: actor.id, externalId: "dev1", name: "laptop2", publicKey: "pk2" }, 2);
    expect(again.id).toBe(client.id);
    expect(again.ipv4).toBe(client.ipv4);
    expect(again.ipv6).toBe(client.ipv6);
    expect(again.publicKey).toBe("pk2");
    b.close();
  });

  test("a database at schema version 1 is migrated to 2 in place", () => {
    const path = tempDb();
    const old = new Database(path);
    old.exec(MIGRATIONS[0]!);
    old.exec("PRAGMA user_version = 1");
    old.close();
    const s = new SqliteStore(path);
    expect((s.db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(2);
    expect((s.db.query("PRAGMA table_info(authorizations)").all() as { name: string }[]).map((c) => c.name)).toContain("token_id");
    s.close();
    const tooNew = new Database(path);
    tooNew.exec("PRAGMA user_version = 99");
    tooNew.close();
    expect(() => new SqliteStore(path)).toThrow(/newer than this build/);
  });

  test("devices get distinct, stable tunnel addresses", () => {
    const s = new SqliteStore();
    const actor = s.upsertActor({ name: "a", type: "user" });
    const site = s.upsertSite({ name: "hq" });
    const c1 = s.upsertClient({ actorId: actor.id, externalId: "1", name: "c1", publicKey: "k" }, 0);
    const g1 = s.upsertGateway({ siteId: site.id, externalId: "g", name: "g1", publicKey: "k" }, 0);
    const c2 = s.upsertClient({ actorId: actor.id, externalId: "2", name: "c2", publicKey: "k" }, 0);
    expect(new Set([c1.ipv4, g1.ipv4, c2.ipv4]).size).toBe(3);
    expect(c1.ipv4).toBe("100.64.0.1");
    expect(g1.ipv6).toBe("fd00:2021:1111::2");
    s.close();
  });

  test("allowed resources follow policies through group membership", () => {
    const s = new SqliteStore();
    const alice = s.upsertActor({ name: "alice", type: "user" });
    const bob = s.upsertActor({ name: "bob", type: "user" });
    const eng = s.upsertGroup({ name: "eng" });
    const site = s.upsertSite({ name: "hq" });
    const r = s.upsertResource({ name: "r", type: "cidr", address: "10.0.0.0/8", siteIds: [site.id] });
    s.addMembership(alice.id, eng.id);
    expect(s.allowedResources(alice.id).size).toBe(0);
    const p = s.upsertPolicy({ groupId: eng.id, resourceId: r.id });
    expect(s.allowedResources(alice.id).get(r.id)).toBe(p.id);
    expect(s.allowedResources(bob.id).size).toBe(0);
    s.removeMembership(alice.id, eng.id);
    expect(s.allowedResources(alice.id).size).toBe(0);
    s.close();
  });

  test("tokens are stored as hashes and can be revoked or expire", () => {
    const s = new SqliteStore();
    const { token, secret } = issueToken(s, { kind: "relay", name: "r1", expiresAt: 1000 }, 0);
    const raw = JSON.stringify(s.db.query("SELECT * FROM tokens").all());
    expect(raw.includes(secret)).toBe(false);
    expect(checkToken(s, secret, 10)).toMatchObject({ ok: true });
    expect(checkToken(s, secret, 1000)).toEqual({ ok: false, reason: "token_expired" });
    expect(checkToken(s, "nope", 10)).toEqual({ ok: false, reason: "invalid_token" });
    expect(checkToken(s, null, 10)).toEqual({ ok: false, reason: "missing_token" });
    s.revokeToken(token.id, 5);
    expect(checkToken(s, secret, 10)).toEqual({ ok: false, reason: "token_revoked" });
    expect(() => issueToken(s, { kind: "client", name: "c" }, 0)).toThrow(StoreError);
    s.close();
  });

  test("expired authorizations are taken out once", () => {
    const s = new SqliteStore();
    const actor = s.upsertActor({ name: "a", type: "user" });
    const site = s.upsertSite({ name: "hq" });
    const r = s.upsertResource({ name: "r", type: "internet", address: "", siteIds: [site.id] });
    const c = s.upsertClient({ actorId: actor.id, externalId: "1", name: "c", publicKey: "k" }, 0);
    const g = s.upsertGateway({ siteId: site.id, externalId: "g", name: "g", publicKey: "k" }, 0);
    s.createAuthorization({ clientId: c.id, resourceId: r.id, gatewayId: g.id, policyId: "p", tokenId: null, createdAt: 0, expiresAt: 100 });
    s.createAuthorization({ clientId: c.id, resourceId: r.id, gatewayId: g.id, policyId: "p", tokenId: null, createdAt: 0, expiresAt: 200 });
    expect(s.authorizationsForGateway(g.id, 50)).toHaveLength(2);
    expect(s.takeExpiredAuthorizations(150)).toHaveLength(1);
    expect(s.takeExpiredAuthorizations(150)).toHaveLength(0);
    expect(s.authorizationsForClient(c.id, 150)).toHaveLength(1);
    s.deleteResource(r.id);
    expect(s.listAuthorizations(0)).toHaveLength(0);
    s.close();
  });
});

describe("declarative config", () => {
  const example = readFileSync(join(import.meta.dir, "../../examples/portal.json"), "utf8");

  test("the example applies, and applying it again changes nothing", () => {
    process.env.FZ_HQ_GATEWAY_TOKEN = "example-gateway-token-0123456789";
    const s = new SqliteStore();
    const config = parseConfigText(example, "portal.json");
    const first = applyConfig(s, config, 0);
    expect(first.created).toContain("resource GitLab");
    expect(first.newTokens.map((t) => t.name).sort()).toEqual(["admin", "alice-laptop", "relay-1"]);
    const snapshot = () => JSON.stringify([s.listResources(), s.listPolicies(), s.listMemberships(), s.listTokens(), s.listActors()]);
    const before = snapshot();
    const second = applyConfig(s, config, 1);
    expect(second.created).toEqual([]);
    expect(second.newTokens).toEqual([]);
    expect(snapshot()).toBe(before);
    const gitlab = s.findResource("GitLab")!;
    expect(gitlab.filters).toEqual([{ protocol: "tcp", port_range_start: 443, port_range_end: 443 }, { protocol: "icmp" }]);
    expect(gitlab.ipStack).toBe("dual");
    expect(s.allowedResources(s.findActor("alice")!.id).size).toBe(3);
    expect(checkToken(s, "example-gateway-token-0123456789", 0)).toMatchObject({ ok: true, token: { kind: "gateway" } });
    s.close();
  });

  test("YAML works too, and group members are exact", () => {
    const s = new SqliteStore();
    const yaml = `
actors:
  - { name: alice }
  - { name: bob }
groups:
  - name: eng
    members: [alice, bob]
`;
    applyConfig(s, parseConfigText(yaml, "portal.yaml"), 0);
    expect(s.listMemberships()).toHaveLength(2);
    applyConfig(s, parseConfigText(yaml.replace("[alice, bob]", "[bob]"), "portal.yaml"), 0);
    expect(s.listMemberships().map((m) => s.getActor(m.actorId)!.name)).toEqual(["bob"]);
    s.close();
  });

  test("bad configs are refused with the path of the problem", () => {
    expect(() => validateConfig({ resources: [{ name: "x", type: "cidr", address: "10.0.0.0/33" }] })).toThrow(/resources\[0\]\.address/);
    expect(() => validateConfig({ resources: [{ name: "x", type: "dns", address: "a..b" }] })).toThrow(ConfigError);
    expect(() => validateConfig({ resources: [{ name: "x", type: "dns", address: "a.b", filters: [{ protocol: "sctp" }] }] })).toThrow(/protocol/);
    expect(() => validateConfig({ tokens: [{ name: "t", kind: "root" }] })).toThrow(/kind/);
    expect(() => parseConfigText("{", "p.json")).toThrow(ConfigError);
    const s = new SqliteStore();
    expect(() => applyConfig(s, validateConfig({ policies: [{ group: "g", resource: "r" }] }), 0)).toThrow(/unknown group/);
    s.close();
  });
});

describe("the YAML example", () => {
  test("parses and applies", () => {
    const s = new SqliteStore();
    const text = readFileSync(join(import.meta.dir, "../../examples/portal.yaml"), "utf8");
    const result = applyConfig(s, parseConfigText(text, "portal.yaml"), 0);
    expect(result.newTokens).toHaveLength(4);
    expect(s.allowedResources(s.findActor("alice")!.id).size).toBe(2);
    s.close();
  });
});
