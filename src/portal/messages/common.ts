import { isUuid } from "../addresses.ts";

/**
 * Pieces shared by client and gateway messages (`rust/libs/connlib/tunnel-proto/src/messages.rs`).
 * Field names and order follow Firezone's serde structs.
 */

export interface IceCredentials {
  username: string;
  password: string;
}

/** One entry of `relays` / `relays_presence.connected`. */
export interface TurnRelay {
  type: "turn";
  id: string;
  addr: string;
  username: string;
  password: string;
  /** Unix seconds. */
  expires_at: number;
}

export interface RelaysPresence {
  disconnected_ids: string[];
  connected: TurnRelay[];
}

/** `flow_logs` of both inits. `upload_interval_secs: 0` means "uploads off" to connlib. */
export interface FlowLogsConfig {
  api_url: string;
  upload_interval_secs: number;
  upload_batch_size: number;
}

export interface SnownetCapabilities {
  iceless: boolean;
}

/** `{iceless}` with unknown fields ignored and `{}` meaning all off, as connlib reads it. */
export function parseSnownetCapabilities(payload: unknown): SnownetCapabilities | undefined {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return undefined;
  const iceless = (payload as { iceless?: unknown }).iceless;
  if (iceless !== undefined && typeof iceless !== "boolean") return undefined;
  return { iceless: iceless === true };
}

/** Longest candidate list the portal forwards in one message; more is a client bug or abuse. */
export const MAX_CANDIDATES = 64;
/** Longest SDP candidate line forwarded. */
export const MAX_CANDIDATE_LENGTH = 512;

/**
 * Candidates are forwarded as strings without interpretation (the peer parses them and skips junk,
 * like connlib's VecSkipError); only non-strings and oversized lists are refused here.
 */
export function parseCandidates(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length > MAX_CANDIDATES) return undefined;
  const out: string[] = [];
  for (const c of value) {
    if (typeof c !== "string" || c.length > MAX_CANDIDATE_LENGTH) return undefined;
    out.push(c);
  }
  return out;
}

/** `{<idKey>: uuid, candidates: [...]}`, the shape of every single-peer candidate message. */
export function parsePeerCandidates<K extends string>(payload: unknown, idKey: K): ({ [P in K]: string } & { candidates: string[] }) | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  const p = payload as Record<string, unknown>;
  const id = p[idKey];
  const candidates = parseCandidates(p.candidates);
  if (!isUuid(id) || !candidates) return undefined;
  return { [idKey]: id.toLowerCase(), candidates } as { [P in K]: string } & { candidates: string[] };
}
