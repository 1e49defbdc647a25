import { expect, test } from "bun:test";
import { join } from "node:path";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { cryptoBackend } from "../../src/crypto/index.ts";
import { aeadKeyOn } from "../../src/crypto/backend.ts";
import { hex, Rng, variants } from "./helpers.ts";

test("a Worker seals in place into a SharedArrayBuffer with the chosen backend", async () => {
  const rng = new Rng(2024);
  const key = rng.bytes(32);
  const shared = new SharedArrayBuffer(2048);
  const view = new Uint8Array(shared);
  const pt = rng.bytes(1420);
  view.set(pt, 32);
  const worker = new Worker(join(import.meta.dir, "fixtures/aead-worker.ts"));
  try {
    const reply = await new Promise<{ n: number; backend: string }>((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => reject(new Error(e.message));
      worker.postMessage({ key, shared, off: 32, len: 1420, counter: 99 });
    });
    expect(reply).toEqual({ n: 1436, backend: cryptoBackend });
    const nonce = new Uint8Array(12);
    nonce[4] = 99;
    expect(hex(view.subarray(32, 32 + 1436))).toBe(hex(chacha20poly1305(key, nonce).encrypt(pt)));
  } finally {
    worker.terminate();
  }
});

test("views with a byteOffset (Buffer pools, subarrays, SharedArrayBuffer) work on every backend", () => {
  const rng = new Rng(55);
  const raw = rng.bytes(32);
  for (const v of variants()) {
    const k = aeadKeyOn(v.backend, raw, { sharedContext: v.sharedContext });
    for (const parent of [new ArrayBuffer(3000), new SharedArrayBuffer(3000)]) {
      const start = 1 + rng.int(500);
      const view = new Uint8Array(parent, start, 1600);
      const pt = rng.bytes(1 + rng.int(1400));
      const off = rng.int(100);
      view.set(pt, off);
      expect(k.seal(3, view, off, pt.length)).toBe(pt.length + 16);
      const nonce = new Uint8Array(12);
      nonce[4] = 3;
      expect(hex(view.subarray(off, off + pt.length + 16))).toBe(hex(chacha20poly1305(raw, nonce).encrypt(pt)));
      expect(k.open(3, view, off, pt.length + 16)).toBe(pt.length);
      expect(hex(view.subarray(off, off + pt.length))).toBe(hex(pt));
      // Nothing before the view was touched.
      expect(new Uint8Array(parent, 0, start).every((b) => b === 0)).toBe(true);
    }
    k.dispose();
  }
});
