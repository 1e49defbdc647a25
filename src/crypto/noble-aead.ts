import { chacha20 } from "@noble/ciphers/chacha.js";
import { poly1305 } from "@noble/ciphers/_poly1305.js";
import { HeldKeyAeadKey, KEY_LENGTH, NONCE_LENGTH, SCRATCH_OFFSET, TAG_LENGTH } from "./aead.ts";

const PAD = new Uint8Array(16);

/**
 * ChaCha20-Poly1305 (RFC 8439 §2.8) in pure JS on @noble/ciphers' primitives, in place.
 * Built from `chacha20` + `poly1305` rather than noble's one-shot AEAD so that seal/open work on
 * the caller's buffer without copies. It still allocates a little per call (noble's Poly1305 state,
 * subarray views): it is the fallback and the oracle, not the data path.
 */
export class NobleAeadKey extends HeldKeyAeadKey {
  // Views of the base's memory: noble wants a 12-byte nonce and a 32-byte key.
  private readonly nonce = this.mem.subarray(0, NONCE_LENGTH);
  private readonly key = this.mem.subarray(SCRATCH_OFFSET, SCRATCH_OFFSET + KEY_LENGTH);
  private readonly polyKey = new Uint8Array(64);
  private readonly lengths = new Uint8Array(16);
  private readonly lengthsView = new DataView(this.lengths.buffer);
  private readonly tag = new Uint8Array(16);

  constructor(key: Uint8Array) {
    super(key);
  }

  protected sealCurrent(buf: Uint8Array, off: number, len: number, aad: Uint8Array | undefined): number {
    const data = buf.subarray(off, off + len);
    chacha20(this.key, this.nonce, data, data, 1);
    this.computeTag(data, aad);
    buf.set(this.tag, off + len);
    return len + TAG_LENGTH;
  }

  protected openCurrent(buf: Uint8Array, off: number, len: number, aad: Uint8Array | undefined): number {
    const ctLen = len - TAG_LENGTH;
    const data = buf.subarray(off, off + ctLen);
    this.computeTag(data, aad);
    let diff = 0;
    const t = off + ctLen;
    for (let i = 0; i < TAG_LENGTH; i++) diff |= this.tag[i] ^ buf[t + i];
    if (diff !== 0) return -1;
    chacha20(this.key, this.nonce, data, data, 1);
    return ctLen;
  }

  override dispose(): void {
    super.dispose();
    this.polyKey.fill(0);
  }

  private computeTag(ciphertext: Uint8Array, aad: Uint8Array | undefined): void {
    this.polyKey.fill(0);
    chacha20(this.key, this.nonce, this.polyKey, this.polyKey, 0);
    const h = poly1305.create(this.polyKey.subarray(0, 32));
    const aadLen = aad ? aad.length : 0;
    if (aad && aadLen > 0) {
      h.update(aad);
      if (aadLen % 16) h.update(PAD.subarray(aadLen % 16));
    }
    h.update(ciphertext);
    if (ciphertext.length % 16) h.update(PAD.subarray(ciphertext.length % 16));
    this.lengthsView.setUint32(0, aadLen, true);
    this.lengthsView.setUint32(4, 0, true);
    this.lengthsView.setUint32(8, ciphertext.length, true);
    this.lengthsView.setUint32(12, 0, true);
    h.update(this.lengths);
    h.digestInto(this.tag);
  }
}
