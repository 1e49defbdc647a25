import { ptr, type Pointer } from "bun:ffi";
import type { LibsodiumHandle } from "../../ffi/libsodium.ts";
import { type RawNonceAeadKey, KEY_LENGTH, TAG_LENGTH, writeNonce } from "./aead.ts";
import { CryptoError } from "./errors.ts";

/**
 * ChaCha20-Poly1305 through libsodium's detached IETF functions: one FFI call per packet.
 * libsodium keeps no per-key state, so the key itself sits in pinned memory owned by this object.
 * Decryption verifies the tag before writing, so a failed open leaves the ciphertext untouched.
 */
export class LibsodiumAeadKey implements RawNonceAeadKey {
  // [0,32) key, [32,44) nonce. Explicit ArrayBuffer: never moves (bun-lab §0).
  private readonly mem = new Uint8Array(new ArrayBuffer(48));
  private readonly nonceView = new DataView(this.mem.buffer, 32, 12);
  private readonly keyPtr: Pointer;
  private readonly noncePtr: Pointer;
  private disposed = false;

  constructor(private readonly lib: LibsodiumHandle, key: Uint8Array) {
    if (key.length !== KEY_LENGTH) throw new CryptoError(`ChaCha20-Poly1305 key must be 32 bytes, got ${key.length}`);
    this.mem.set(key, 0);
    this.keyPtr = ptr(this.mem, 0);
    this.noncePtr = ptr(this.mem, 32);
  }

  rekey(key: Uint8Array): boolean {
    if (this.disposed || key.length !== KEY_LENGTH) return false;
    this.mem.set(key, 0);
    return true;
  }

  seal(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): number {
    writeNonce(this.nonceView, counter);
    return this.sealCurrent(buf, off, len, aad);
  }

  sealWithNonce(nonce: Uint8Array, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): number {
    if (nonce.length !== 12) return -1;
    this.mem.subarray(32, 44).set(nonce);
    return this.sealCurrent(buf, off, len, aad);
  }

  private sealCurrent(buf: Uint8Array, off: number, len: number, aad: Uint8Array | undefined): number {
    if (this.disposed || (off | 0) !== off || (len | 0) !== len || off < 0 || len < 0 || off + len + TAG_LENGTH > buf.length) return -1;
    const p = (ptr(buf) + off) as Pointer;
    const hasAad = aad !== undefined && aad.length > 0;
    const rc = this.lib.sym.crypto_aead_chacha20poly1305_ietf_encrypt_detached(
      p, (p + len) as Pointer, null, p, len, hasAad ? ptr(aad) : null, hasAad ? aad.length : 0, null, this.noncePtr, this.keyPtr,
    );
    return rc === 0 ? len + TAG_LENGTH : -1;
  }

  open(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): number {
    writeNonce(this.nonceView, counter);
    return this.openCurrent(buf, off, len, aad);
  }

  openWithNonce(nonce: Uint8Array, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): number {
    if (nonce.length !== 12) return -1;
    this.mem.subarray(32, 44).set(nonce);
    return this.openCurrent(buf, off, len, aad);
  }

  private openCurrent(buf: Uint8Array, off: number, len: number, aad: Uint8Array | undefined): number {
    if (this.disposed || (off | 0) !== off || (len | 0) !== len || off < 0 || len < TAG_LENGTH || off + len > buf.length) return -1;
    const ctLen = len - TAG_LENGTH;
    const p = (ptr(buf) + off) as Pointer;
    const hasAad = aad !== undefined && aad.length > 0;
    const rc = this.lib.sym.crypto_aead_chacha20poly1305_ietf_decrypt_detached(
      p, null, p, ctLen, (p + ctLen) as Pointer, hasAad ? ptr(aad) : null, hasAad ? aad.length : 0, this.noncePtr, this.keyPtr,
    );
    return rc === 0 ? ctLen : -1;
  }

  dispose(): void {
    this.disposed = true;
    this.mem.fill(0);
  }
}
