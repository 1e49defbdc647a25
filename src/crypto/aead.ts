import { requireLength } from "./errors.ts";

/** ChaCha20-Poly1305 (RFC 8439) under one fixed 32-byte key, the WireGuard data-path AEAD. */
export interface AeadKey {
  /** Encrypts buf[off, off+len) in place and writes the 16-byte tag right after it.
   *  Nonce = 4 zero bytes || counter as u64 little-endian (WireGuard). Returns len + 16,
   *  or -1 when the range does not fit in `buf` or the key was disposed (never throws). */
  seal(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): number;
  /** Verifies and decrypts buf[off, off+len) (len includes the 16-byte tag) in place.
   *  Returns the plaintext length, or -1 when authentication fails or the range does not fit
   *  (never throws). After -1 the range holds ciphertext or zeros, never unverified plaintext. */
  open(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): number;
  /** Zeroes the key and frees native state; seal/open return -1 afterwards. */
  dispose(): void;
}

/** Which directions a key will be used for: "seal" or "open" alone skips the other's set-up. */
export type AeadUsage = "seal" | "open" | "both";

/**
 * The same key with a caller-given 12-byte nonce, for RFC 8439 vectors whose nonce is not
 * WireGuard-shaped (a non-zero prefix, or a counter above 2^53). Not part of the public API.
 */
export interface RawNonceAeadKey extends AeadKey {
  sealWithNonce(nonce: Uint8Array, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): number;
  openWithNonce(nonce: Uint8Array, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): number;
  /** Replaces the key in place (no native context churn). False when disposed or the length is wrong. */
  rekey(key: Uint8Array): boolean;
}

export const KEY_LENGTH = 32;
export const TAG_LENGTH = 16;
export const NONCE_LENGTH = 12;

const TWO_POW_32 = 0x1_0000_0000;

/**
 * Writes the WireGuard nonce (4 zero bytes || counter as u64 LE) into a 12-byte view.
 * Two u32 writes instead of setBigUint64 so no BigInt is allocated per packet; counters are
 * JS numbers, exact up to 2^53, far past WireGuard's REJECT_AFTER_MESSAGES (2^64 - 2^13 - 1
 * is never reached in practice: keys rotate after 2 minutes).
 */
export function writeNonce(view: DataView, counter: number): void {
  view.setUint32(0, 0, true);
  view.setUint32(4, counter >>> 0, true);
  view.setUint32(8, Math.floor(counter / TWO_POW_32) >>> 0, true);
}

/** Where a backend's own pinned bytes start in `mem`, after the nonce (16-byte aligned). */
export const SCRATCH_OFFSET = 16;

/**
 * What every backend shares: the pinned nonce, the four public entry points and the range
 * check, so a backend writes only its cipher calls (`sealCurrent`/`openCurrent` on the nonce
 * already in mem[0,12) and a range already checked), `rekey` and `dispose`.
 * The wrappers allocate nothing per call.
 */
export abstract class NonceAeadKey implements RawNonceAeadKey {
  /**
   * [0,12) the nonce of the current call, from SCRATCH_OFFSET the backend's own bytes (sizes
   * are the backend's). One explicit ArrayBuffer per key: it never moves, so its addresses can go
   * to C (bun-lab §0), and one allocation is cheaper at key set-up than one per field.
   */
  protected readonly mem: Uint8Array;
  private readonly nonceView: DataView;
  protected disposed = false;

  protected constructor(memLength: number = NONCE_LENGTH) {
    const b = new ArrayBuffer(memLength);
    this.mem = new Uint8Array(b);
    this.nonceView = new DataView(b, 0, NONCE_LENGTH);
  }

  seal(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): number {
    if (!this.fits(buf, off, len, 0, TAG_LENGTH)) return -1;
    writeNonce(this.nonceView, counter);
    return this.sealCurrent(buf, off, len, aad);
  }

  sealWithNonce(nonce: Uint8Array, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): number {
    if (nonce.length !== NONCE_LENGTH || !this.fits(buf, off, len, 0, TAG_LENGTH)) return -1;
    this.mem.set(nonce);
    return this.sealCurrent(buf, off, len, aad);
  }

  open(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): number {
    if (!this.fits(buf, off, len, TAG_LENGTH, 0)) return -1;
    writeNonce(this.nonceView, counter);
    return this.openCurrent(buf, off, len, aad);
  }

  openWithNonce(nonce: Uint8Array, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): number {
    if (nonce.length !== NONCE_LENGTH || !this.fits(buf, off, len, TAG_LENGTH, 0)) return -1;
    this.mem.set(nonce);
    return this.openCurrent(buf, off, len, aad);
  }

  abstract rekey(key: Uint8Array): boolean;
  abstract dispose(): void;

  /** Encrypts buf[off, off+len) and writes the tag after it; returns len + 16 or -1. */
  protected abstract sealCurrent(buf: Uint8Array, off: number, len: number, aad: Uint8Array | undefined): number;
  /** Verifies and decrypts buf[off, off+len) (tag included); returns len - 16 or -1. */
  protected abstract openCurrent(buf: Uint8Array, off: number, len: number, aad: Uint8Array | undefined): number;

  /** The key is alive and buf[off, off+len+extra) is a real range with len >= minLen (int32 offsets: no NaN, no fractions). */
  private fits(buf: Uint8Array, off: number, len: number, minLen: number, extra: number): boolean {
    return !this.disposed && (off | 0) === off && (len | 0) === len && off >= 0 && len >= minLen && off + len + extra <= buf.length;
  }
}

/**
 * A backend that keeps the raw key itself (libsodium's calls are stateless, noble is plain JS):
 * the key sits in mem[SCRATCH_OFFSET, +32), `rekey` overwrites it and `dispose` zeroes it.
 */
export abstract class HeldKeyAeadKey extends NonceAeadKey {
  protected constructor(key: Uint8Array) {
    super(SCRATCH_OFFSET + KEY_LENGTH);
    requireLength("ChaCha20-Poly1305 key", key, KEY_LENGTH);
    this.mem.set(key, SCRATCH_OFFSET);
  }

  rekey(key: Uint8Array): boolean {
    if (this.disposed || key.length !== KEY_LENGTH) return false;
    this.mem.set(key, SCRATCH_OFFSET);
    return true;
  }

  dispose(): void {
    this.disposed = true;
    this.mem.fill(0);
  }
}
