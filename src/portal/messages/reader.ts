import { isCidr, isIpv4, isIpv6, isUuid } from "../addresses.ts";
import { readIngestClaims } from "../ingest-token.ts";

/**
 * Checked reading of JSON the portal sent, the way connlib's serde structs read it: required
 * fields must be there with the right type, `Option` fields may be missing or null, unknown fields
 * are ignored. A failure names the path (`payload.client.ipv4`) and never escapes as an exception.
 */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export class ReadError extends Error {}

export function parsed<T>(fn: () => T): Parsed<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    if (error instanceof ReadError) return { ok: false, error: error.message };
    throw error;
  }
}

export function fail(path: string, what: string): never {
  throw new ReadError(`${path}: ${what}`);
}

export function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(path, "expected an object");
  return v as Record<string, unknown>;
}

export function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, "expected a list");
  return v;
}

/** A list that may be missing (serde `default`). */
export function arrOrEmpty(v: unknown, path: string): unknown[] {
  return v === undefined ? [] : arr(v, path);
}

export function str(v: unknown, path: string): string {
  if (typeof v !== "string") fail(path, "expected a string");
  return v;
}

export function optStr(v: unknown, path: string): string | null {
  return v === undefined || v === null ? null : str(v, path);
}

export function bool(v: unknown, path: string): boolean {
  if (typeof v !== "boolean") fail(path, "expected true or false");
  return v;
}

export function u64(v: unknown, path: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) fail(path, "expected a whole number ≥ 0");
  return v;
}

export function u16(v: unknown, path: string): number {
  const n = u64(v, path);
  if (n > 65535) fail(path, "expected 0..65535");
  return n;
}

export function uuid(v: unknown, path: string): string {
  if (!isUuid(v)) fail(path, "expected a UUID");
  return v.toLowerCase();
}

export function ipv4(v: unknown, path: string): string {
  if (!isIpv4(v)) fail(path, "expected an IPv4 address");
  return v;
}

export function ipv6(v: unknown, path: string): string {
  if (!isIpv6(v)) fail(path, "expected an IPv6 address");
  return v;
}

export function ip(v: unknown, path: string): string {
  if (!isIpv4(v) && !isIpv6(v)) fail(path, "expected an IP address");
  return v as string;
}

export function cidr(v: unknown, path: string): string {
  if (!isCidr(v)) fail(path, "expected a CIDR");
  return v;
}

/** `1.2.3.4:3478` or `[2001:db8::1]:3478`, as Rust's SocketAddr writes it. */
export function socketAddr(v: unknown, path: string): string {
  const text = str(v, path);
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  if (!m || Number(m[3]) > 65535 || (m[1] !== undefined ? !isIpv6(m[1]) : !isIpv4(m[2]))) fail(path, "expected ip:port");
  return text;
}

/** A WireGuard key (public or pre-shared): standard base64 of 32 bytes. */
export function key(v: unknown, path: string): string {
  const text = str(v, path);
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text) || Buffer.from(text, "base64").length !== 32) fail(path, "expected a 32-byte base64 key");
  return text;
}

/** connlib's IngestToken: a three-part HS256 JWT whose claims carry the required fields. */
export function ingestToken(v: unknown, path: string): string {
  const text = str(v, path);
  const claims = readIngestClaims(text) as Record<string, unknown> | undefined;
  if (!claims) fail(path, "expected an HS256 JWT");
  for (const k of ["account_id", "role", "initiator_device_id", "responder_device_id", "policy_authorization_id", "policy_id", "resource_id", "resource_name", "initiator_actor_id", "initiator_actor_name", "authorized_at", "authorization_expires_at"]) {
    str(claims[k], `${path}.${k}`);
  }
  u64(claims.iat, `${path}.iat`);
  u64(claims.exp, `${path}.exp`);
  bool(claims.uploads_enabled, `${path}.uploads_enabled`);
  if (claims.role !== "initiator" && claims.role !== "responder") fail(`${path}.role`, "expected initiator or responder");
  return text;
}
