import { expect, test } from "bun:test";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { aeadKeyOn } from "../../src/crypto/backend.ts";
import { hex, Rng, variants } from "./helpers.ts";

// Random packets through every backend against noble's one-shot AEAD (an implementation that
// shares no code path with our in-place wrappers), and sealed-by-one / opened-by-every-other.
const ITERATIONS = 600;

test("every backend equals the noble oracle and opens every other backend's packets", () => {
  const rng = new Rng(0x5eed1234);
  const vs = variants();
  expect(vs.length).toBeGreaterThanOrEqual(2);
  const raw = rng.bytes(32);
  const keys = vs.map((v) => aeadKeyOn(v.backend, raw, { sharedContext: v.sharedContext }));
  const nonce = new Uint8Array(12);
  const nonceView = new DataView(nonce.buffer);
  let checked = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const len = rng.int(1501);
    const off = rng.int(64);
    const slack = rng.int(8);
    const aad = rng.int(3) === 0 ? undefined : rng.bytes(rng.int(48));
    const counter = rng.u32() * 2 ** 21 + rng.int(2 ** 21); // up to 2^53
    const pt = rng.bytes(len);
    nonceView.setBigUint64(4, BigInt(counter), true);
    const want = hex(chacha20poly1305(raw, nonce, aad).encrypt(pt));
    const seals: Uint8Array[] = [];
    for (let s = 0; s < keys.length; s++) {
      const buf = rng.bytes(off + len + 16 + slack); // garbage around the packet must survive
      const before = buf.slice();
      buf.set(pt, off);
      expect(keys[s].seal(counter, buf, off, len, aad)).toBe(len + 16);
      expect(hex(buf.subarray(off, off + len + 16))).toBe(want);
      expect(hex(buf.subarray(0, off))).toBe(hex(before.subarray(0, off)));
      expect(hex(buf.subarray(off + len + 16))).toBe(hex(before.subarray(off + len + 16)));
      seals.push(buf.subarray(off, off + len + 16).slice());
    }
    for (let o = 0; o < keys.length; o++) {
      const from = seals[(o + 1) % seals.length];
      const buf = new Uint8Array(off + from.length);
      buf.set(from, off);
      expect(keys[o].open(counter, buf, off, from.length, aad)).toBe(len);
      expect(hex(buf.subarray(off, off + len))).toBe(hex(pt));
      // Tamper one byte anywhere in ciphertext or tag: every backend must refuse.
      buf.set(from, off);
      buf[off + rng.int(from.length)] ^= 1 << rng.int(8);
      expect(keys[o].open(counter, buf, off, from.length, aad)).toBe(-1);
      checked++;
    }
  }
  for (const k of keys) k.dispose();
  expect(checked).toBe(ITERATIONS * vs.length);
});
