/**
 * Textual prefixes (`10.0.0.0/8`, `fd00::1/128`) ⇄ the raw bytes netlink carries. Address text
 * itself is src/ip's (RFC 5952 formatting, what `ip -j` prints), so results compare as strings.
 */
import { formatIp as formatIpBytes, parseIp as parseIpBytes } from "../../ip/index.ts";
import { AF_INET, AF_INET6 } from "./constants.ts";

export interface IpPrefix {
  family: typeof AF_INET | typeof AF_INET6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
  prefixLen: number;
}

export function parseIp(text: string): { family: typeof AF_INET | typeof AF_INET6; bytes: Uint8Array } {
  const bytes = parseIpBytes(text);
  if (!bytes) throw new RangeError(`invalid IP address "${text}"`);
  return { family: bytes.length === 16 ? AF_INET6 : AF_INET, bytes };
}

/** `10.0.0.1/32`, `fd00::/64`; a bare address means a host prefix (/32 or /128). */
export function parsePrefix(text: string): IpPrefix {
  const slash = text.indexOf("/");
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  const max = ip.bytes.length * 8;
  let prefixLen = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
      throw new RangeError(`invalid prefix length in "${text}" (0–${max})`);
    }
    prefixLen = Number(lenText);
  }
  return { ...ip, prefixLen };
}

export function formatIp(bytes: Uint8Array): string {
  if (bytes.length !== 4 && bytes.length !== 16) throw new RangeError(`not an IP address: ${bytes.length} bytes`);
  return formatIpBytes(bytes);
}

export function formatPrefix(p: IpPrefix): string {
  return `${formatIp(p.bytes)}/${p.prefixLen}`;
}
