import type { Filter } from "../store/model.ts";
import type { FlowLogsConfig, IceCredentials } from "./common.ts";
import { arr, arrOrEmpty, bool, fail, ip, ipv4, ipv6, obj, optStr, socketAddr, str, u16, u64, uuid } from "./reader.ts";

/**
 * Sub-objects that clients and gateways both read from the portal (`messages.rs`), checked the
 * way connlib's serde structs check them.
 */

/** The tunnel interface: addresses plus DNS settings in all three generations of the format. */
export interface InterfaceConfig {
  ipv4: string;
  ipv6: string;
  /** `upstream_do53`, or the older `upstream_dns` [{protocol:"ip_port", address}] when that is empty. */
  upstreamDo53: string[];
  upstreamDoh: string[];
  searchDomain: string | null;
}

export function readInterface(v: unknown, path: string): InterfaceConfig {
  const o = obj(v, path);
  const do53 = arrOrEmpty(o.upstream_do53, `${path}.upstream_do53`).map((u, i) => ip(obj(u, `${path}.upstream_do53[${i}]`).ip, `${path}.upstream_do53[${i}].ip`));
  const legacy = arrOrEmpty(o.upstream_dns, `${path}.upstream_dns`).map((u, i) => {
    const p = `${path}.upstream_dns[${i}]`;
    const s = obj(u, p);
    if (s.protocol !== "ip_port") fail(`${p}.protocol`, 'expected "ip_port"');
    const addr = socketAddr(s.address, `${p}.address`);
    return addr.startsWith("[") ? addr.slice(1, addr.indexOf("]")) : addr.slice(0, addr.lastIndexOf(":"));
  });
  return {
    ipv4: ipv4(o.ipv4, `${path}.ipv4`),
    ipv6: ipv6(o.ipv6, `${path}.ipv6`),
    upstreamDo53: do53.length > 0 ? do53 : legacy,
    upstreamDoh: arrOrEmpty(o.upstream_doh, `${path}.upstream_doh`).map((u, i) => str(obj(u, `${path}.upstream_doh[${i}]`).url, `${path}.upstream_doh[${i}].url`)),
    searchDomain: optStr(o.search_domain, `${path}.search_domain`),
  };
}

export function readFlowLogs(v: unknown, path: string): FlowLogsConfig {
  const o = obj(v, path);
  return {
    api_url: str(o.api_url, `${path}.api_url`),
    upload_interval_secs: u64(o.upload_interval_secs, `${path}.upload_interval_secs`),
    upload_batch_size: u64(o.upload_batch_size, `${path}.upload_batch_size`),
  };
}

export type RelayEntry =
  | { type: "turn"; id: string; addr: string; username: string; password: string; expires_at: number }
  | { type: "stun"; id: string; addr: string };

export function readRelay(v: unknown, path: string): RelayEntry {
  const o = obj(v, path);
  const id = uuid(o.id, `${path}.id`);
  const addr = socketAddr(o.addr, `${path}.addr`);
  if (o.type === "stun") return { type: "stun", id, addr };
  if (o.type !== "turn") fail(`${path}.type`, 'expected "turn" or "stun"');
  return {
    type: "turn",
    id,
    addr,
    username: str(o.username, `${path}.username`),
    password: str(o.password, `${path}.password`),
    expires_at: u64(o.expires_at, `${path}.expires_at`),
  };
}

export interface RelaysPresenceUpdate {
  disconnected_ids: string[];
  connected: RelayEntry[];
}

export function readRelaysPresence(v: unknown, path: string): RelaysPresenceUpdate {
  const o = obj(v, path);
  return {
    disconnected_ids: arr(o.disconnected_ids, `${path}.disconnected_ids`).map((id, i) => uuid(id, `${path}.disconnected_ids[${i}]`)),
    connected: arr(o.connected, `${path}.connected`).map((r, i) => readRelay(r, `${path}.connected[${i}]`)),
  };
}

/** `{protocol:"tcp"|"udp", port_range_start=0, port_range_end=65535}` or `{protocol:"icmp"}`. */
export function readFilter(v: unknown, path: string): Required<Extract<Filter, { protocol: "tcp" | "udp" }>> | { protocol: "icmp" } {
  const o = obj(v, path);
  if (o.protocol === "icmp") return { protocol: "icmp" };
  if (o.protocol !== "tcp" && o.protocol !== "udp") fail(`${path}.protocol`, "expected tcp, udp or icmp");
  return {
    protocol: o.protocol,
    port_range_start: o.port_range_start === undefined ? 0 : u16(o.port_range_start, `${path}.port_range_start`),
    port_range_end: o.port_range_end === undefined ? 65535 : u16(o.port_range_end, `${path}.port_range_end`),
  };
}

export function readFilters(v: unknown, path: string) {
  return arr(v, path).map((f, i) => readFilter(f, `${path}[${i}]`));
}

export function readIceCredentials(v: unknown, path: string): IceCredentials {
  const o = obj(v, path);
  return { username: str(o.username, `${path}.username`), password: str(o.password, `${path}.password`) };
}

/**
 * Candidates with the junk skipped, as connlib's `VecSkipError` does; the list itself must exist.
 * connlib's IceCandidate asks only for the `candidate:` prefix and a numeric priority (4th field);
 * the ICE layer judges the rest.
 */
export function readCandidates(v: unknown, path: string): string[] {
  return arr(v, path).filter((c): c is string => typeof c === "string" && isSignalledCandidate(c));
}

export function isSignalledCandidate(text: string): boolean {
  const parts = text.trim().split(/\s+/);
  return parts.length >= 4 && parts[0]!.startsWith("candidate:") && /^\d{1,10}$/.test(parts[3]!) && Number(parts[3]) <= 0xffffffff;
}

/** A grant as `init` lists it and `access_authorization_expiry_updated` moves it: expiry in Unix seconds. */
export interface Authorization {
  clientId: string;
  resourceId: string;
  expiresAt: number;
}

export function readAuthorization(v: unknown, path: string): Authorization {
  const o = obj(v, path);
  return { clientId: uuid(o.client_id, `${path}.client_id`), resourceId: uuid(o.resource_id, `${path}.resource_id`), expiresAt: u64(o.expires_at, `${path}.expires_at`) };
}

/** `init.authorizations`: absent means none. */
export function readAuthorizations(v: unknown, path: string): Authorization[] {
  return arrOrEmpty(v, path).map((a, i) => readAuthorization(a, `${path}[${i}]`));
}

/** `reject_access`: which client loses which resource. */
export function readAccessRef(v: unknown, path: string): { clientId: string; resourceId: string } {
  const o = obj(v, path);
  return { clientId: uuid(o.client_id, `${path}.client_id`), resourceId: uuid(o.resource_id, `${path}.resource_id`) };
}

/** An `expires_at` that may be absent or null, meaning "no expiry". */
export function readOptionalExpiry(v: unknown, path: string): number | null {
  return v === undefined || v === null ? null : u64(v, path);
}

export function readUseIceless(v: unknown, path: string): boolean {
  return v === undefined || v === null ? false : bool(v, path);
}
