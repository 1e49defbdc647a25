import { describe, expect, test } from "bun:test";
import {
  adjustChecksumAt,
  applyDelta,
  internetChecksum,
  rangeDelta,
  sum16,
  u32Delta,
  wordDelta,
} from "../../src/ip/index.ts";
import { mulberry32 as rng } from "../support/prng.ts";
import { refChecksum } from "./reference.ts";

describe("RFC 1071 checksum", () => {
  test("RFC 1071 §3 example: words 0001 f203 f4f5 f6f7 sum to ddf2", () => {
    const b = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(internetChecksum(b, 0, b.length)).toBe(~0xddf2 & 0xffff);
  });
  test("agrees with the reference on random data, odd lengths and offsets", () => {
    const r = rng(1);
    for (let i = 0; i < 500; i++) {
      const n = (r() * 300) | 0;
      const off = (r() * 5) | 0;
      const b = Uint8Array.from({ length: n + off }, () => (r() * 256) | 0);
      expect(internetChecksum(b, off, n)).toBe(refChecksum(b.subarray(off)));
    }
  });
});

describe("RFC 1624 incremental update", () => {
  test("RFC 1624 §4 example: eqn. 3 gives 0x0000 where eqn. 2 would give 0xFFFF", () => {
    // HC = 0xDD2F, m = 0x5555 → m' = 0x3285 (the other header words sum to 0xCD7A).
    expect(applyDelta(0xdd2f, wordDelta(0x5555, 0x3285))).toBe(0x0000);
  });
  test("a UDP checksum that comes out as 0 is sent as 0xFFFF; a 0 (no checksum) stays 0", () => {
    const b = Uint8Array.from([0xdd, 0x2f]);
    adjustChecksumAt(b, 0, wordDelta(0x5555, 0x3285), true);
    expect([b[0], b[1]]).toEqual([0xff, 0xff]);
    const z = Uint8Array.from([0, 0]);
    adjustChecksumAt(z, 0, wordDelta(0x1234, 0x4321), true);
    expect([z[0], z[1]]).toEqual([0, 0]);
  });
  test("equals a full recompute over random rewrites of random data", () => {
    const r = rng(99);
    for (let i = 0; i < 2000; i++) {
      const n = 2 * (12 + ((r() * 200) | 0));
      const b = Uint8Array.from({ length: n }, () => (r() * 256) | 0);
      b[0] = 0;
      b[1] = 0;
      const c = internetChecksum(b, 0, n);
      b[0] = c >> 8;
      b[1] = c & 255;
      // Change a random even-aligned 4- or 16-byte range (an address) somewhere after the field.
      const len = r() < 0.5 ? 4 : 16;
      const at = 2 + 2 * ((r() * ((n - 2 - len) / 2)) | 0);
      const repl = Uint8Array.from({ length: len }, () => (r() * 256) | 0);
      let d = rangeDelta(b, at, repl, 0, len);
      b.set(repl, at);
      if (len === 4 && r() < 0.5) {
        // and the u32 form of the same operation on another range
        const at2 = 2 + 2 * ((r() * ((n - 6) / 2)) | 0);
        const old = ((b[at2] << 24) | (b[at2 + 1] << 16) | (b[at2 + 2] << 8) | b[at2 + 3]) >>> 0;
        const nv = (r() * 2 ** 32) >>> 0;
        d += u32Delta(old, nv);
        b[at2] = nv >>> 24;
        b[at2 + 1] = (nv >>> 16) & 255;
        b[at2 + 2] = (nv >>> 8) & 255;
        b[at2 + 3] = nv & 255;
      }
      adjustChecksumAt(b, 0, d);
      // Valid means the sum over everything, checksum included, is one's-complement zero.
      const s = sum16(b, 0, n);
      let f = s;
      while (f > 0xffff) f = (f & 0xffff) + Math.floor(f / 65536);
      expect(f).toBe(0xffff);
    }
  });
});
