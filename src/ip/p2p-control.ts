// Firezone's p2p control protocol (reference §4): events between client and gateway carried
// inside WireGuard as a fake IPv6 packet. src = dst = `::` (no real packet can be addressed
// there) and next header 0xFF (reserved) make it unmistakable; hop limit 0 keeps it off any
// router. Bytes 40..47 are the control header: event type, then seven zero bytes. A JSON payload
// follows; the whole packet stays ≤ 1280 bytes. Delivery is unreliable: senders retry, events are
// idempotent.
import { parseIp, formatIp } from "./address.ts";
import { IPPROTO_FZ_P2P_CONTROL, IPV6_HEADER_LEN, IPV6_MIN_MTU } from "./constants.ts";
import type { BuildError } from "./drop-reason.ts";
import { writeIPv6Header } from "./ipv6.ts";

export const P2P_EVENT_ASSIGNED_IPS = 0;
export const P2P_EVENT_DOMAIN_STATUS = 1;
export const P2P_EVENT_GOODBYE = 2;
/** The 8-byte control header after the IPv6 header. */
export const P2P_CONTROL_HEADER_LEN = 8;
/** Firezone's MAX_IP_SIZE: the packet, headers included, must fit in it. */
export const P2P_CONTROL_MAX_LEN = IPV6_MIN_MTU;
export const P2P_CONTROL_MAX_PAYLOAD = P2P_CONTROL_MAX_LEN - IPV6_HEADER_LEN - P2P_CONTROL_HEADER_LEN;

const UNSPECIFIED = new Uint8Array(16);

/**
 * Writes a control packet with `eventType` and `payload` into `out` at `off`; returns its length.
 */
export function buildP2pControl(out: Uint8Array, off: number, eventType: number, payload: Uint8Array): number | BuildError {
  if (payload.length > P2P_CONTROL_MAX_PAYLOAD) return "payload-too-large";
  const total = IPV6_HEADER_LEN + P2P_CONTROL_HEADER_LEN + payload.length;
  if (off < 0 || off + total > out.length) return "buffer-too-small";
  writeIPv6Header(out, off, P2P_CONTROL_HEADER_LEN + payload.length, IPPROTO_FZ_P2P_CONTROL, 0, UNSPECIFIED, 0, UNSPECIFIED, 0);
  const h = off + IPV6_HEADER_LEN;
  out[h] = eventType & 0xff;
  out.fill(0, h + 1, h + P2P_CONTROL_HEADER_LEN);
  out.set(payload, h + P2P_CONTROL_HEADER_LEN);
  return total;
}

/**
 * Whether `buf[off, off+len)` is a control packet: IPv6, next header 0xFF, src and dst `::`.
 * Like Firezone, the hop limit and the seven reserved header bytes are not checked on receipt.
 * Cheap enough to run on every packet that leaves WireGuard before normal routing.
 */
export function isP2pControl(buf: Uint8Array, off: number, len: number): boolean {
  if (len < IPV6_HEADER_LEN || off < 0 || off + len > buf.length) return false;
  if (buf[off] >>> 4 !== 6 || buf[off + 6] !== IPPROTO_FZ_P2P_CONTROL) return false;
  for (let i = 8; i < 40; i++) if (buf[off + i] !== 0) return false;
  return true;
}

export interface AssignedIps {
  type: "AssignedIps";
  resource: string;
  domain: string;
  proxyIps: string[];
}
export interface DomainStatus {
  type: "DomainStatus";
  resource: string;
  domain: string;
  /** Any status other than "Active" reads as "Inactive" (forward compatibility, as Firezone). */
  status: "Active" | "Inactive";
}
export interface Goodbye {
  type: "Goodbye";
}
export type P2pEvent = AssignedIps | DomainStatus | Goodbye;

export type P2pDecodeError =
  | "not-p2p-control"
  | "truncated-p2p-control"
  | "unknown-p2p-event"
  | "bad-p2p-json"
  | "bad-p2p-field";

export type P2pDecodeResult = { ok: true; event: P2pEvent } | { ok: false; reason: P2pDecodeError };

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Firezone's DomainName serialises without the trailing root dot. */
function normaliseDomain(d: string): string {
  return d.endsWith(".") ? d.slice(0, -1) : d;
}

function validDomain(d: string): boolean {
  return d.length > 0 && d.length <= 253;
}

/**
 * Encodes an event as a complete control packet into `out` at `off`. The JSON has Firezone's
 * field order (serde struct order) so the bytes match what Firezone sends. AssignedIps needs
 * exactly 4 or 8 proxy IPs, as Firezone's constructor insists.
 */
export function encodeP2pEvent(out: Uint8Array, off: number, event: P2pEvent): number | BuildError | "bad-p2p-field" {
  let eventType: number;
  let payload: Uint8Array;
  switch (event.type) {
    case "Goodbye":
      eventType = P2P_EVENT_GOODBYE;
      payload = new Uint8Array(0);
      break;
    case "AssignedIps": {
      if (!UUID_RE.test(event.resource) || !validDomain(normaliseDomain(event.domain))) return "bad-p2p-field";
      if (event.proxyIps.length !== 4 && event.proxyIps.length !== 8) return "bad-p2p-field";
      const ips: string[] = [];
      for (const s of event.proxyIps) {
        const b = parseIp(s);
        if (b === null) return "bad-p2p-field";
        ips.push(formatIp(b));
      }
      eventType = P2P_EVENT_ASSIGNED_IPS;
      payload = encoder.encode(
        JSON.stringify({ resource: event.resource.toLowerCase(), domain: normaliseDomain(event.domain), proxy_ips: ips }),
      );
      break;
    }
    case "DomainStatus":
      if (!UUID_RE.test(event.resource) || !validDomain(normaliseDomain(event.domain))) return "bad-p2p-field";
      eventType = P2P_EVENT_DOMAIN_STATUS;
      payload = encoder.encode(
        JSON.stringify({
          resource: event.resource.toLowerCase(),
          domain: normaliseDomain(event.domain),
          status: event.status === "Active" ? "Active" : "Inactive",
        }),
      );
      break;
  }
  return buildP2pControl(out, off, eventType, payload);
}

/** Decodes a control packet (as delivered by WireGuard) into an event; never throws. */
export function decodeP2pEvent(buf: Uint8Array, off: number, len: number): P2pDecodeResult {
  if (!isP2pControl(buf, off, len)) return { ok: false, reason: "not-p2p-control" };
  const payloadLen = (buf[off + 4] << 8) | buf[off + 5];
  if (payloadLen < P2P_CONTROL_HEADER_LEN || IPV6_HEADER_LEN + payloadLen > len) {
    return { ok: false, reason: "truncated-p2p-control" };
  }
  const h = off + IPV6_HEADER_LEN;
  const eventType = buf[h];
  const body = buf.subarray(h + P2P_CONTROL_HEADER_LEN, off + IPV6_HEADER_LEN + payloadLen);
  if (eventType === P2P_EVENT_GOODBYE) return { ok: true, event: { type: "Goodbye" } };
  if (eventType !== P2P_EVENT_ASSIGNED_IPS && eventType !== P2P_EVENT_DOMAIN_STATUS) {
    return { ok: false, reason: "unknown-p2p-event" };
  }
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(body));
  } catch {
    return { ok: false, reason: "bad-p2p-json" };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return { ok: false, reason: "bad-p2p-json" };
  const o = json as Record<string, unknown>;
  const resource = o.resource;
  const domain = o.domain;
  if (typeof resource !== "string" || !UUID_RE.test(resource) || typeof domain !== "string") {
    return { ok: false, reason: "bad-p2p-field" };
  }
  const d = normaliseDomain(domain);
  if (!validDomain(d)) return { ok: false, reason: "bad-p2p-field" };
  if (eventType === P2P_EVENT_DOMAIN_STATUS) {
    if (typeof o.status !== "string") return { ok: false, reason: "bad-p2p-field" };
    return {
      ok: true,
      event: { type: "DomainStatus", resource: resource.toLowerCase(), domain: d, status: o.status === "Active" ? "Active" : "Inactive" },
    };
  }
  const list = o.proxy_ips;
  if (!Array.isArray(list)) return { ok: false, reason: "bad-p2p-field" };
  const proxyIps: string[] = [];
  for (const s of list) {
    if (typeof s !== "string") return { ok: false, reason: "bad-p2p-field" };
    const b = parseIp(s);
    if (b === null) return { ok: false, reason: "bad-p2p-field" };
    proxyIps.push(formatIp(b));
  }
  return { ok: true, event: { type: "AssignedIps", resource: resource.toLowerCase(), domain: d, proxyIps } };
}
