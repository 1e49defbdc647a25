// Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// Sums are kept unfolded as plain JS numbers: 16-bit words added up stay far below 2^53 for any IP
// packet, so folding happens once at the end instead of per word.

/**
 * One's-complement sum of `len` bytes at `off` as big-endian 16-bit words, added to `acc`,
 * NOT folded or inverted. An odd trailing byte is padded with zero (RFC 1071 §4.1).
 * Callers chain it (pseudo-header, then header, then payload) and call `finishChecksum`.
 */
export function sum16(buf: Uint8Array, off: number, len: number, acc = 0): number {
  let s = acc;
  let i = off;
  const end = off + len;
  const even = end - ((end - off) & 1);
  // Two words per step halves the loop overhead; the sum still fits easily.
  for (; i + 3 < even; i += 4) {
    s += ((buf[i] << 8) | buf[i + 1]) + ((buf[i + 2] << 8) | buf[i + 3]);
  }
  for (; i < even; i += 2) s += (buf[i] << 8) | buf[i + 1];
  if (even !== end) s += buf[even] << 8;
  return s;
}

/** Folds a running sum to 16 bits (end-around carry). */
export function fold16(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

/** The checksum field value for a running sum: one's complement of the folded sum. */
export function finishChecksum(sum: number): number {
  return ~fold16(sum) & 0xffff;
}

/** Full Internet checksum of a byte range (e.g. the IPv4 header with its checksum field zeroed). */
export function internetChecksum(buf: Uint8Array, off: number, len: number, acc = 0): number {
  return finishChecksum(sum16(buf, off, len, acc));
}

/**
 * RFC 1624 eqn. 3 building block: the sum to add for a 16-bit word changing from `oldWord` to
 * `newWord` (~m + m'). Deltas of several changed words can be added together before applying.
 */
export function wordDelta(oldWord: number, newWord: number): number {
  return (~oldWord & 0xffff) + (newWord & 0xffff);
}

/**
 * The delta for `len` bytes (even) at `off` about to be replaced by `len` bytes at `newOff` in
 * `newBuf`. Used for addresses: call before overwriting.
 */
export function rangeDelta(
  buf: Uint8Array,
  off: number,
  newBuf: Uint8Array,
  newOff: number,
  len: number,
): number {
  let d = 0;
  for (let i = 0; i < len; i += 2) {
    d += (~((buf[off + i] << 8) | buf[off + i + 1]) & 0xffff) + ((newBuf[newOff + i] << 8) | newBuf[newOff + i + 1]);
  }
  return d;
}

/** The delta for a u32 (e.g. an IPv4 address as a number) changing from `oldV` to `newV`. */
export function u32Delta(oldV: number, newV: number): number {
  return wordDelta(oldV >>> 16, newV >>> 16) + wordDelta(oldV & 0xffff, newV & 0xffff);
}

/** RFC 1624 eqn. 3: HC' = ~(~HC + delta), where delta = Σ(~m + m'). */
export function applyDelta(checksum: number, delta: number): number {
  return ~fold16((~checksum & 0xffff) + delta) & 0xffff;
}

/**
 * Applies `delta` to the big-endian checksum stored at `off`. For a UDP checksum over IPv4,
 * pass `udp = true`: a stored 0 means "no checksum" and must stay 0, and a computed 0 must be sent
 * as 0xFFFF (RFC 768), since 0 would otherwise switch checksumming off.
 */
export function adjustChecksumAt(buf: Uint8Array, off: number, delta: number, udp = false): void {
  const old = (buf[off] << 8) | buf[off + 1];
  if (udp && old === 0) return;
  let c = applyDelta(old, delta);
  if (udp && c === 0) c = 0xffff;
  buf[off] = c >>> 8;
  buf[off + 1] = c & 0xff;
}

/** Sum of the IPv4 pseudo-header (RFC 793/768): addresses, zero, protocol, upper-layer length. */
export function pseudoSum4(buf: Uint8Array, ipOff: number, protocol: number, l4Len: number): number {
  return sum16(buf, ipOff + 12, 8, protocol + l4Len);
}

/**
 * Sum of the IPv6 pseudo-header (RFC 8200 §8.1): addresses, 32-bit length, next header.
 * `dstOff` is where the final destination sits: the header's destination field, except in a packet
 * still in transit through a routing header (see PacketView.pseudoDstOff).
 */
export function pseudoSum6(
  buf: Uint8Array,
  ipOff: number,
  nextHeader: number,
  l4Len: number,
  dstOff = ipOff + 24,
): number {
  return sum16(buf, dstOff, 16, sum16(buf, ipOff + 8, 16, nextHeader + (l4Len >>> 16) + (l4Len & 0xffff)));
}
