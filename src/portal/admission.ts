import { isIpv4, isIpv6 } from "./addresses.ts";
import type { Client, Gateway, Relay, Store, Token, TokenKind } from "./store/store.ts";
import { checkToken } from "./tokens.ts";

/**
 * Who may open a socket, decided on the HTTP upgrade request: the path names the role, the
 * `X-Authorization: Bearer` token must be valid and of that role, and the query parameters of
 * Firezone's LoginUrl describe the device. Refusals carry an HTTP status and an RFC 9457 problem
 * body whose `code` connlib reads (`invalid_token` → sign in again).
 */
export const CLIENT_PATH = "/client/v2/websocket";
export const GATEWAY_PATH = "/gateway/v2/websocket";
export const RELAY_PATH = "/relay/websocket";
export const DEFAULT_RELAY_PORT = 3478;

export type Identity =
  | { kind: "client"; token: Token; client: Client }
  | { kind: "gateway"; token: Token; gateway: Gateway }
  | { kind: "relay"; token: Token; relay: Relay; addrs: string[] };

export interface Refusal {
  status: number;
  code: string;
  detail: string;
}

export type Admission = { ok: true; identity: Identity } | ({ ok: false } & Refusal);

const KIND_BY_PATH: Record<string, Exclude<TokenKind, "admin">> = { [CLIENT_PATH]: "client", [GATEWAY_PATH]: "gateway", [RELAY_PATH]: "relay" };

export function isSocketPath(path: string): boolean {
  return path in KIND_BY_PATH;
}

/** Reads the token from `X-Authorization: Bearer <token>` (whitespace removed, like connlib). */
export function bearerToken(header: string | null): string | null {
  if (!header) return null;
  const m = /^\s*Bearer\s+(.+)$/i.exec(header);
  return m ? m[1]!.replace(/\s+/g, "") : null;
}

export function admit(store: Store, path: string, authorization: string | null, query: URLSearchParams, now: number): Admission {
  const kind = KIND_BY_PATH[path];
  if (!kind) return refuse(404, "not_found", `no WebSocket endpoint at ${path}`);
  const check = checkToken(store, bearerToken(authorization), now);
  if (!check.ok) {
    const detail = { missing_token: "Missing token", invalid_token: "Invalid token", token_revoked: "Token revoked", token_expired: "Token expired" }[check.reason];
    // connlib discards its token on invalid_token/missing_token; revoked and expired are the same to it.
    const code = check.reason === "missing_token" ? "missing_token" : "invalid_token";
    return refuse(401, code, detail);
  }
  const token = check.token;
  if (token.kind !== kind) return refuse(401, "invalid_token", `a ${token.kind} token cannot connect as a ${kind}`);
  const name = (query.get("name") ?? "").slice(0, 255);

  if (kind === "relay") {
    const port = query.get("port") === null ? DEFAULT_RELAY_PORT : Number(query.get("port"));
    if (!Number.isInteger(port) || port < 1 || port > 65535) return refuse(400, "invalid_port", "port must be 1..65535");
    const addrs: string[] = [];
    const v4 = query.get("ipv4");
    const v6 = query.get("ipv6");
    if (v4 !== null) {
      if (!isIpv4(v4)) return refuse(400, "invalid_ipv4", "ipv4 is not an IPv4 address");
      addrs.push(`${v4}:${port}`);
    }
    if (v6 !== null) {
      if (!isIpv6(v6)) return refuse(400, "invalid_ipv6", "ipv6 is not an IPv6 address");
      addrs.push(`[${v6}]:${port}`);
    }
    if (addrs.length === 0) return refuse(400, "missing_address", "a relay must give its public ipv4 and/or ipv6");
    const relay = store.upsertRelay({ tokenId: token.id, name: name || token.name }, now);
    return { ok: true, identity: { kind, token, relay, addrs } };
  }

  const externalId = query.get("external_id");
  if (!externalId || externalId.length > 255) return refuse(400, "missing_external_id", "external_id is required");
  const publicKey = query.get("public_key");
  if (!publicKey || !isWireGuardKey(publicKey)) return refuse(400, "invalid_public_key", "public_key must be 32 bytes in standard base64");
  if (kind === "client") {
    const client = store.upsertClient({ actorId: token.actorId!, externalId, name: name || "client", publicKey }, now);
    return { ok: true, identity: { kind, token, client } };
  }
  const gateway = store.upsertGateway({ siteId: token.siteId!, externalId, name: name || "gateway", publicKey }, now);
  return { ok: true, identity: { kind, token, gateway } };
}

/** The 401 body connlib's problem-details parser reads. */
export function problemBody(r: Refusal): string {
  return JSON.stringify({ type: "about:blank", title: r.status === 401 ? "Unauthorized" : "Bad Request", status: r.status, detail: r.detail, code: r.code });
}

function refuse(status: number, code: string, detail: string): { ok: false } & Refusal {
  return { ok: false, status, code, detail };
}

function isWireGuardKey(text: string): boolean {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) return false;
  return Buffer.from(text, "base64").length === 32;
}
