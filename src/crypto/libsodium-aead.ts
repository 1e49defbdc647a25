import { ptr, type Pointer } from "bun:ffi";
import type { LibsodiumHandle } from "../../ffi/libsodium.ts";
import { HeldKeyAeadKey, SCRATCH_OFFSET, TAG_LENGTH } from "./aead.ts";

/**
 * ChaCha20-Poly1305 through libsodium's detached IETF functions: one FFI call per packet.
 * libsodium keeps no per-key state, so the key itself sits in pinned memory owned by this object.
 * Decryption verifies the tag before writing, so a failed open leaves the ciphertext untouched.
 */
export class LibsodiumAeadKey extends HeldKeyAeadKey {
  private readonly noncePtr = ptr(this.mem, 0);
  private readonly keyPtr = ptr(this.mem, SCRATCH_OFFSET);

  constructor(private readonly lib: LibsodiumHandle, key: Uint8Array) {
    super(key);
  }

  protected sealCurrent(buf: Uint8Array, off: number, len: number, aad: Uint8Array | undefined): number {
    const p = (ptr(buf) + off) as Pointer;
    const hasAad = aad !== undefined && aad.length > 0;
    const rc = this.lib.sym.crypto_aead_chacha20poly1305_ietf_encrypt_detached(
      p, (p + len) as Pointer, null, p, len, hasAad ? ptr(aad) : null, hasAad ? aad.length : 0, null, this.noncePtr, this.keyPtr,
    );
    return rc === 0 ? len + TAG_LENGTH : -1;
  }

  protected openCurrent(buf: Uint8Array, off: number, len: number, aad: Uint8Array | undefined): number {
    const ctLen = len - TAG_LENGTH;
    const p = (ptr(buf) + off) as Pointer;
    const hasAad = aad !== undefined && aad.length > 0;
    const rc = this.lib.sym.crypto_aead_chacha20poly1305_ietf_decrypt_detached(
      p, null, p, ctLen, (p + ctLen) as Pointer, hasAad ? ptr(aad) : null, hasAad ? aad.length : 0, this.noncePtr, this.keyPtr,
    );
    return rc === 0 ? ctLen : -1;
  }
}
