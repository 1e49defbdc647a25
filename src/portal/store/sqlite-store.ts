import { Database, type Statement } from "bun:sqlite";
import { logger } from "../../log/index.ts";
import { MIGRATIONS } from "./migrations.ts";
import type {
  Account,
  Actor,
  Authorization,
  Client,
  Filter,
  Gateway,
  Group,
  Membership,
  Policy,
  Relay,
  Resource,
  Site,
  Store,
  Token,
} from "./store.ts";
import { FIRST_OFFSET, LAST_OFFSET, ipv4ForOffset, ipv6ForOffset } from "./tunnel-addresses.ts";

const log = logger("portal::store");

/** Raised for input the model refuses (unknown reference, duplicate name, full address range). */
export class StoreError extends Error {}

type Row = Record<string, unknown>;

/**
 * The default store: one SQLite file through bun:sqlite, WAL mode, foreign keys on, migrations at
 * open. bun:sqlite is synchronous, which suits the portal: each call is a short indexed query and
 * keeps the event loop free of interleaving between a read and the write that depends on it.
 */
export class SqliteStore implements Store {
  readonly db: Database;
  private readonly account: Account;
  private readonly stmts = new Map<string, Statement>();

  constructor(path: string = ":memory:", accountSlug = "default") {
    this.db = new Database(path, { create: true, strict: true });
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA synchronous = NORMAL");
    this.db.exec("PRAGMA foreign_keys = ON");
    this.db.exec("PRAGMA busy_timeout = 5000");
    migrate(this.db);
    this.account = this.ensureAccount(accountSlug);
  }

  close(): void {
    for (const s of this.stmts.values()) s.finalize();
    this.stmts.clear();
    this.db.close();
  }

  defaultAccount(): Account {
    return this.account;
  }

  // ---- actors, groups, memberships

  upsertActor(input: { id?: string; name: string; type: Actor["type"]; email?: string | null }): Actor {
    const existing = input.id ? this.getActor(input.id) : this.findActor(input.name);
    const id = existing?.id ?? input.id ?? crypto.randomUUID();
    this.run(
      `INSERT INTO actors (id, account_id, name, type, email) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type, email = excluded.email`,
      id, this.account.id, input.name, input.type, input.email ?? null,
    );
    return this.getActor(id)!;
  }

  getActor(id: string): Actor | undefined {
    return mapActor(this.get("SELECT * FROM actors WHERE id = ?", id));
  }

  findActor(nameOrEmail: string): Actor | undefined {
    return mapActor(
      this.get("SELECT * FROM actors WHERE account_id = ? AND (name = ? OR email = ?) ORDER BY name = ? DESC LIMIT 1",
        this.account.id, nameOrEmail, nameOrEmail, nameOrEmail),
    );
  }

  listActors(): Actor[] {
    return this.all("SELECT * FROM actors WHERE account_id = ? ORDER BY name", this.account.id).map((r) => mapActor(r)!);
  }

  deleteActor(id: string): boolean {
    return this.run("DELETE FROM actors WHERE id = ?", id) > 0;
  }

  upsertGroup(input: { id?: string; name: string }): Group {
    const existing = input.id ? this.getGroup(input.id) : this.findGroup(input.name);
    const id = existing?.id ?? input.id ?? crypto.randomUUID();
    this.run(
      `INSERT INTO groups (id, account_id, name) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name`,
      id, this.account.id, input.name,
    );
    return this.getGroup(id)!;
  }

  getGroup(id: string): Group | undefined {
    return mapNamed(this.get("SELECT * FROM groups WHERE id = ?", id));
  }

  findGroup(name: string): Group | undefined {
    return mapNamed(this.get("SELECT * FROM groups WHERE account_id = ? AND name = ?", this.account.id, name));
  }

  listGroups(): Group[] {
    return this.all("SELECT * FROM groups WHERE account_id = ? ORDER BY name", this.account.id).map((r) => mapNamed(r)!);
  }

  deleteGroup(id: string): boolean {
    return this.run("DELETE FROM groups WHERE id = ?", id) > 0;
  }

  addMembership(actorId: string, groupId: string): void {
    this.run("INSERT OR IGNORE INTO memberships (actor_id, group_id) VALUES (?, ?)", actorId, groupId);
  }

  removeMembership(actorId: string, groupId: string): boolean {
    return this.run("DELETE FROM memberships WHERE actor_id = ? AND group_id = ?", actorId, groupId) > 0;
  }

  listMemberships(): Membership[] {
    return this.all(
      `SELECT m.actor_id, m.group_id FROM memberships m JOIN groups g ON g.id = m.group_id
       WHERE g.account_id = ? ORDER BY m.group_id, m.actor_id`,
      this.account.id,
    ).map((r) => ({ actorId: r.actor_id as string, groupId: r.group_id as string }));
  }

  // ---- sites and resources

  upsertSite(input: { id?: string; name: string }): Site {
    const existing = input.id ? this.getSite(input.id) : this.findSite(input.name);
    const id = existing?.id ?? input.id ?? crypto.randomUUID();
    this.run(
      `INSERT INTO sites (id, account_id, name) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name`,
      id, this.account.id, input.name,
    );
    return this.getSite(id)!;
  }

  getSite(id: string): Site | undefined {
    return mapNamed(this.get("SELECT * FROM sites WHERE id = ?", id));
  }

  findSite(name: string): Site | undefined {
    return mapNamed(this.get("SELECT * FROM sites WHERE account_id = ? AND name = ?", this.account.id, name));
  }

  listSites(): Site[] {
    return this.all("SELECT * FROM sites WHERE account_id = ? ORDER BY name", this.account.id).map((r) => mapNamed(r)!);
  }

  deleteSite(id: string): boolean {
    return this.run("DELETE FROM sites WHERE id = ?", id) > 0;
  }

  upsertResource(input: Parameters<Store["upsertResource"]>[0]): Resource {
    const existing = input.id ? this.getResource(input.id) : this.findResource(input.name);
    const id = existing?.id ?? input.id ?? crypto.randomUUID();
    return this.tx(() => {
      this.run(
        `INSERT INTO resources (id, account_id, name, type, address, address_description, ip_stack, filters)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type, address = excluded.address,
           address_description = excluded.address_description, ip_stack = excluded.ip_stack, filters = excluded.filters`,
        id, this.account.id, input.name, input.type, input.address, input.addressDescription ?? null,
        input.ipStack ?? null, JSON.stringify(input.filters ?? []),
      );
      this.run("DELETE FROM resource_sites WHERE resource_id = ?", id);
      for (const siteId of new Set(input.siteIds)) {
        if (!this.getSite(siteId)) throw new StoreError(`resource ${input.name}: unknown site ${siteId}`);
        this.run("INSERT INTO resource_sites (resource_id, site_id) VALUES (?, ?)", id, siteId);
      }
      return this.getResource(id)!;
    });
  }

  getResource(id: string): Resource | undefined {
    const row = this.get("SELECT * FROM resources WHERE id = ?", id);
    return row ? this.mapResource(row) : undefined;
  }

  findResource(name: string): Resource | undefined {
    const row = this.get("SELECT * FROM resources WHERE account_id = ? AND name = ?", this.account.id, name);
    return row ? this.mapResource(row) : undefined;
  }

  listResources(): Resource[] {
    return this.all("SELECT * FROM resources WHERE account_id = ? ORDER BY name", this.account.id).map((r) => this.mapResource(r));
  }

  deleteResource(id: string): boolean {
    return this.run("DELETE FROM resources WHERE id = ?", id) > 0;
  }

  // ---- policies

  upsertPolicy(input: { id?: string; groupId: string; resourceId: string; description?: string | null }): Policy {
    if (!this.getGroup(input.groupId)) throw new StoreError(`policy: unknown group ${input.groupId}`);
    if (!this.getResource(input.resourceId)) throw new StoreError(`policy: unknown resource ${input.resourceId}`);
    const existing =
      (input.id ? this.getPolicy(input.id) : undefined) ??
      mapPolicy(this.get("SELECT * FROM policies WHERE group_id = ? AND resource_id = ?", input.groupId, input.resourceId));
    const id = existing?.id ?? input.id ?? crypto.randomUUID();
    this.run(
      `INSERT INTO policies (id, account_id, group_id, resource_id, description) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET group_id = excluded.group_id, resource_id = excluded.resource_id,
         description = excluded.description`,
      id, this.account.id, input.groupId, input.resourceId, input.description ?? null,
    );
    return this.getPolicy(id)!;
  }

  getPolicy(id: string): Policy | undefined {
    return mapPolicy(this.get("SELECT * FROM policies WHERE id = ?", id));
  }

  listPolicies(): Policy[] {
    return this.all("SELECT * FROM policies WHERE account_id = ? ORDER BY id", this.account.id).map((r) => mapPolicy(r)!);
  }

  deletePolicy(id: string): boolean {
    return this.run("DELETE FROM policies WHERE id = ?", id) > 0;
  }

  allowedResources(actorId: string): Map<string, string> {
    const rows = this.all(
      `SELECT p.resource_id, MIN(p.id) AS policy_id FROM policies p
       JOIN memberships m ON m.group_id = p.group_id WHERE m.actor_id = ? GROUP BY p.resource_id`,
      actorId,
    );
    return new Map(rows.map((r) => [r.resource_id as string, r.policy_id as string]));
  }

  // ---- tokens

  createToken(input: Parameters<Store["createToken"]>[0], secretHash: string, now: number): Token {
    if (input.kind === "client" && !(input.actorId && this.getActor(input.actorId))) {
      throw new StoreError(`client token ${input.name}: needs an existing actor`);
    }
    if (input.kind === "gateway" && !(input.siteId && this.getSite(input.siteId))) {
      throw new StoreError(`gateway token ${input.name}: needs an existing site`);
    }
    if (this.findTokenByName(input.name)) throw new StoreError(`a token named ${input.name} exists already`);
    const id = input.id ?? crypto.randomUUID();
    this.run(
      `INSERT INTO tokens (id, account_id, kind, name, secret_hash, actor_id, site_id, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      id, this.account.id, input.kind, input.name, secretHash,
      input.kind === "client" ? input.actorId! : null, input.kind === "gateway" ? input.siteId! : null,
      now, input.expiresAt ?? null,
    );
    return this.getToken(id)!;
  }

  findTokenByHash(secretHash: string): Token | undefined {
    return mapToken(this.get("SELECT * FROM tokens WHERE secret_hash = ?", secretHash));
  }

  findTokenByName(name: string): Token | undefined {
    return mapToken(this.get("SELECT * FROM tokens WHERE account_id = ? AND name = ?", this.account.id, name));
  }

  getToken(id: string): Token | undefined {
    return mapToken(this.get("SELECT * FROM tokens WHERE id = ?", id));
  }

  listTokens(): Token[] {
    return this.all("SELECT * FROM tokens WHERE account_id = ? ORDER BY name", this.account.id).map((r) => mapToken(r)!);
  }

  revokeToken(id: string, now: number): boolean {
    return this.run("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", now, id) > 0;
  }

  // ---- devices

  upsertClient(input: { actorId: string; externalId: string; name: string; publicKey: string }, now: number): Client {
    return this.tx(() => {
      const row = this.get("SELECT id FROM clients WHERE actor_id = ? AND external_id = ?", input.actorId, input.externalId);
      if (row) {
        this.run("UPDATE clients SET name = ?, public_key = ?, last_seen_at = ? WHERE id = ?",
          input.name, input.publicKey, now, row.id as string);
        return this.getClient(row.id as string)!;
      }
      const id = crypto.randomUUID();
      const offset = this.allocateOffset(id);
      this.run(
        `INSERT INTO clients (id, account_id, actor_id, external_id, name, public_key, address_offset, last_seen_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        id, this.account.id, input.actorId, input.externalId, input.name, input.publicKey, offset, now,
      );
      return this.getClient(id)!;
    });
  }

  getClient(id: string): Client | undefined {
    return mapDevice<Client>(this.get("SELECT * FROM clients WHERE id = ?", id));
  }

  listClients(): Client[] {
    return this.all("SELECT * FROM clients WHERE account_id = ? ORDER BY name, id", this.account.id).map((r) => mapDevice<Client>(r)!);
  }

  upsertGateway(input: { siteId: string; externalId: string; name: string; publicKey: string }, now: number): Gateway {
    return this.tx(() => {
      const row = this.get("SELECT id FROM gateways WHERE site_id = ? AND external_id = ?", input.siteId, input.externalId);
      if (row) {
        this.run("UPDATE gateways SET name = ?, public_key = ?, last_seen_at = ? WHERE id = ?",
          input.name, input.publicKey, now, row.id as string);
        return this.getGateway(row.id as string)!;
      }
      const id = crypto.randomUUID();
      const offset = this.allocateOffset(id);
      this.run(
        `INSERT INTO gateways (id, account_id, site_id, external_id, name, public_key, address_offset, last_seen_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        id, this.account.id, input.siteId, input.externalId, input.name, input.publicKey, offset, now,
      );
      return this.getGateway(id)!;
    });
  }

  getGateway(id: string): Gateway | undefined {
    return mapDevice<Gateway>(this.get("SELECT * FROM gateways WHERE id = ?", id));
  }

  listGateways(): Gateway[] {
    return this.all("SELECT * FROM gateways WHERE account_id = ? ORDER BY name, id", this.account.id).map((r) => mapDevice<Gateway>(r)!);
  }

  upsertRelay(input: { tokenId: string; name: string }, now: number): Relay {
    const row = this.get("SELECT id FROM relays WHERE token_id = ? AND name = ?", input.tokenId, input.name);
    const id = (row?.id as string | undefined) ?? crypto.randomUUID();
    this.run(
      `INSERT INTO relays (id, account_id, token_id, name, last_seen_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at`,
      id, this.account.id, input.tokenId, input.name, now,
    );
    return mapRelay(this.get("SELECT * FROM relays WHERE id = ?", id))!;
  }

  listRelays(): Relay[] {
    return this.all("SELECT * FROM relays WHERE account_id = ? ORDER BY name", this.account.id).map((r) => mapRelay(r)!);
  }

  // ---- authorizations

  createAuthorization(input: Omit<Authorization, "id" | "accountId"> & { id?: string }): Authorization {
    const id = input.id ?? crypto.randomUUID();
    this.run(
      `INSERT INTO authorizations (id, account_id, client_id, resource_id, gateway_id, policy_id, token_id, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      id, this.account.id, input.clientId, input.resourceId, input.gatewayId, input.policyId, input.tokenId, input.createdAt, input.expiresAt,
    );
    return mapAuthorization(this.get("SELECT * FROM authorizations WHERE id = ?", id)!);
  }

  authorizationsForGateway(gatewayId: string, now: number): Authorization[] {
    return this.all("SELECT * FROM authorizations WHERE gateway_id = ? AND expires_at > ? ORDER BY created_at", gatewayId, now)
      .map(mapAuthorization);
  }

  authorizationsForClient(clientId: string, now: number): Authorization[] {
    return this.all("SELECT * FROM authorizations WHERE client_id = ? AND expires_at > ? ORDER BY created_at", clientId, now)
      .map(mapAuthorization);
  }

  listAuthorizations(now: number): Authorization[] {
    return this.all("SELECT * FROM authorizations WHERE account_id = ? AND expires_at > ? ORDER BY created_at", this.account.id, now)
      .map(mapAuthorization);
  }

  deleteAuthorization(id: string): boolean {
    return this.run("DELETE FROM authorizations WHERE id = ?", id) > 0;
  }

  takeExpiredAuthorizations(now: number): Authorization[] {
    return this.tx(() => {
      const rows = this.all("SELECT * FROM authorizations WHERE expires_at <= ?", now).map(mapAuthorization);
      if (rows.length > 0) this.run("DELETE FROM authorizations WHERE expires_at <= ?", now);
      return rows;
    });
  }

  // ---- internals

  private ensureAccount(slug: string): Account {
    const row = this.get("SELECT * FROM accounts WHERE slug = ?", slug);
    if (row) return { id: row.id as string, slug: row.slug as string, name: row.name as string };
    const id = crypto.randomUUID();
    this.run("INSERT INTO accounts (id, slug, name) VALUES (?, ?, ?)", id, slug, slug);
    return { id, slug, name: slug };
  }

  /** The lowest offset never handed out; offsets are kept by their owner for good. */
  private allocateOffset(ownerId: string): number {
    const row = this.get("SELECT MAX(offset) AS max FROM tunnel_addresses");
    const next = row?.max == null ? FIRST_OFFSET : (row.max as number) + 1;
    if (next > LAST_OFFSET) throw new StoreError("the tunnel address range 100.64.0.0/11 is exhausted");
    this.run("INSERT INTO tunnel_addresses (offset, owner_id) VALUES (?, ?)", next, ownerId);
    return next;
  }

  private mapResource(row: Row): Resource {
    const siteIds = this.all("SELECT site_id FROM resource_sites WHERE resource_id = ? ORDER BY site_id", row.id as string)
      .map((r) => r.site_id as string);
    return {
      id: row.id as string,
      accountId: row.account_id as string,
      name: row.name as string,
      type: row.type as Resource["type"],
      address: row.address as string,
      addressDescription: (row.address_description as string | null) ?? null,
      ipStack: (row.ip_stack as Resource["ipStack"]) ?? null,
      filters: parseFilters(row.filters as string),
      siteIds,
    };
  }

  private stmt(sql: string): Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private get(sql: string, ...params: unknown[]): Row | undefined {
    return (this.stmt(sql).get(...(params as never[])) as Row | null) ?? undefined;
  }

  private all(sql: string, ...params: unknown[]): Row[] {
    return this.stmt(sql).all(...(params as never[])) as Row[];
  }

  private run(sql: string, ...params: unknown[]): number {
    try {
      return this.stmt(sql).run(...(params as never[])).changes;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/constraint/i.test(message)) throw new StoreError(message.replace(/^.*?: /, ""));
      throw error;
    }
  }

  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}

function migrate(db: Database): void {
  const current = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (current > MIGRATIONS.length) {
    throw new StoreError(`the database is at schema version ${current}, newer than this build knows (${MIGRATIONS.length})`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    })();
    log.info("applied schema migration", { version: v + 1 });
  }
}

function parseFilters(text: string): Filter[] {
  try {
    const value = JSON.parse(text);
    return Array.isArray(value) ? (value as Filter[]) : [];
  } catch {
    return [];
  }
}

function mapActor(r: Row | undefined): Actor | undefined {
  if (!r) return undefined;
  return { id: r.id as string, accountId: r.account_id as string, name: r.name as string, type: r.type as Actor["type"], email: (r.email as string | null) ?? null };
}

function mapNamed(r: Row | undefined): (Group & Site) | undefined {
  if (!r) return undefined;
  return { id: r.id as string, accountId: r.account_id as string, name: r.name as string };
}

function mapPolicy(r: Row | undefined): Policy | undefined {
  if (!r) return undefined;
  return {
    id: r.id as string,
    accountId: r.account_id as string,
    groupId: r.group_id as string,
    resourceId: r.resource_id as string,
    description: (r.description as string | null) ?? null,
  };
}

function mapToken(r: Row | undefined): Token | undefined {
  if (!r) return undefined;
  return {
    id: r.id as string,
    accountId: r.account_id as string,
    kind: r.kind as Token["kind"],
    name: r.name as string,
    actorId: (r.actor_id as string | null) ?? null,
    siteId: (r.site_id as string | null) ?? null,
    createdAt: r.created_at as number,
    expiresAt: (r.expires_at as number | null) ?? null,
    revokedAt: (r.revoked_at as number | null) ?? null,
  };
}

function mapDevice<T extends Client | Gateway>(r: Row | undefined): T | undefined {
  if (!r) return undefined;
  const offset = r.address_offset as number;
  const common = {
    id: r.id as string,
    accountId: r.account_id as string,
    externalId: r.external_id as string,
    name: r.name as string,
    publicKey: r.public_key as string,
    ipv4: ipv4ForOffset(offset),
    ipv6: ipv6ForOffset(offset),
    lastSeenAt: r.last_seen_at as number,
  };
  return (r.actor_id !== undefined ? { ...common, actorId: r.actor_id as string } : { ...common, siteId: r.site_id as string }) as T;
}

function mapRelay(r: Row | undefined): Relay | undefined {
  if (!r) return undefined;
  return { id: r.id as string, accountId: r.account_id as string, tokenId: r.token_id as string, name: r.name as string, lastSeenAt: r.last_seen_at as number };
}

function mapAuthorization(r: Row): Authorization {
  return {
    id: r.id as string,
    accountId: r.account_id as string,
    clientId: r.client_id as string,
    resourceId: r.resource_id as string,
    gatewayId: r.gateway_id as string,
    policyId: r.policy_id as string,
    tokenId: (r.token_id as string | null) ?? null,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
  };
}
