// CIDR prefixes: parse/format, containment, and a longest-prefix-match table for routing
// (client routes, gateway resource tables). Lookups read the address straight from the packet
// buffer and allocate nothing.
import { formatIp, parseIPv4, parseIPv6, readU32, writeU32 } from "./address.ts";

export interface Cidr {
  family: 4 | 6;
  /** The network address, host bits cleared: 4 or 16 bytes. */
  addr: Uint8Array;
  prefix: number;
}

export type CidrParseResult = { ok: true; cidr: Cidr } | { ok: false; reason: "bad-cidr-address" | "bad-cidr-prefix" };

/**
 * Parses "10.0.0.0/8" or "fd00::/8". A bare address is a host prefix (/32, /128). Host bits
 * below the prefix are cleared ("10.1.2.3/8" is 10.0.0.0/8): routing only cares about the network.
 */
export function parseCidr(text: string): CidrParseResult {
  const slash = text.indexOf("/");
  const addrText = slash < 0 ? text : text.slice(0, slash);
  let addr: Uint8Array;
  let family: 4 | 6;
  const v4 = parseIPv4(addrText);
  if (v4 !== null) {
    addr = new Uint8Array(4);
    writeU32(addr, 0, v4);
    family = 4;
  } else {
    const v6 = parseIPv6(addrText);
    if (v6 === null) return { ok: false, reason: "bad-cidr-address" };
    addr = v6;
    family = 6;
  }
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return { ok: false, reason: "bad-cidr-prefix" };
    prefix = Number(p);
    if (prefix > max) return { ok: false, reason: "bad-cidr-prefix" };
  }
  maskInPlace(addr, prefix);
  return { ok: true, cidr: { family, addr, prefix } };
}

/** Clears the bits after `prefix` in an address byte array. */
function maskInPlace(addr: Uint8Array, prefix: number): void {
  for (let i = 0; i < addr.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    addr[i] &= (0xff00 >>> keep) & 0xff;
  }
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.addr, 0, c.family === 4 ? 4 : 16)}/${c.prefix}`;
}

/** The IPv4 netmask for a prefix length as a u32. */
export function mask4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Whether the IPv4 address `addr` (u32) is in `net/prefix`. */
export function cidrContains4(net: number, prefix: number, addr: number): boolean {
  const m = mask4(prefix);
  return ((addr & m) >>> 0) === ((net & m) >>> 0);
}

/** Whether the address of `len` bytes (4 or 16) at `buf[off]` is in `c`. A family mismatch is false. */
export function cidrContains(c: Cidr, buf: Uint8Array, off: number, len: number): boolean {
  if (len !== c.addr.length) return false;
  if (c.family === 4) return cidrContains4(readU32(c.addr, 0), c.prefix, readU32(buf, off));
  const full = c.prefix >>> 3;
  for (let i = 0; i < full; i++) if (buf[off + i] !== c.addr[i]) return false;
  const rem = c.prefix & 7;
  if (rem === 0) return true;
  const m = (0xff00 >>> rem) & 0xff;
  return (buf[off + full] & m) === c.addr[full];
}

class TrieNode<T> {
  zero: TrieNode<T> | null = null;
  one: TrieNode<T> | null = null;
  has = false;
  value: T | undefined = undefined;
}

function bit(buf: Uint8Array, off: number, i: number): number {
  return (buf[off + (i >>> 3)] >>> (7 - (i & 7))) & 1;
}

/**
 * Longest-prefix-match table, one binary trie per family. Lookups walk at most 32 / 128 nodes and
 * allocate nothing; inserts and removes are control-plane operations.
 */
export class CidrTable<T> {
  private roots = { 4: new TrieNode<T>(), 6: new TrieNode<T>() };
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds or replaces the value for `c`. */
  insert(c: Cidr, value: T): void {
    let n = this.roots[c.family];
    for (let i = 0; i < c.prefix; i++) {
      if (bit(c.addr, 0, i) === 0) n = n.zero ??= new TrieNode<T>();
      else n = n.one ??= new TrieNode<T>();
    }
    if (!n.has) this.count++;
    n.has = true;
    n.value = value;
  }

  /** Removes exactly `c` (not the prefixes it contains). Returns whether it was present. */
  remove(c: Cidr): boolean {
    const path: TrieNode<T>[] = [];
    let n: TrieNode<T> | null = this.roots[c.family];
    for (let i = 0; i < c.prefix && n !== null; i++) {
      path.push(n);
      n = bit(c.addr, 0, i) === 0 ? n.zero : n.one;
    }
    if (n === null || !n.has) return false;
    n.has = false;
    n.value = undefined;
    this.count--;
    // Prune now-empty leaves so churn (resources come and go) doesn't grow the trie forever.
    for (let i = path.length - 1; i >= 0; i--) {
      const child: TrieNode<T> = i + 1 < path.length ? path[i + 1] : n;
      if (child.has || child.zero !== null || child.one !== null) break;
      const parent = path[i];
      if (parent.zero === child) parent.zero = null;
      else parent.one = null;
    }
    return true;
  }

  /** Exact-match lookup of a prefix (for config diffs). */
  get(c: Cidr): T | undefined {
    let n: TrieNode<T> | null = this.roots[c.family];
    for (let i = 0; i < c.prefix && n !== null; i++) n = bit(c.addr, 0, i) === 0 ? n.zero : n.one;
    return n !== null && n.has ? n.value : undefined;
  }

  /** Longest-prefix match for the `len`-byte (4 or 16) address at `buf[off]`, e.g.
   * `table.lookup(view.buf, view.dstOff, view.addrLen)`. */
  lookup(buf: Uint8Array, off: number, len: number): T | undefined {
    let n: TrieNode<T> | null = len === 4 ? this.roots[4] : this.roots[6];
    const bits = len === 4 ? 32 : 128;
    let best: T | undefined = undefined;
    for (let i = 0; n !== null; i++) {
      if (n.has) best = n.value;
      if (i === bits) break;
      n = bit(buf, off, i) === 0 ? n.zero : n.one;
    }
    return best;
  }

  /** Longest-prefix match for an IPv4 address as a u32. */
  lookup4(addr: number): T | undefined {
    let n: TrieNode<T> | null = this.roots[4];
    let best: T | undefined = undefined;
    for (let i = 0; n !== null; i++) {
      if (n.has) best = n.value;
      if (i === 32) break;
      n = ((addr >>> (31 - i)) & 1) === 0 ? n.zero : n.one;
    }
    return best;
  }

  /** Every (prefix, value), for status output and tests. */
  entries(): [Cidr, T][] {
    const out: [Cidr, T][] = [];
    for (const family of [4, 6] as const) {
      const addr = new Uint8Array(family === 4 ? 4 : 16);
      const walk = (n: TrieNode<T>, depth: number) => {
        if (n.has) out.push([{ family, addr: addr.slice(), prefix: depth }, n.value as T]);
        const byte = depth >>> 3;
        const m = 0x80 >>> (depth & 7);
        if (n.zero !== null) walk(n.zero, depth + 1);
        if (n.one !== null) {
          addr[byte] |= m;
          walk(n.one, depth + 1);
          addr[byte] &= ~m;
        }
      };
      walk(this.roots[family], 0);
    }
    return out;
  }
}
