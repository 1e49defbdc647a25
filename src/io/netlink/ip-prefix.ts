/**
 * Textual IP addresses and prefixes ⇄ the raw bytes netlink carries, for addresses, routes and
 * rules. Formatting follows RFC 5952 (what `ip -j` prints), so results compare as strings.
 */
import { AF_INET, AF_INET6 } from "./constants.ts";

export interface IpPrefix {
  family: typeof AF_INET | typeof AF_INET6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
  prefixLen: number;
}

export function parseIp(text: string): { family: typeof AF_INET | typeof AF_INET6; bytes: Uint8Array } {
  if (text.includes(":")) return { family: AF_INET6, bytes: parseIpv6(text) };
  return { family: AF_INET, bytes: parseIpv4(text) };
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
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) throw new RangeError(`not an IP address: ${bytes.length} bytes`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952 §4.2: compress the longest run (≥ 2) of zero groups, the first one on ties.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

export function formatPrefix(p: IpPrefix): string {
  return `${formatIp(p.bytes)}/${p.prefixLen}`;
}

function parseIpv4(text: string): Uint8Array {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new RangeError(`invalid IPv4 address "${text}"`);
  }
  return Uint8Array.from(parts.map(Number));
}

function parseIpv6(text: string): Uint8Array {
  const bad = () => new RangeError(`invalid IPv6 address "${text}"`);
  const halves = text.split("::");
  if (halves.length > 2) throw bad();
  const parseGroups = (s: string): number[] => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) throw bad();
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) throw bad();
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}
