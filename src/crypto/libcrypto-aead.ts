import { ptr, type Pointer } from "bun:ffi";
import { EVP_CTRL_AEAD_GET_TAG, EVP_CTRL_AEAD_SET_TAG, type LibcryptoHandle } from "../../ffi/libcrypto.ts";
import { type AeadUsage, KEY_LENGTH, NONCE_LENGTH, NonceAeadKey, SCRATCH_OFFSET, TAG_LENGTH } from "./aead.ts";
import { CryptoError, requireLength } from "./errors.ts";

/** Frees the EVP contexts of keys that were dropped without dispose(). */
const finalizer = new FinalizationRegistry<{ lib: LibcryptoHandle; ctxs: Pointer[] }>(({ lib, ctxs }) => {
  for (const c of ctxs) lib.sym.EVP_CIPHER_CTX_free(c);
});

export interface LibcryptoAeadOptions {
  /** One EVP context for both directions instead of one each (measured in bench/crypto.ts). */
  sharedContext?: boolean;
  /** Only the context this direction needs (a session's send key never opens): half the set-up. */
  usage?: AeadUsage;
}

/**
 * ChaCha20-Poly1305 through OpenSSL's EVP with contexts keyed once and reused: per packet only
 * the nonce is set (`EncryptInit_ex(ctx, NULL, NULL, NULL, nonce)`), then Update, Final and the
 * tag ctrl — four FFI calls and no allocation. The nonce and the out-length int live in pinned
 * memory (an explicit ArrayBuffer) owned by this object, since their addresses go to C.
 */
export class LibcryptoAeadKey extends NonceAeadKey {
  // mem: [0,12) nonce, [12,16) the out-length int OpenSSL writes, [16,48) keyBuf.
  private readonly noncePtr: Pointer;
  private readonly outlPtr: Pointer;
  private readonly enc: Pointer | null;
  private readonly dec: Pointer | null;
  private readonly shared: boolean;
  private readonly token = {};
  /** The key on its way to C (rekey): pinned, zeroed right after the init call. */
  private readonly keyBuf: Uint8Array;

  constructor(private readonly lib: LibcryptoHandle, key: Uint8Array, opts: LibcryptoAeadOptions = {}) {
    super(SCRATCH_OFFSET + KEY_LENGTH);
    this.noncePtr = ptr(this.mem, 0);
    this.outlPtr = ptr(this.mem, NONCE_LENGTH);
    this.keyBuf = this.mem.subarray(SCRATCH_OFFSET, SCRATCH_OFFSET + KEY_LENGTH);
    requireLength("ChaCha20-Poly1305 key", key, KEY_LENGTH);
    const s = lib.sym;
    const usage = opts.usage ?? "both";
    // Sharing one context between directions only means something for a key used both ways.
    this.shared = opts.sharedContext === true && usage === "both";
    const cipher = s.EVP_chacha20_poly1305() as Pointer | null;
    const k = this.keyBuf;
    k.set(key);
    const enc = usage === "open" ? null : (s.EVP_CIPHER_CTX_new() as Pointer | null);
    const dec = this.shared ? enc : usage === "seal" ? null : (s.EVP_CIPHER_CTX_new() as Pointer | null);
    const ctxs = [enc, dec].filter((c, i, all): c is Pointer => c !== null && all.indexOf(c) === i);
    if ((usage !== "open" && !enc) || (usage !== "seal" && !dec)) {
      for (const c of ctxs) s.EVP_CIPHER_CTX_free(c);
      throw new CryptoError("EVP_CIPHER_CTX_new failed");
    }
    this.enc = enc;
    this.dec = dec;
    const ok1 = enc === null ? 1 : s.EVP_EncryptInit_ex(enc, cipher, null, ptr(k), null);
    const ok2 = dec === null || this.shared ? 1 : s.EVP_DecryptInit_ex(dec, cipher, null, ptr(k), null);
    k.fill(0);
    if (ok1 !== 1 || ok2 !== 1) {
      for (const c of ctxs) s.EVP_CIPHER_CTX_free(c);
      throw new CryptoError("EVP_*Init_ex with the ChaCha20-Poly1305 key failed");
    }
    finalizer.register(this, { lib, ctxs }, this.token);
  }

  /**
   * A new key on the same contexts (`*Init_ex(ctx, NULL, NULL, key, NULL)`): the handshake seals
   * and opens each field under a fresh key, and creating and freeing a context per field cost
   * more than the field's encryption. False when disposed or OpenSSL refuses.
   */
  rekey(key: Uint8Array): boolean {
    if (this.disposed || key.length !== KEY_LENGTH) return false;
    const s = this.lib.sym;
    const k = this.keyBuf;
    k.set(key);
    const kp = ptr(k);
    const ok1 = this.enc === null ? 1 : s.EVP_EncryptInit_ex(this.enc, null, null, kp, null);
    const ok2 = this.dec === null || this.shared ? 1 : s.EVP_DecryptInit_ex(this.dec, null, null, kp, null);
    k.fill(0);
    return ok1 === 1 && ok2 === 1;
  }

  protected sealCurrent(buf: Uint8Array, off: number, len: number, aad: Uint8Array | undefined): number {
    const ctx = this.enc;
    if (ctx === null) return -1;
    const s = this.lib.sym;
    if (s.EVP_EncryptInit_ex(ctx, null, null, null, this.noncePtr) !== 1) return -1;
    if (aad !== undefined && aad.length > 0 && s.EVP_EncryptUpdate(ctx, null, this.outlPtr, ptr(aad), aad.length) !== 1) return -1;
    const p = (ptr(buf) + off) as Pointer;
    if (len > 0 && s.EVP_EncryptUpdate(ctx, p, this.outlPtr, p, len) !== 1) return -1;
    const t = (p + len) as Pointer;
    if (s.EVP_EncryptFinal_ex(ctx, t, this.outlPtr) !== 1) return -1;
    if (s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LENGTH, t) !== 1) return -1;
    return len + TAG_LENGTH;
  }

  /** On -1 the ciphertext range holds zeros (OpenSSL decrypts before the tag is checked). */
  protected openCurrent(buf: Uint8Array, off: number, len: number, aad: Uint8Array | undefined): number {
    const ctx = this.dec;
    if (ctx === null) return -1;
    const s = this.lib.sym;
    const ctLen = len - TAG_LENGTH;
    if (s.EVP_DecryptInit_ex(ctx, null, null, null, this.noncePtr) !== 1) return -1;
    if (aad !== undefined && aad.length > 0 && s.EVP_DecryptUpdate(ctx, null, this.outlPtr, ptr(aad), aad.length) !== 1) return -1;
    const p = (ptr(buf) + off) as Pointer;
    const t = (p + ctLen) as Pointer;
    if (ctLen > 0 && s.EVP_DecryptUpdate(ctx, p, this.outlPtr, p, ctLen) !== 1) return this.fail(buf, off, ctLen);
    if (s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LENGTH, t) !== 1) return this.fail(buf, off, ctLen);
    if (s.EVP_DecryptFinal_ex(ctx, t, this.outlPtr) !== 1) return this.fail(buf, off, ctLen);
    return ctLen;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    finalizer.unregister(this.token);
    // EVP_CIPHER_CTX_free cleanses the key schedule inside the context.
    if (this.enc !== null) this.lib.sym.EVP_CIPHER_CTX_free(this.enc);
    if (this.dec !== null && !this.shared) this.lib.sym.EVP_CIPHER_CTX_free(this.dec);
  }

  private fail(buf: Uint8Array, off: number, ctLen: number): number {
    buf.fill(0, off, off + ctLen);
    return -1;
  }
}
