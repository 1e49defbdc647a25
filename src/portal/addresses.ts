import { isIP } from "node:net";

/** Address checks for resource definitions and for fields clients send (`ipv4`, `ipv6`). */
export function isIpv4(text: unknown): text is string {
  return typeof text === "string" && isIP(text) === 4;
}

export function isIpv6(text: unknown): text is string {
  return typeof text === "string" && isIP(text) === 6;
}

/** `10.0.0.0/8`, `fd00::/64`: an address of either family and a prefix length that fits it. */
export function isCidr(text: unknown): text is string {
  if (typeof text !== "string") return false;
  const slash = text.indexOf("/");
  if (slash < 0) return false;
  const family = isIP(text.slice(0, slash));
  const bits = text.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * A DNS resource address: labels of letters, digits, '-', '_' and the wildcards `*`, `**`, `?`
 * (Firezone's pattern syntax), at most 253 characters, no empty label.
 */
export function isDnsPattern(text: unknown): text is string {
  if (typeof text !== "string" || text.length === 0 || text.length > 253) return false;
  const labels = text.replace(/\.$/, "").split(".");
  return labels.every((l) => l.length > 0 && l.length <= 63 && /^[A-Za-z0-9_\-*?]+$/.test(l));
}

/** Firezone's UUID-typed ids (ResourceId, GatewayId, ...) in their textual form. */
export function isUuid(text: unknown): text is string {
  return typeof text === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text);
}
