import { CryptoError } from "./errors.ts";

/**
 * BLAKE2s (RFC 7693) written for the handshake's short inputs (32–148 bytes): one compression
 * function over local variables, states as 8-word Int32Arrays, no objects per call. It beats
 * Bun.CryptoHasher for these sizes because a native hasher pays a JS→native crossing and a
 * Buffer per update/digest, and it beats @noble/hashes by keeping the 16 working words in
 * registers. It also serves what the native hasher cannot: keyed mode and 16-byte outputs
 * (MAC1/MAC2), and HMAC with the key's pad blocks compressed once (the KDF's `prk` is used for
 * up to three outputs, and C_0 for every handshake).
 */

const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

// RFC 7693 §2.7 message schedule, 10 rounds.
const SIGMA = Uint8Array.from([
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
  11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4,
  7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8,
  9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13,
  2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9,
  12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11,
  13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10,
  6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5,
  10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0,
]);

export const BLOCK = 64;
/** Message words of the block being compressed. */
const M = new Int32Array(16);

/**
 * Compresses one 64-byte block: buf[off, off+avail) zero-padded to 64 bytes, `t` bytes counted
 * so far (this block included), `last` for the final block. Updates `h` in place.
 */
function compress(h: Int32Array, buf: Uint8Array, off: number, avail: number, t: number, last: boolean): void {
  const m = M;
  if (avail >= BLOCK) {
    for (let i = 0, j = off; i < 16; i++, j += 4) m[i] = buf[j] | (buf[j + 1] << 8) | (buf[j + 2] << 16) | (buf[j + 3] << 24);
  } else {
    m.fill(0);
    for (let i = 0; i < avail; i++) m[i >> 2] |= buf[off + i] << ((i & 3) << 3);
  }
  let v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6], v7 = h[7];
  let v8 = IV[0], v9 = IV[1], v10 = IV[2], v11 = IV[3];
  // t < 2^53: the low word, then the high word of the 64-bit byte counter.
  let v12 = IV[4] ^ (t | 0), v13 = IV[5] ^ ((t / 0x1_0000_0000) | 0);
  let v14 = last ? ~IV[6] : IV[6], v15 = IV[7];
  let x = 0;
  for (let r = 0; r < 160; r += 16) {
    const s = SIGMA;
    // Columns.
    v0 = (v0 + v4 + m[s[r]]) | 0; x = v12 ^ v0; v12 = (x >>> 16) | (x << 16);
    v8 = (v8 + v12) | 0; x = v4 ^ v8; v4 = (x >>> 12) | (x << 20);
    v0 = (v0 + v4 + m[s[r + 1]]) | 0; x = v12 ^ v0; v12 = (x >>> 8) | (x << 24);
    v8 = (v8 + v12) | 0; x = v4 ^ v8; v4 = (x >>> 7) | (x << 25);

    v1 = (v1 + v5 + m[s[r + 2]]) | 0; x = v13 ^ v1; v13 = (x >>> 16) | (x << 16);
    v9 = (v9 + v13) | 0; x = v5 ^ v9; v5 = (x >>> 12) | (x << 20);
    v1 = (v1 + v5 + m[s[r + 3]]) | 0; x = v13 ^ v1; v13 = (x >>> 8) | (x << 24);
    v9 = (v9 + v13) | 0; x = v5 ^ v9; v5 = (x >>> 7) | (x << 25);

    v2 = (v2 + v6 + m[s[r + 4]]) | 0; x = v14 ^ v2; v14 = (x >>> 16) | (x << 16);
    v10 = (v10 + v14) | 0; x = v6 ^ v10; v6 = (x >>> 12) | (x << 20);
    v2 = (v2 + v6 + m[s[r + 5]]) | 0; x = v14 ^ v2; v14 = (x >>> 8) | (x << 24);
    v10 = (v10 + v14) | 0; x = v6 ^ v10; v6 = (x >>> 7) | (x << 25);

    v3 = (v3 + v7 + m[s[r + 6]]) | 0; x = v15 ^ v3; v15 = (x >>> 16) | (x << 16);
    v11 = (v11 + v15) | 0; x = v7 ^ v11; v7 = (x >>> 12) | (x << 20);
    v3 = (v3 + v7 + m[s[r + 7]]) | 0; x = v15 ^ v3; v15 = (x >>> 8) | (x << 24);
    v11 = (v11 + v15) | 0; x = v7 ^ v11; v7 = (x >>> 7) | (x << 25);

    // Diagonals.
    v0 = (v0 + v5 + m[s[r + 8]]) | 0; x = v15 ^ v0; v15 = (x >>> 16) | (x << 16);
    v10 = (v10 + v15) | 0; x = v5 ^ v10; v5 = (x >>> 12) | (x << 20);
    v0 = (v0 + v5 + m[s[r + 9]]) | 0; x = v15 ^ v0; v15 = (x >>> 8) | (x << 24);
    v10 = (v10 + v15) | 0; x = v5 ^ v10; v5 = (x >>> 7) | (x << 25);

    v1 = (v1 + v6 + m[s[r + 10]]) | 0; x = v12 ^ v1; v12 = (x >>> 16) | (x << 16);
    v11 = (v11 + v12) | 0; x = v6 ^ v11; v6 = (x >>> 12) | (x << 20);
    v1 = (v1 + v6 + m[s[r + 11]]) | 0; x = v12 ^ v1; v12 = (x >>> 8) | (x << 24);
    v11 = (v11 + v12) | 0; x = v6 ^ v11; v6 = (x >>> 7) | (x << 25);

    v2 = (v2 + v7 + m[s[r + 12]]) | 0; x = v13 ^ v2; v13 = (x >>> 16) | (x << 16);
    v8 = (v8 + v13) | 0; x = v7 ^ v8; v7 = (x >>> 12) | (x << 20);
    v2 = (v2 + v7 + m[s[r + 13]]) | 0; x = v13 ^ v2; v13 = (x >>> 8) | (x << 24);
    v8 = (v8 + v13) | 0; x = v7 ^ v8; v7 = (x >>> 7) | (x << 25);

    v3 = (v3 + v4 + m[s[r + 14]]) | 0; x = v14 ^ v3; v14 = (x >>> 16) | (x << 16);
    v9 = (v9 + v14) | 0; x = v4 ^ v9; v4 = (x >>> 12) | (x << 20);
    v3 = (v3 + v4 + m[s[r + 15]]) | 0; x = v14 ^ v3; v14 = (x >>> 8) | (x << 24);
    v9 = (v9 + v14) | 0; x = v4 ^ v9; v4 = (x >>> 7) | (x << 25);
  }
  h[0] ^= v0 ^ v8;
  h[1] ^= v1 ^ v9;
  h[2] ^= v2 ^ v10;
  h[3] ^= v3 ^ v11;
  h[4] ^= v4 ^ v12;
  h[5] ^= v5 ^ v13;
  h[6] ^= v6 ^ v14;
  h[7] ^= v7 ^ v15;
}

/** h = IV with the parameter block (digest length, key length, fanout 1, depth 1) mixed in. */
function init(h: Int32Array, outLen: number, keyLen: number): void {
  h.set(IV);
  h[0] ^= 0x01010000 ^ (keyLen << 8) ^ outLen;
}

function writeOut(h: Int32Array, out: Uint8Array, outOff: number, outLen: number): void {
  for (let i = 0; i < outLen; i++) out[outOff + i] = h[i >> 2] >>> ((i & 3) << 3);
}

/** Bytes of a block that straddles parts (or is the short last block). */
const stage = new Uint8Array(BLOCK);

/**
 * Absorbs a ‖ b ‖ c (after `t` bytes already counted) into `h` and finalises. BLAKE2 flags the
 * last block, so a full block is only compressed once more input is known to follow; a block
 * that straddles parts is staged through `stage`.
 */
function absorbAndFinish(h: Int32Array, t: number, a: Uint8Array, b: Uint8Array | undefined, c: Uint8Array | undefined): void {
  let fill = 0;
  const total = a.length + (b ? b.length : 0) + (c ? c.length : 0);
  if (total === 0) {
    compress(h, stage, 0, 0, t, true);
    return;
  }
  let remaining = total;
  for (let p = 0; p < 3; p++) {
    const part = p === 0 ? a : p === 1 ? b : c;
    if (part === undefined) continue;
    let i = 0;
    const n = part.length;
    // Fast path: whole blocks straight from the part when nothing is staged and more follows.
    while (i < n) {
      if (fill === 0 && n - i >= BLOCK && remaining > BLOCK) {
        t += BLOCK;
        remaining -= BLOCK;
        compress(h, part, i, BLOCK, t, false);
        i += BLOCK;
        continue;
      }
      // A byte loop: these copies are under 64 bytes, where a subarray view costs more.
      const stop = Math.min(n, i + BLOCK - fill);
      while (i < stop) stage[fill++] = part[i++];
      if (fill === BLOCK && remaining > BLOCK) {
        t += BLOCK;
        remaining -= BLOCK;
        compress(h, stage, 0, BLOCK, t, false);
        fill = 0;
      }
    }
  }
  t += fill;
  compress(h, stage, 0, fill, t, true);
}

const hState = new Int32Array(8);
const keyBlock = new Uint8Array(BLOCK);

/**
 * BLAKE2s of a ‖ b ‖ c into out[outOff, outOff+outLen), keyed when `key` is non-empty.
 * outLen 1..32, key ≤ 32 bytes (checked).
 */
export function blake2sTsInto(
  out: Uint8Array,
  outOff: number,
  outLen: number,
  key: Uint8Array | undefined,
  a: Uint8Array,
  b?: Uint8Array,
  c?: Uint8Array,
): void {
  if (!(outLen >= 1 && outLen <= 32) || (outLen | 0) !== outLen) throw new CryptoError(`BLAKE2s output length must be 1..32, got ${outLen}`);
  const keyLen = key === undefined ? 0 : key.length;
  if (keyLen > 32) throw new CryptoError(`BLAKE2s key must be at most 32 bytes, got ${keyLen}`);
  const h = hState;
  init(h, outLen, keyLen);
  let t = 0;
  if (keyLen > 0) {
    keyBlock.fill(0);
    keyBlock.set(key!);
    const empty = a.length === 0 && (b === undefined || b.length === 0) && (c === undefined || c.length === 0);
    t = BLOCK;
    compress(h, keyBlock, 0, BLOCK, t, empty);
    keyBlock.fill(0);
    if (!empty) absorbAndFinish(h, t, a, b, c);
  } else {
    absorbAndFinish(h, t, a, b, c);
  }
  writeOut(h, out, outOff, outLen);
}

/** BLAKE2s of the concatenation of `data` (any number of parts), allocating the result. */
export function blake2sTs(data: Uint8Array | Uint8Array[], outLen = 32, key?: Uint8Array): Uint8Array {
  const out = new Uint8Array(outLen);
  if (!Array.isArray(data)) blake2sTsInto(out, 0, outLen, key, data);
  else if (data.length <= 3) blake2sTsInto(out, 0, outLen, key, data[0] ?? EMPTY, data[1], data[2]);
  else {
    let n = 0;
    for (const d of data) n += d.length;
    const joined = new Uint8Array(n);
    n = 0;
    for (const d of data) {
      joined.set(d, n);
      n += d.length;
    }
    blake2sTsInto(out, 0, outLen, key, joined);
  }
  return out;
}

const EMPTY = new Uint8Array(0);

/**
 * An HMAC-BLAKE2s key (RFC 2104, B = 64, L = 32) with its ipad and opad blocks compressed once:
 * each MAC then costs the data blocks plus one outer block (two compressions for the KDF's ≤ 33
 * byte messages) instead of four.
 */
export class HmacBlake2sKey {
  private readonly inner = new Int32Array(8);
  private readonly outer = new Int32Array(8);
  /** K' ^ ipad, kept for an empty message, whose last block is the pad block itself. */
  private readonly ipadBlock = new Uint8Array(BLOCK);

  constructor(key: Uint8Array) {
    this.rekey(key);
  }

  /** Replaces the key (no allocation): the KDF reuses one object for every `prk`. */
  rekey(key: Uint8Array): this {
    const pad = keyBlock;
    pad.fill(0);
    if (key.length > BLOCK) blake2sTsInto(pad, 0, 32, undefined, key);
    else pad.set(key);
    for (let i = 0; i < BLOCK; i++) pad[i] ^= 0x36;
    this.ipadBlock.set(pad);
    init(this.inner, 32, 0);
    compress(this.inner, pad, 0, BLOCK, BLOCK, false);
    for (let i = 0; i < BLOCK; i++) pad[i] ^= 0x36 ^ 0x5c;
    init(this.outer, 32, 0);
    compress(this.outer, pad, 0, BLOCK, BLOCK, false);
    pad.fill(0);
    return this;
  }

  /** HMAC(key, a ‖ b) into out[outOff, outOff+32). `out` may alias the inputs. */
  macInto(out: Uint8Array, outOff: number, a: Uint8Array, b?: Uint8Array): void {
    const h = hState;
    if (a.length === 0 && (b === undefined || b.length === 0)) {
      init(h, 32, 0);
      compress(h, this.ipadBlock, 0, BLOCK, BLOCK, true);
    } else {
      h.set(this.inner);
      absorbAndFinish(h, BLOCK, a, b, undefined);
    }
    const digest = innerDigest;
    writeOut(h, digest, 0, 32);
    h.set(this.outer);
    absorbAndFinish(h, BLOCK, digest, undefined, undefined);
    digest.fill(0);
    writeOut(h, out, outOff, 32);
  }

  mac(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(32);
    this.macInto(out, 0, data);
    return out;
  }

  wipe(): void {
    this.inner.fill(0);
    this.outer.fill(0);
    this.ipadBlock.fill(0);
  }
}

const innerDigest = new Uint8Array(32);

/** HMAC-BLAKE2s in one call (the key's pads are compressed each time). */
export function hmacBlake2sTs(key: Uint8Array, data: Uint8Array): Uint8Array {
  const k = scratchKey.rekey(key);
  const out = k.mac(data);
  k.wipe();
  return out;
}

const scratchKey = new HmacBlake2sKey(EMPTY);

/**
 * Zeroes the module's scratch (last message block, working state, inner digest): the KDF calls
 * it after each derivation so DH outputs and chaining keys do not linger between handshakes.
 */
export function wipeBlake2sScratch(): void {
  stage.fill(0);
  M.fill(0);
  hState.fill(0);
  innerDigest.fill(0);
}
