import { isUuid } from "../addresses.ts";
import { encodeEvent } from "../phoenix.ts";
import { parseCandidates, type FlowLogsConfig, type IceCredentials, type RelaysPresence, type SnownetCapabilities, type TurnRelay } from "./common.ts";
import type { GatewayResourceDescription } from "./resource-description.ts";

/** Messages between the portal and a gateway on topic "gateway" (`messages/gateway.rs`). */
export const GATEWAY_TOPIC = "gateway";

export interface GatewayAuthorization {
  client_id: string;
  resource_id: string;
  /** Unix seconds. */
  expires_at: number;
}

export interface GatewayInit {
  interface: { ipv4: string; ipv6: string };
  config: { ipv4_masquerade_enabled: boolean; ipv6_masquerade_enabled: boolean };
  relays: TurnRelay[];
  account_slug: string;
  authorizations: GatewayAuthorization[];
  flow_logs: FlowLogsConfig;
}

export interface CreateAuthorization {
  /** Opaque; the gateway echoes it in `authorization_created`. */
  ref: string;
  resource: GatewayResourceDescription;
  client: { id: string; public_key: string; preshared_key: string; ipv4: string; ipv6: string };
  client_ice_credentials: IceCredentials;
  gateway_ice_credentials: IceCredentials;
  /** Unix seconds. */
  expires_at: number;
  use_iceless: boolean;
  flow_logs_ingest_token: string;
}

/** P→G events. */
export type GatewayIngress =
  | { event: "init"; payload: GatewayInit }
  | { event: "create_authorization"; payload: CreateAuthorization }
  | { event: "ice_candidates" | "invalidate_ice_candidates"; payload: { client_id: string; candidates: string[] } }
  | { event: "reject_access"; payload: { client_id: string; resource_id: string } }
  | { event: "resource_updated"; payload: GatewayResourceDescription }
  | { event: "relays_presence"; payload: RelaysPresence };

// ---- G→P, as the gateway produces them (byte-exact with connlib)

export function encodeAuthorizationCreated(reference: string): string {
  return encodeEvent("authorization_created", { ref: reference });
}

export function encodeGatewayNoRelays(): string {
  return encodeEvent("no_relays", {});
}

export function encodeGatewaySetSnownetCapabilities(caps: SnownetCapabilities): string {
  return encodeEvent("set_snownet_capabilities", { iceless: caps.iceless });
}

export function encodeBroadcastIceCandidates(clientIds: string[], candidates: string[]): string {
  return encodeEvent("broadcast_ice_candidates", { client_ids: clientIds, candidates });
}

export function encodeBroadcastInvalidatedIceCandidates(clientIds: string[], candidates: string[]): string {
  return encodeEvent("broadcast_invalidated_ice_candidates", { client_ids: clientIds, candidates });
}

// ---- G→P, as the portal reads them

export function parseAuthorizationCreatedReply(payload: unknown): { ref: string } | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  const ref = (payload as { ref?: unknown }).ref;
  return typeof ref === "string" && ref.length > 0 && ref.length <= 256 ? { ref } : undefined;
}

export function parseBroadcastCandidates(payload: unknown): { client_ids: string[]; candidates: string[] } | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  const p = payload as Record<string, unknown>;
  const candidates = parseCandidates(p.candidates);
  if (!Array.isArray(p.client_ids) || p.client_ids.length > 10_000 || !p.client_ids.every(isUuid) || !candidates) return undefined;
  return { client_ids: p.client_ids.map((c: string) => c.toLowerCase()), candidates };
}
