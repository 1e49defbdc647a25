// IP address text forms. Only for config and logging: the hot path keeps IPv4 addresses as u32
// numbers and IPv6 addresses as 16 bytes in buffers the caller owns.

/** Parses dotted-quad IPv4 ("10.0.0.1") to a u32. Leading zeros are rejected (they mean octal to some parsers). */
export function parseIPv4(text: string): number | null {
  let value = 0;
  let parts = 0;
  let i = 0;
  const n = text.length;
  while (parts < 4) {
    const start = i;
    let octet = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      octet = octet * 10 + (c - 48);
      i++;
      if (i - start > 3) return null;
    }
    const digits = i - start;
    if (digits === 0 || octet > 255 || (digits > 1 && text.charCodeAt(start) === 48)) return null;
    value = value * 256 + octet;
    parts++;
    if (parts < 4) {
      if (text.charCodeAt(i) !== 46) return null;
      i++;
    }
  }
  return i === n ? value >>> 0 : null;
}

/** Formats a u32 as dotted-quad. */
export function formatIPv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/** Reads a big-endian u32 (an IPv4 address) from a buffer. */
export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

/** Writes a u32 big-endian. */
export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}

/**
 * Parses an IPv6 address (RFC 4291 §2.2: hex groups, one `::`, optional dotted-quad tail) into
 * 16 bytes at `out[off]`. Returns false (and leaves `out` in an unspecified state) if invalid.
 * Zone ids ("%eth0") are not addresses and are rejected.
 */
export function parseIPv6Into(text: string, out: Uint8Array, off = 0): boolean {
  const n = text.length;
  if (n < 2 || n > 45) return false;
  const groups = new Array<number>(8);
  let count = 0;
  let gap = -1; // index in groups where "::" sits
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === n) {
      out.fill(0, off, off + 16);
      return true;
    }
  }
  while (i < n) {
    if (count === 8) return false;
    // A dotted-quad tail takes the last two groups.
    let j = i;
    let hex = 0;
    let digits = 0;
    while (j < n) {
      const c = text.charCodeAt(j);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else break;
      hex = hex * 16 + d;
      digits++;
      j++;
    }
    if (j < n && text.charCodeAt(j) === 46) {
      if (count > 6) return false;
      const v4 = parseIPv4(text.slice(i));
      if (v4 === null) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      i = n;
      break;
    }
    if (digits === 0 || digits > 4) return false;
    groups[count++] = hex;
    i = j;
    if (i === n) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (i < n && text.charCodeAt(i) === 58) {
      if (gap !== -1) return false;
      gap = count;
      i++;
      if (i === n) break;
    } else if (i === n) {
      return false; // trailing single colon
    }
  }
  if (gap === -1 ? count !== 8 : count > 7) return false;
  const zeros = 8 - count;
  let g = 0;
  for (let k = 0; k < 8; k++) {
    let v: number;
    if (gap !== -1 && k >= gap && k < gap + zeros) v = 0;
    else v = groups[g++];
    out[off + 2 * k] = v >>> 8;
    out[off + 2 * k + 1] = v & 0xff;
  }
  return true;
}

/** Parses an IPv6 address into a new 16-byte array, or null. */
export function parseIPv6(text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  return parseIPv6Into(text, out, 0) ? out : null;
}

/**
 * Formats 16 bytes as RFC 5952 text: lowercase, no leading zeros, the longest run of two or more
 * zero groups (the first on a tie) as `::`, and IPv4-mapped addresses as `::ffff:a.b.c.d` (§5).
 */
export function formatIPv6(buf: Uint8Array, off = 0): string {
  const g = (k: number) => (buf[off + 2 * k] << 8) | buf[off + 2 * k + 1];
  let mapped = g(5) === 0xffff;
  for (let k = 0; k < 5 && mapped; k++) if (g(k) !== 0) mapped = false;
  if (mapped) return `::ffff:${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed (§4.2.2)
  for (let k = 0; k < 8; ) {
    if (g(k) !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && g(e) === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  let s = "";
  for (let k = 0; k < 8; k++) {
    if (k === bestStart) {
      s += "::";
      k += bestLen - 1;
      continue;
    }
    if (s !== "" && !s.endsWith(":")) s += ":";
    s += g(k).toString(16);
  }
  return s;
}

/** An address parsed from text: 4 bytes for IPv4, 16 for IPv6. */
export type IpBytes = Uint8Array;

/** Parses either family; the result's length (4 or 16) says which. */
export function parseIp(text: string): IpBytes | null {
  const v4 = parseIPv4(text);
  if (v4 !== null) {
    const out = new Uint8Array(4);
    writeU32(out, 0, v4);
    return out;
  }
  return parseIPv6(text);
}

/** Formats 4 or 16 address bytes at `off` (`len` says which family). */
export function formatIp(buf: Uint8Array, off = 0, len: 4 | 16 = buf.length === 4 ? 4 : 16): string {
  return len === 4 ? formatIPv4(readU32(buf, off)) : formatIPv6(buf, off);
}
