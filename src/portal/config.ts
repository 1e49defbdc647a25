import { isCidr, isDnsPattern, isIpv4, isIpv6, isUuid } from "./addresses.ts";
import type { ActorType, Filter, IpStack, ResourceType, Store, TokenKind } from "./store/store.ts";
import { hashTokenSecret, issueToken } from "./tokens.ts";

/**
 * Declarative portal configuration (`firezone portal --config portal.json|yaml`). Applying it
 * creates what is missing and updates what differs, keyed by name, so applying the same file twice
 * changes nothing. A group's `members` list is exact (members not listed are removed); other
 * entities that are not listed are left alone, since the admin API may have made them.
 */
export interface PortalConfig {
  settings: PortalSettings;
  actors: { name: string; type: ActorType; email: string | null }[];
  groups: { name: string; members: string[] | null }[];
  sites: { id?: string; name: string }[];
  resources: {
    id?: string;
    name: string;
    type: ResourceType;
    address: string;
    addressDescription: string | null;
    ipStack: IpStack | null;
    filters: Filter[];
    sites: string[];
  }[];
  policies: { group: string; resource: string; description: string | null }[];
  tokens: { name: string; kind: TokenKind; actor?: string; site?: string; secret?: string; expiresAt: number | null }[];
}

/** Portal-wide settings that reach clients and gateways in `init` and `authorization_created`. */
export interface PortalSettings {
  upstreamDo53: string[];
  upstreamDoh: string[];
  searchDomain: string | null;
  /** How long an authorization lasts unless the client token expires first. */
  authorizationTtlSeconds: number;
  /** Lets clients and gateways that both announce `iceless` use it (Firezone's portal flag). */
  iceless: boolean;
}

export const DEFAULT_SETTINGS: PortalSettings = {
  upstreamDo53: [],
  upstreamDoh: [],
  searchDomain: null,
  authorizationTtlSeconds: 7 * 24 * 3600,
  iceless: false,
};

export class ConfigError extends Error {}

/** Parses JSON, or YAML when the file name says so (Bun.YAML). */
export function parseConfigText(text: string, fileName: string): PortalConfig {
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(fileName) ? Bun.YAML.parse(text) : JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${fileName}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return validateConfig(raw, fileName);
}

export function validateConfig(raw: unknown, where = "config"): PortalConfig {
  const root = obj(raw, where);
  const settingsRaw = root.settings === undefined ? {} : obj(root.settings, `${where}.settings`);
  const settings: PortalSettings = {
    upstreamDo53: strList(settingsRaw.upstream_do53 ?? [], `${where}.settings.upstream_do53`, (s) => isIpv4(s) || isIpv6(s)),
    upstreamDoh: strList(settingsRaw.upstream_doh ?? [], `${where}.settings.upstream_doh`, (s) => /^https:\/\/\S+$/.test(s)),
    searchDomain: optStr(settingsRaw.search_domain, `${where}.settings.search_domain`),
    authorizationTtlSeconds: posInt(settingsRaw.authorization_ttl_seconds ?? DEFAULT_SETTINGS.authorizationTtlSeconds, `${where}.settings.authorization_ttl_seconds`),
    iceless: bool(settingsRaw.iceless ?? false, `${where}.settings.iceless`),
  };
  const list = (key: string) => (root[key] === undefined ? [] : arr(root[key], `${where}.${key}`));
  const actors = list("actors").map((a, i) => {
    const p = `${where}.actors[${i}]`;
    const o = obj(a, p);
    const type = (o.type ?? "user") as ActorType;
    if (type !== "user" && type !== "service_account") throw new ConfigError(`${p}.type must be user or service_account`);
    return { name: str(o.name, `${p}.name`), type, email: optStr(o.email, `${p}.email`) };
  });
  const groups = list("groups").map((g, i) => {
    const p = `${where}.groups[${i}]`;
    const o = obj(g, p);
    return { name: str(o.name, `${p}.name`), members: o.members === undefined ? null : strList(o.members, `${p}.members`) };
  });
  const sites = list("sites").map((s, i) => {
    const p = `${where}.sites[${i}]`;
    const o = obj(s, p);
    return { ...optId(o.id, `${p}.id`), name: str(o.name, `${p}.name`) };
  });
  const resources = list("resources").map((r, i) => {
    const p = `${where}.resources[${i}]`;
    const o = obj(r, p);
    const type = o.type as ResourceType;
    if (type !== "dns" && type !== "cidr" && type !== "internet") throw new ConfigError(`${p}.type must be dns, cidr or internet`);
    const address = type === "internet" ? "" : str(o.address, `${p}.address`);
    if (type === "dns" && !isDnsPattern(address)) throw new ConfigError(`${p}.address: "${address}" is not a DNS name or pattern`);
    if (type === "cidr" && !isCidr(address)) throw new ConfigError(`${p}.address: "${address}" is not a CIDR`);
    const ipStack = o.ip_stack === undefined || o.ip_stack === null ? null : (o.ip_stack as IpStack);
    if (ipStack !== null && (type !== "dns" || !["dual", "ipv4_only", "ipv6_only"].includes(ipStack))) {
      throw new ConfigError(`${p}.ip_stack must be dual, ipv4_only or ipv6_only, and only on dns resources`);
    }
    return {
      ...optId(o.id, `${p}.id`),
      name: o.name === undefined && type === "internet" ? "Internet Resource" : str(o.name, `${p}.name`),
      type,
      address,
      addressDescription: optStr(o.address_description, `${p}.address_description`),
      ipStack,
      filters: parseFilterList(o.filters ?? [], `${p}.filters`),
      sites: strList(o.sites ?? [], `${p}.sites`),
    };
  });
  const policies = list("policies").map((x, i) => {
    const p = `${where}.policies[${i}]`;
    const o = obj(x, p);
    return { group: str(o.group, `${p}.group`), resource: str(o.resource, `${p}.resource`), description: optStr(o.description, `${p}.description`) };
  });
  const tokens = list("tokens").map((t, i) => {
    const p = `${where}.tokens[${i}]`;
    const o = obj(t, p);
    const kind = o.kind as TokenKind;
    if (!["client", "gateway", "relay", "admin"].includes(kind)) throw new ConfigError(`${p}.kind must be client, gateway, relay or admin`);
    const token: PortalConfig["tokens"][number] = { name: str(o.name, `${p}.name`), kind, expiresAt: null };
    if (kind === "client") token.actor = str(o.actor, `${p}.actor`);
    if (kind === "gateway") token.site = str(o.site, `${p}.site`);
    if (o.secret !== undefined) token.secret = str(o.secret, `${p}.secret`);
    if (o.secret_env !== undefined) {
      const name = str(o.secret_env, `${p}.secret_env`);
      const value = process.env[name];
      if (!value) throw new ConfigError(`${p}.secret_env: environment variable ${name} is not set`);
      token.secret = value;
    }
    if (token.secret !== undefined && token.secret.length < 16) throw new ConfigError(`${p}.secret must be at least 16 characters`);
    if (o.expires_at !== undefined && o.expires_at !== null) {
      const at = Date.parse(str(o.expires_at, `${p}.expires_at`));
      if (Number.isNaN(at)) throw new ConfigError(`${p}.expires_at must be an RFC 3339 time`);
      token.expiresAt = at;
    }
    return token;
  });
  return { settings, actors, groups, sites, resources, policies, tokens };
}

/** What applying did, for the log and for printing newly made token secrets once. */
export interface ApplyResult {
  created: string[];
  updated: string[];
  newTokens: { name: string; kind: TokenKind; secret: string }[];
}

export function applyConfig(store: Store, config: PortalConfig, now: number): ApplyResult {
  const result: ApplyResult = { created: [], updated: [], newTokens: [] };
  const note = (existed: boolean, what: string) => (existed ? result.updated : result.created).push(what);

  for (const a of config.actors) {
    note(store.findActor(a.name) !== undefined, `actor ${a.name}`);
    store.upsertActor(a);
  }
  for (const s of config.sites) {
    note(store.findSite(s.name) !== undefined, `site ${s.name}`);
    store.upsertSite(s);
  }
  for (const r of config.resources) {
    const siteIds = r.sites.map((name) => need(store.findSite(name), `resource ${r.name}: unknown site ${name}`).id);
    note(store.findResource(r.name) !== undefined, `resource ${r.name}`);
    store.upsertResource({ ...r, siteIds });
  }
  for (const g of config.groups) {
    note(store.findGroup(g.name) !== undefined, `group ${g.name}`);
    const group = store.upsertGroup({ name: g.name });
    if (g.members === null) continue;
    const wanted = new Set(g.members.map((m) => need(store.findActor(m), `group ${g.name}: unknown actor ${m}`).id));
    for (const m of store.listMemberships()) {
      if (m.groupId === group.id && !wanted.has(m.actorId)) store.removeMembership(m.actorId, group.id);
    }
    for (const actorId of wanted) store.addMembership(actorId, group.id);
  }
  for (const p of config.policies) {
    const group = need(store.findGroup(p.group), `policy: unknown group ${p.group}`);
    const resource = need(store.findResource(p.resource), `policy: unknown resource ${p.resource}`);
    const exists = store.listPolicies().some((x) => x.groupId === group.id && x.resourceId === resource.id);
    note(exists, `policy ${p.group} -> ${p.resource}`);
    store.upsertPolicy({ groupId: group.id, resourceId: resource.id, description: p.description });
  }
  for (const t of config.tokens) {
    const existing = store.findTokenByName(t.name);
    if (existing) {
      if (t.secret !== undefined && store.findTokenByHash(hashTokenSecret(t.secret))?.id !== existing.id) {
        throw new ConfigError(`token ${t.name} exists with another secret; revoke it (admin API) and rename, or drop "secret"`);
      }
      continue;
    }
    const actorId = t.actor ? need(store.findActor(t.actor), `token ${t.name}: unknown actor ${t.actor}`).id : null;
    const siteId = t.site ? need(store.findSite(t.site), `token ${t.name}: unknown site ${t.site}`).id : null;
    const issued = issueToken(store, { kind: t.kind, name: t.name, actorId, siteId, expiresAt: t.expiresAt }, now, t.secret);
    result.created.push(`token ${t.name}`);
    if (t.secret === undefined) result.newTokens.push({ name: t.name, kind: t.kind, secret: issued.secret });
  }
  return result;
}

/** Validates a `filters[]` list into the wire shape: tcp/udp with an optional port range, or icmp. */
export function parseFilterList(raw: unknown, where: string): Filter[] {
  return arr(raw, where).map((f, i) => {
    const p = `${where}[${i}]`;
    const o = obj(f, p);
    if (o.protocol === "icmp") return { protocol: "icmp" };
    if (o.protocol !== "tcp" && o.protocol !== "udp") throw new ConfigError(`${p}.protocol must be tcp, udp or icmp`);
    const filter: Filter = { protocol: o.protocol };
    if (o.port_range_start !== undefined) filter.port_range_start = port(o.port_range_start, `${p}.port_range_start`);
    if (o.port_range_end !== undefined) filter.port_range_end = port(o.port_range_end, `${p}.port_range_end`);
    if ((filter.port_range_start ?? 0) > (filter.port_range_end ?? 65535)) throw new ConfigError(`${p}: port_range_start is above port_range_end`);
    return filter;
  });
}

function need<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new ConfigError(message);
  return value;
}

function obj(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ConfigError(`${where} must be an object`);
  return v as Record<string, unknown>;
}

function arr(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw new ConfigError(`${where} must be a list`);
  return v;
}

function str(v: unknown, where: string): string {
  if (typeof v !== "string" || v.length === 0) throw new ConfigError(`${where} must be a non-empty string`);
  return v;
}

function optStr(v: unknown, where: string): string | null {
  return v === undefined || v === null ? null : str(v, where);
}

function optId(v: unknown, where: string): { id?: string } {
  if (v === undefined) return {};
  if (!isUuid(v)) throw new ConfigError(`${where} must be a UUID`);
  return { id: v.toLowerCase() };
}

function strList(v: unknown, where: string, ok: (s: string) => boolean = () => true): string[] {
  return arr(v, where).map((s, i) => {
    const text = str(s, `${where}[${i}]`);
    if (!ok(text)) throw new ConfigError(`${where}[${i}]: "${text}" is not valid here`);
    return text;
  });
}

function bool(v: unknown, where: string): boolean {
  if (typeof v !== "boolean") throw new ConfigError(`${where} must be true or false`);
  return v;
}

function posInt(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) throw new ConfigError(`${where} must be a positive whole number`);
  return v;
}

function port(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 65535) throw new ConfigError(`${where} must be a port 0..65535`);
  return v;
}
