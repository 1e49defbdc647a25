/**
 * Socket addresses as STUN carries them. The public shape is `{ ip, port }` with the IP as text
 * (what Bun's UDP socket hands us); the codec converts to and from the 4- or 16-byte wire form.
 */
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6Into, readU32, writeU32 } from "../ip/address.ts";

export interface SocketAddress {
  /** IPv4 dotted quad or IPv6 text (RFC 5952 form when produced by this module). */
  ip: string;
  port: number;
}

export type IpFamily = 4 | 6;

/** Cheap family test: every IPv6 text form has a colon, no IPv4 form does. */
export function ipFamily(ip: string): IpFamily {
  return ip.includes(":") ? 6 : 4;
}

/**
 * Text of an IPv4-mapped IPv6 address ("::ffff:1.2.3.4", as a dual-stack socket reports IPv4
 * senders) as plain IPv4, so it compares equal to the relay's IPv4 address; other text unchanged.
 */
export function unmapIpv4(ip: string): string {
  if (ip.length > 7 && ip.charCodeAt(0) === 0x3a && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip)) return ip.slice(7);
  return ip;
}

/** Map key for an address; brackets keep IPv6 ports unambiguous. */
export function addressKey(a: SocketAddress): string {
  return a.ip.includes(":") ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}

export function sameAddress(a: SocketAddress, b: SocketAddress): boolean {
  return a.port === b.port && a.ip === b.ip;
}

/** Parses IPv4 text into 4 bytes at `out[offset]`; null if it is not exactly a dotted quad of 0..255. */
export function parseIpv4(text: string, out: Uint8Array = new Uint8Array(4), offset = 0): Uint8Array | null {
  const v = parseIPv4(text);
  if (v === null) return null;
  writeU32(out, offset, v);
  return out;
}

/** Parses IPv6 text into 16 bytes; a zone ("%eth0") does not travel in STUN and is ignored. */
export function parseIpv6(text: string, out: Uint8Array = new Uint8Array(16)): Uint8Array | null {
  const pct = text.indexOf("%");
  return parseIPv6Into(pct >= 0 ? text.slice(0, pct) : text, out, 0) ? out : null;
}

/** Parses either family; returns 4 or 16 bytes, or null. */
export function parseIp(text: string): Uint8Array | null {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

export function formatIpv4(b: Uint8Array, offset = 0): string {
  return formatIPv4(readU32(b, offset));
}

/** RFC 5952 text (shared with the IP layer, so an address prints the same everywhere). */
export function formatIpv6(b: Uint8Array, offset = 0): string {
  return formatIPv6(b, offset);
}

/** Formats 4 or 16 bytes. */
export function formatIp(b: Uint8Array): string {
  return b.length === 4 ? formatIpv4(b) : formatIpv6(b);
}
