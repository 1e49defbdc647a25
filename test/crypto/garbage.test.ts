import { expect, test } from "bun:test";
import { aeadKeyOn } from "../../src/crypto/backend.ts";
import { hex, Rng, variants } from "./helpers.ts";

// What a hostile peer can send: random bytes, random lengths, ranges that do not fit.
// The only acceptable outcome is -1 (a counted drop upstream): no exception, no crash.
test("open() of random garbage returns -1 on every backend and never throws", () => {
  const rng = new Rng(0xbad5eed);
  for (const v of variants()) {
    const k = aeadKeyOn(v.backend, rng.bytes(32), { sharedContext: v.sharedContext });
    const buf = new Uint8Array(new ArrayBuffer(512));
    const iterations = v.backend === "noble" ? 3_000 : 20_000;
    for (let i = 0; i < iterations; i++) {
      buf.set(rng.bytes(64), rng.int(448));
      const off = rng.int(600) - 50;
      const len = rng.int(600) - 50;
      expect(k.open(rng.u32(), buf, off, len)).toBe(-1);
    }
    k.dispose();
  }
});

test("a failed open never leaves the plaintext in the buffer", () => {
  const rng = new Rng(8);
  for (const v of variants()) {
    const k = aeadKeyOn(v.backend, rng.bytes(32), { sharedContext: v.sharedContext });
    const pt = rng.bytes(300);
    const buf = new Uint8Array(316);
    buf.set(pt);
    k.seal(1, buf, 0, 300);
    buf[315] ^= 0x10; // break the tag only
    expect(k.open(1, buf, 0, 316)).toBe(-1);
    expect(hex(buf.subarray(0, 300))).not.toBe(hex(pt));
    k.dispose();
  }
});
