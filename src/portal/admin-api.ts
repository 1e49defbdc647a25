import { logger } from "../log/index.ts";
import { bearerToken } from "./admission.ts";
import { applyConfig, ConfigError, validateConfig } from "./config.ts";
import type { Portal } from "./portal.ts";
import { StoreError } from "./store/sqlite-store.ts";
import type { Store, Token } from "./store/store.ts";
import { checkToken } from "./tokens.ts";

const log = logger("portal::admin");

/** Prefix of every admin route. */
export const ADMIN_PREFIX = "/admin/v1/";
/** Largest admin request body accepted. */
export const MAX_ADMIN_BODY = 1 << 20;

/**
 * The admin API: JSON over HTTP, authenticated by an admin token (`Authorization: Bearer` or
 * `X-Authorization: Bearer`). Writes take the same shapes as the config file, go through the same
 * validation, and end with `portal.modelChanged` so online devices learn at once.
 *
 *   GET    /admin/v1/{actors,groups,memberships,sites,resources,policies,tokens,clients,gateways,relays,authorizations}
 *   GET    /admin/v1/online                      clients, gateways and relays connected now
 *   POST   /admin/v1/{actors,groups,sites,resources,policies,tokens}   one entity (config shape); tokens answer with the secret once
 *   POST   /admin/v1/config                      a whole config document (its settings, if given, apply at once)
 *   DELETE /admin/v1/{actors,groups,sites,resources,policies}/<id or name>
 *   DELETE /admin/v1/tokens/<id or name>          revokes; sockets using it are disconnected
 *   POST   /admin/v1/groups/<group>/members      {"actor": "<id or name>"}
 *   DELETE /admin/v1/groups/<group>/members/<actor>
 */
export async function handleAdmin(req: Request, portal: Portal, now: () => number): Promise<Response> {
  const store = portal.store;
  const auth = checkToken(store, bearerToken(req.headers.get("authorization") ?? req.headers.get("x-authorization")), now());
  if (!auth.ok || auth.token.kind !== "admin") {
    return json(401, { error: auth.ok ? "not an admin token" : auth.reason });
  }
  const url = new URL(req.url);
  const parts = url.pathname.slice(ADMIN_PREFIX.length).split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (req.method === "GET") return list(portal, parts, now());
    if (req.method === "POST") {
      const body = await readBody(req);
      const result = post(portal, parts, body, now());
      portal.modelChanged(now());
      log.info("admin change", { method: "POST", path: url.pathname });
      return json(result.status, result.body);
    }
    if (req.method === "DELETE") {
      const found = remove(store, parts, now());
      if (found) portal.modelChanged(now());
      log.info("admin change", { method: "DELETE", path: url.pathname, found });
      return found ? json(200, { deleted: true }) : json(404, { error: "not found" });
    }
    return json(405, { error: `method ${req.method} not allowed` });
  } catch (error) {
    if (error instanceof ConfigError || error instanceof StoreError || error instanceof BadRequest) {
      return json(400, { error: error.message });
    }
    log.error("admin request failed", { path: url.pathname, error: String(error) });
    return json(500, { error: "internal error" });
  }
}

class BadRequest extends Error {}

async function readBody(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text.length > MAX_ADMIN_BODY) throw new BadRequest("request body too large");
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequest("request body is not JSON");
  }
}

function list(portal: Portal, parts: string[], now: number): Response {
  const store = portal.store;
  if (parts.length !== 1) return json(404, { error: "not found" });
  switch (parts[0]) {
    case "online":
      return json(200, { clients: portal.onlineClients(), gateways: portal.onlineGateways(), relays: portal.onlineRelays(), counters: portal.counters });
    case "actors":
      return json(200, store.listActors());
    case "groups":
      return json(200, store.listGroups());
    case "memberships":
      return json(200, store.listMemberships());
    case "sites":
      return json(200, store.listSites());
    case "resources":
      return json(200, store.listResources());
    case "policies":
      return json(200, store.listPolicies());
    case "tokens":
      return json(200, store.listTokens());
    case "clients":
      return json(200, store.listClients());
    case "gateways":
      return json(200, store.listGateways());
    case "relays":
      return json(200, store.listRelays());
    case "authorizations":
      return json(200, store.listAuthorizations(now));
    default:
      return json(404, { error: "not found" });
  }
}

const SECTIONS = new Set(["actors", "groups", "sites", "resources", "policies", "tokens"]);

function post(portal: Portal, parts: string[], body: unknown, now: number): { status: number; body: unknown } {
  const store = portal.store;
  if (parts.length === 1 && parts[0] === "config") {
    const config = validateConfig(body, "body");
    const result = applyConfig(store, config, now);
    // Only a document that says something about settings changes them.
    if ((body as { settings?: unknown }).settings !== undefined) portal.updateSettings(config.settings);
    return { status: 200, body: result };
  }
  if (parts.length === 3 && parts[0] === "groups" && parts[2] === "members") {
    const group = store.getGroup(parts[1]!) ?? store.findGroup(parts[1]!);
    const actorRef = (body as { actor?: unknown } | null)?.actor;
    const actor = typeof actorRef === "string" ? store.getActor(actorRef) ?? store.findActor(actorRef) : undefined;
    if (!group || !actor) throw new BadRequest("unknown group or actor");
    store.addMembership(actor.id, group.id);
    return { status: 200, body: { actorId: actor.id, groupId: group.id } };
  }
  if (parts.length !== 1 || !SECTIONS.has(parts[0]!)) throw new BadRequest(`cannot POST to ${parts.join("/")}`);
  const section = parts[0]!;
  const result = applyConfig(store, validateConfig({ [section]: [body] }, section), now);
  const name = (body as { name?: string }).name;
  const entity =
    section === "actors" ? store.findActor(name!)
    : section === "groups" ? store.findGroup(name!)
    : section === "sites" ? store.findSite(name!)
    : section === "resources" ? store.findResource(name ?? "Internet Resource")
    : section === "tokens" ? store.findTokenByName(name!)
    : policyFor(store, body as { group: string; resource: string });
  const secret = result.newTokens[0]?.secret;
  return { status: result.created.length > 0 ? 201 : 200, body: secret ? { ...(entity as Token), secret } : entity };
}

function policyFor(store: Store, body: { group: string; resource: string }) {
  const group = store.findGroup(body.group);
  const resource = store.findResource(body.resource);
  return store.listPolicies().find((p) => p.groupId === group?.id && p.resourceId === resource?.id);
}

function remove(store: Store, parts: string[], now: number): boolean {
  if (parts.length === 4 && parts[0] === "groups" && parts[2] === "members") {
    const group = store.getGroup(parts[1]!) ?? store.findGroup(parts[1]!);
    const actor = store.getActor(parts[3]!) ?? store.findActor(parts[3]!);
    return group !== undefined && actor !== undefined && store.removeMembership(actor.id, group.id);
  }
  if (parts.length !== 2) return false;
  const key = parts[1]!;
  switch (parts[0]) {
    case "actors": {
      const a = store.getActor(key) ?? store.findActor(key);
      return a !== undefined && store.deleteActor(a.id);
    }
    case "groups": {
      const g = store.getGroup(key) ?? store.findGroup(key);
      return g !== undefined && store.deleteGroup(g.id);
    }
    case "sites": {
      const s = store.getSite(key) ?? store.findSite(key);
      return s !== undefined && store.deleteSite(s.id);
    }
    case "resources": {
      const r = store.getResource(key) ?? store.findResource(key);
      return r !== undefined && store.deleteResource(r.id);
    }
    case "policies":
      return store.deletePolicy(key);
    case "tokens": {
      const t = store.getToken(key) ?? store.findTokenByName(key);
      return t !== undefined && store.revokeToken(t.id, now);
    }
    default:
      return false;
  }
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}
