/**
 * Socket addresses as STUN carries them. The public shape is `{ ip, port }` with the IP as text
 * (what Bun's UDP socket hands us); the codec converts to and from the 4- or 16-byte wire form.
 */

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

/** Parses IPv4 text into 4 bytes; null if it is not exactly a dotted quad of 0..255. */
export function parseIpv4(text: string, out: Uint8Array = new Uint8Array(4), offset = 0): Uint8Array | null {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return null;
      out[offset + part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      // A leading zero would make "010" ambiguous (octal in some parsers); refuse it like inet_pton.
      if (digits > 0 && value === 0) return null;
      value = value * 10 + (c - 0x30);
      if (value > 255) return null;
      digits++;
    } else {
      return null;
    }
  }
  return part === 4 ? out : null;
}

/** Parses IPv6 text (with `::` and an optional trailing dotted quad) into 16 bytes; null if invalid. */
export function parseIpv6(text: string, out: Uint8Array = new Uint8Array(16)): Uint8Array | null {
  // A zone ("%eth0") does not travel in STUN; ignore it.
  const pct = text.indexOf("%");
  if (pct >= 0) text = text.slice(0, pct);
  const dbl = text.indexOf("::");
  if (dbl >= 0 && text.indexOf("::", dbl + 1) >= 0) return null;
  const head = dbl >= 0 ? text.slice(0, dbl) : text;
  const tail = dbl >= 0 ? text.slice(dbl + 2) : "";
  const headGroups = head.length ? head.split(":") : [];
  const tailGroups = tail.length ? tail.split(":") : [];
  const words: number[] = [];
  const tailWords: number[] = [];
  if (!pushGroups(headGroups, words, dbl < 0 && tailGroups.length === 0)) return null;
  if (!pushGroups(tailGroups, tailWords, true)) return null;
  const total = words.length + tailWords.length;
  if (dbl < 0 ? total !== 8 : total > 7) return null;
  out.fill(0);
  for (let i = 0; i < words.length; i++) {
    out[i * 2] = words[i] >> 8;
    out[i * 2 + 1] = words[i] & 0xff;
  }
  const start = 8 - tailWords.length;
  for (let i = 0; i < tailWords.length; i++) {
    out[(start + i) * 2] = tailWords[i] >> 8;
    out[(start + i) * 2 + 1] = tailWords[i] & 0xff;
  }
  return out;
}

function pushGroups(groups: string[], words: number[], lastMayBeV4: boolean): boolean {
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    if (lastMayBeV4 && i === groups.length - 1 && g.includes(".")) {
      const v4 = parseIpv4(g);
      if (!v4) return false;
      words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      continue;
    }
    if (g.length === 0 || g.length > 4) return false;
    let w = 0;
    for (let j = 0; j < g.length; j++) {
      const c = g.charCodeAt(j);
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) return false;
      w = (w << 4) | d;
    }
    words.push(w);
  }
  return true;
}

/** Parses either family; returns 4 or 16 bytes, or null. */
export function parseIp(text: string): Uint8Array | null {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

export function formatIpv4(b: Uint8Array, offset = 0): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
export function formatIpv6(b: Uint8Array, offset = 0): string {
  const w = new Array<number>(8);
  for (let i = 0; i < 8; i++) w[i] = (b[offset + i * 2] << 8) | b[offset + i * 2 + 1];
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => w.slice(from, to).map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Formats 4 or 16 bytes. */
export function formatIp(b: Uint8Array): string {
  return b.length === 4 ? formatIpv4(b) : formatIpv6(b);
}
