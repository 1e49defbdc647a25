import { isIpv4, isIpv6, isUuid } from "../addresses.ts";
import { encodeEvent } from "../phoenix.ts";
import type { FlowLogsConfig, IceCredentials, RelaysPresence, SnownetCapabilities, TurnRelay } from "./common.ts";
import type { ClientResourceDescription } from "./resource-description.ts";

/**
 * Messages between the portal and a client on topic "client" (`messages/client.rs`). Payload
 * interfaces list fields in Firezone's order; `encode*` functions produce connlib's exact bytes.
 */
export const CLIENT_TOPIC = "client";

/** Why `request_authorization` failed (connlib's FailReason, snake_case). */
export type FailReason = "not_found" | "offline" | "version_mismatch" | "forbidden" | "disabled";

export interface ClientInterface {
  ipv4: string;
  ipv6: string;
  upstream_do53: { ip: string }[];
  upstream_doh: { url: string }[];
  search_domain: string | null;
}

export interface ClientInit {
  interface: ClientInterface;
  resources: ClientResourceDescription[];
  relays: TurnRelay[];
  authorizations: { client_id: string; resource_id: string; expires_at: number }[];
  flow_logs: FlowLogsConfig;
}

export interface AuthorizationCreated {
  gateway_group_id: string;
  gateway_id: string;
  resource_id: string;
  preshared_key: string;
  client_ice_credentials: IceCredentials;
  gateway_ice_credentials: IceCredentials;
  gateway_public_key: string;
  gateway_ipv4: string;
  gateway_ipv6: string;
  use_iceless: boolean;
  flow_logs_ingest_token: string;
}

export interface AuthorizationCreationFailed {
  resource_id: string;
  reason: FailReason;
}

/** P→C events. */
export type ClientIngress =
  | { event: "init"; payload: ClientInit }
  | { event: "resource_created_or_updated"; payload: ClientResourceDescription }
  | { event: "resource_deleted"; payload: string }
  | { event: "config_changed"; payload: { interface: ClientInterface } }
  | { event: "relays_presence"; payload: RelaysPresence }
  | { event: "authorization_created"; payload: AuthorizationCreated }
  | { event: "authorization_creation_failed"; payload: AuthorizationCreationFailed }
  | { event: "ice_candidates" | "invalidate_ice_candidates"; payload: { gateway_id: string; candidates: string[] } }
  | { event: "client_ice_candidate_error"; payload: { client_id: string; reason: FailReason } }
  | { event: "device_pool_domain_resolution_failed"; payload: { resource_id: string; domain: string; reason: FailReason } };

// ---- C→P, as the client produces them (byte-exact with connlib)

export interface RequestAuthorization {
  resource_id: string;
  connected_gateway_ids: string[];
  ipv4?: string;
  ipv6?: string;
}

export function encodeRequestAuthorization(r: RequestAuthorization): string {
  const payload: RequestAuthorization = { resource_id: r.resource_id, connected_gateway_ids: r.connected_gateway_ids };
  if (r.ipv4 !== undefined) payload.ipv4 = r.ipv4;
  if (r.ipv6 !== undefined) payload.ipv6 = r.ipv6;
  return encodeEvent("request_authorization", payload);
}

export function encodeClientNoRelays(): string {
  return encodeEvent("no_relays", {});
}

export function encodeSetSnownetCapabilities(caps: SnownetCapabilities): string {
  return encodeEvent("set_snownet_capabilities", { iceless: caps.iceless });
}

export function encodeNewGatewayIceCandidates(gatewayId: string, candidates: string[]): string {
  return encodeEvent("new_gateway_ice_candidates", { gateway_id: gatewayId, candidates });
}

export function encodeInvalidateGatewayIceCandidates(gatewayId: string, candidates: string[]): string {
  return encodeEvent("invalidate_gateway_ice_candidates", { gateway_id: gatewayId, candidates });
}

// ---- C→P, as the portal reads them

/** Validates `request_authorization`; unknown extra fields are ignored, bad ones refuse the whole. */
export function parseRequestAuthorization(payload: unknown): RequestAuthorization | undefined {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return undefined;
  const p = payload as Record<string, unknown>;
  if (!isUuid(p.resource_id)) return undefined;
  const ids = p.connected_gateway_ids ?? [];
  if (!Array.isArray(ids) || ids.length > 256 || !ids.every(isUuid)) return undefined;
  const out: RequestAuthorization = { resource_id: p.resource_id.toLowerCase(), connected_gateway_ids: ids.map((i) => i.toLowerCase()) };
  if (p.ipv4 !== undefined && p.ipv4 !== null) {
    if (!isIpv4(p.ipv4)) return undefined;
    out.ipv4 = p.ipv4;
  }
  if (p.ipv6 !== undefined && p.ipv6 !== null) {
    if (!isIpv6(p.ipv6)) return undefined;
    out.ipv6 = p.ipv6;
  }
  return out;
}
