import { createHash } from "node:crypto";
import { isUuid } from "./addresses.ts";

/**
 * The WebSocket URL a client, gateway or relay connects to (Firezone's `LoginUrl`): the API URL's
 * scheme and host, the role's path, and the query parameters in connlib's order. `public_key` is
 * appended last, as connlib does at connect time.
 */
export type Role = "client" | "gateway" | "relay";

export const ROLE_PATHS: Record<Role, string> = {
  client: "/client/v2/websocket",
  gateway: "/gateway/v2/websocket",
  relay: "/relay/websocket",
};

export interface LoginParams {
  /** Client/gateway device id; a UUID is sent as its SHA-256 hex, like connlib. */
  deviceId?: string;
  name?: string;
  ipv4?: string;
  ipv6?: string;
  port?: number;
  deviceSerial?: string;
  deviceUuid?: string;
  publicKey?: string;
}

export function loginUrl(apiUrl: string, role: Role, params: LoginParams = {}): URL {
  const url = new URL(apiUrl);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new TypeError(`unsupported API URL scheme ${url.protocol}`);
  url.pathname = ROLE_PATHS[role];
  url.search = "";
  url.hash = "";
  const q = url.searchParams;
  if (params.deviceId !== undefined) q.append("external_id", externalId(params.deviceId));
  if (params.name !== undefined) q.append("name", params.name);
  if (params.ipv4 !== undefined) q.append("ipv4", params.ipv4);
  if (params.ipv6 !== undefined) q.append("ipv6", params.ipv6);
  if (params.port !== undefined) q.append("port", String(params.port));
  if (params.deviceSerial !== undefined) q.append("device_serial", params.deviceSerial);
  if (params.deviceUuid !== undefined) q.append("device_uuid", params.deviceUuid);
  if (params.publicKey !== undefined) q.append("public_key", params.publicKey);
  return url;
}

export function externalId(deviceId: string): string {
  return isUuid(deviceId) ? createHash("sha256").update(deviceId).digest("hex") : deviceId;
}

/** `X-Authorization: Bearer <token>` with all whitespace removed (connlib strips CR/LF injection). */
export function authorizationHeader(token: string | null | undefined): string | undefined {
  return token ? `Bearer ${token.replace(/\s+/g, "")}` : undefined;
}
