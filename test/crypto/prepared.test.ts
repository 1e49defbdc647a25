/**
 * The handshake's fast paths against @noble as the oracle: the hand-written BLAKE2s (plain,
 * keyed, short output, split input), HMAC with precompressed pads, the KDF from a prepared
 * chaining key, prepared X25519 keys, re-keyed and one-direction AEAD keys, and one-shot AEAD.
 */
import { describe, expect, test } from "bun:test";
import { blake2s as nobleBlake2s } from "@noble/hashes/blake2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { hkdf as nobleHkdf } from "@noble/hashes/hkdf.js";
import { x25519 as nobleCurve } from "@noble/curves/ed25519.js";
import {
  aeadKey,
  aeadOpenOnce,
  aeadSealOnce,
  CryptoError,
  hkdf,
  prepareChainingKey,
  x25519GenerateEphemeral,
  x25519PrivateKey,
  x25519With,
} from "../../src/crypto/index.ts";
import { aeadKeyOn } from "../../src/crypto/backend.ts";
import { blake2sTs, blake2sTsInto, HmacBlake2sKey, hmacBlake2sTs } from "../../src/crypto/blake2s-ts.ts";
import { hkdfTs } from "../../src/crypto/hkdf.ts";
import { NobleAeadKey } from "../../src/crypto/noble-aead.ts";
import { nobleX25519Keys, nodeX25519Keys } from "../../src/crypto/x25519.ts";
import { hex, Rng, unhex, variants } from "./helpers.ts";

describe("hand-written BLAKE2s", () => {
  test("RFC 7693 Appendix B and the empty input", () => {
    expect(hex(blake2sTs(new TextEncoder().encode("abc")))).toBe("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
    expect(hex(blake2sTs(new Uint8Array(0)))).toBe(hex(nobleBlake2s(new Uint8Array(0))));
  });

  test("every length 0..300 around the block edges, keyed and not, every output length, split in three", () => {
    const rng = new Rng(77);
    for (let n = 0; n <= 300; n++) {
      const data = rng.bytes(n);
      const key = rng.bytes(n % 33);
      const outLen = 1 + (n % 32);
      const want = nobleBlake2s(data, key.length > 0 ? { dkLen: outLen, key } : { dkLen: outLen });
      expect(hex(blake2sTs(data, outLen, key))).toBe(hex(want));
      const a = rng.int(n + 1);
      const b = a + rng.int(n - a + 1);
      expect(hex(blake2sTs([data.subarray(0, a), data.subarray(a, b), data.subarray(b)]))).toBe(hex(nobleBlake2s(data)));
      // More than three parts are joined first.
      expect(hex(blake2sTs([data.subarray(0, a), data.subarray(a, b), new Uint8Array(0), data.subarray(b)]))).toBe(hex(nobleBlake2s(data)));
    }
  });

  test("writes into a caller's buffer at an offset", () => {
    const out = new Uint8Array(40).fill(0xee);
    blake2sTsInto(out, 4, 16, Uint8Array.of(1, 2), Uint8Array.of(9));
    expect(hex(out.subarray(4, 20))).toBe(hex(nobleBlake2s(Uint8Array.of(9), { dkLen: 16, key: Uint8Array.of(1, 2) })));
    expect(out[3]).toBe(0xee);
    expect(out[20]).toBe(0xee);
  });

  test("bad output lengths and keys throw CryptoError", () => {
    expect(() => blake2sTs(Uint8Array.of(1), 0)).toThrow(CryptoError);
    expect(() => blake2sTs(Uint8Array.of(1), 33)).toThrow(CryptoError);
    expect(() => blake2sTs(Uint8Array.of(1), 32, new Uint8Array(33))).toThrow(CryptoError);
  });
});

describe("HMAC-BLAKE2s with precompressed pads", () => {
  test("equals noble for keys 0..100 bytes and messages 0..200 bytes, reused and re-keyed", () => {
    const rng = new Rng(5150);
    const reused = new HmacBlake2sKey(new Uint8Array(0));
    for (const keyLen of [0, 1, 31, 32, 33, 63, 64, 65, 100]) {
      const key = rng.bytes(keyLen);
      reused.rekey(key);
      for (const n of [0, 1, 32, 33, 63, 64, 65, 128, 200]) {
        const data = rng.bytes(n);
        const want = hex(hmac(nobleBlake2s, key, data));
        expect(hex(hmacBlake2sTs(key, data))).toBe(want);
        expect(hex(reused.mac(data))).toBe(want);
        const out = new Uint8Array(33);
        reused.macInto(out, 1, data.subarray(0, n >> 1), data.subarray(n >> 1));
        expect(hex(out.subarray(1))).toBe(want);
      }
    }
  });
});

describe("KDF from a prepared chaining key", () => {
  test("equals noble's HKDF-BLAKE2s for raw and prepared chaining keys", () => {
    const rng = new Rng(8080);
    for (let i = 0; i < 24; i++) {
      const ck = rng.bytes(32);
      const input = rng.bytes([0, 32, 48, 100][i % 4]);
      const okm = nobleHkdf(nobleBlake2s, input, ck, new Uint8Array(0), 96);
      const prepared = prepareChainingKey(ck);
      for (const n of [1, 2, 3] as const) {
        const want = [0, 1, 2].slice(0, n).map((j) => hex(okm.subarray(32 * j, 32 * j + 32)));
        expect(hkdf(ck, input, n).map(hex)).toEqual(want);
        expect(hkdf(prepared, input, n).map(hex)).toEqual(want);
        expect(hkdfTs(new HmacBlake2sKey(ck), input, n).map(hex)).toEqual(want);
      }
    }
  });
});

describe("prepared X25519 keys", () => {
  const alicePriv = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const bobPub = unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  const lowOrder = [new Uint8Array(32), unhex("0100000000000000000000000000000000000000000000000000000000000000")];

  for (const [name, impl] of [["node:crypto", nodeX25519Keys], ["noble", nobleX25519Keys]] as const) {
    test(`${name}: RFC 7748 §6.1 with an imported key; its public key`, () => {
      const k = impl.importPrivate(alicePriv);
      expect(hex(k.publicKey)).toBe("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
      expect(hex(impl.sharedWith(k, bobPub))).toBe(shared);
      expect(hex(impl.sharedWith(k, bobPub))).toBe(shared);
    });

    test(`${name}: generated ephemerals agree with noble, and low-order points throw`, () => {
      const rng = new Rng(42);
      for (let i = 0; i < 20; i++) {
        const e = impl.generate();
        const other = rng.bytes(32);
        const want = nobleCurve.getSharedSecret(other, e.publicKey);
        expect(hex(impl.sharedWith(e, nobleCurve.getPublicKey(other)))).toBe(hex(want));
        for (const p of lowOrder) expect(() => impl.sharedWith(e, p)).toThrow(CryptoError);
      }
    });

    test(`${name}: a disposed key or a wrong length is a CryptoError`, () => {
      expect(() => impl.importPrivate(new Uint8Array(31))).toThrow(CryptoError);
      const k = impl.generate();
      expect(() => impl.sharedWith(k, new Uint8Array(31))).toThrow(CryptoError);
      if (name === "node:crypto") {
        k.dispose();
        expect(() => impl.sharedWith(k, bobPub)).toThrow(CryptoError);
      }
    });
  }

  test("a key from the other implementation is refused", () => {
    expect(() => nodeX25519Keys.sharedWith(nobleX25519Keys.generate(), bobPub)).toThrow(CryptoError);
    expect(() => nobleX25519Keys.sharedWith(nodeX25519Keys.generate(), bobPub)).toThrow(CryptoError);
  });

  test("the public API: x25519PrivateKey, x25519GenerateEphemeral, x25519With", () => {
    const a = x25519PrivateKey(alicePriv);
    expect(hex(x25519With(a, bobPub))).toBe(shared);
    const e = x25519GenerateEphemeral();
    expect(hex(x25519With(e, a.publicKey))).toBe(hex(x25519With(a, e.publicKey)));
  });
});

describe("re-keyed, one-direction and one-shot AEAD", () => {
  const rng = new Rng(2024);

  for (const v of variants()) {
    test(`${v.label}: rekey gives the same output as a fresh key, and seal-only/open-only keys refuse the other way`, () => {
      const k1 = rng.bytes(32);
      const k2 = rng.bytes(32);
      const aad = rng.bytes(32);
      const pt = rng.bytes(48);
      const reused = aeadKeyOn(v.backend, k1, { sharedContext: v.sharedContext });
      expect(reused.rekey(k2)).toBe(true);
      const ref = new NobleAeadKey(k2);
      const a = new Uint8Array(new ArrayBuffer(64));
      const b = new Uint8Array(new ArrayBuffer(64));
      a.set(pt);
      b.set(pt);
      expect(reused.seal(7, a, 0, 48, aad)).toBe(64);
      expect(ref.seal(7, b, 0, 48, aad)).toBe(64);
      expect(hex(a)).toBe(hex(b));
      expect(reused.open(7, a, 0, 64, aad)).toBe(48);
      expect(hex(a.subarray(0, 48))).toBe(hex(pt));
      expect(reused.rekey(new Uint8Array(31))).toBe(false);
      reused.dispose();
      expect(reused.rekey(k1)).toBe(false);

      const sealer = aeadKeyOn(v.backend, k2, { usage: "seal" });
      const opener = aeadKeyOn(v.backend, k2, { usage: "open" });
      a.set(pt);
      expect(sealer.seal(7, a, 0, 48, aad)).toBe(64);
      expect(hex(a)).toBe(hex(b));
      if (v.backend === "libcrypto") expect(sealer.open(7, a, 0, 64, aad)).toBe(-1);
      expect(opener.open(7, a, 0, 64, aad)).toBe(48);
      if (v.backend === "libcrypto") expect(opener.seal(7, a, 0, 48, aad)).toBe(-1);
      sealer.dispose();
      opener.dispose();
      ref.dispose();
    });
  }

  test("aeadSealOnce/aeadOpenOnce equal a key of their own, and a wrong key fails to open", () => {
    for (let i = 0; i < 50; i++) {
      const key = rng.bytes(32);
      const aad = rng.bytes(32);
      const len = [0, 12, 32][i % 3];
      const a = new Uint8Array(new ArrayBuffer(len + 16));
      a.set(rng.bytes(len));
      const b = a.slice();
      expect(aeadSealOnce(key, 0, a, 0, len, aad)).toBe(len + 16);
      const own = aeadKey(key);
      expect(own.seal(0, b, 0, len, aad)).toBe(len + 16);
      own.dispose();
      expect(hex(a)).toBe(hex(b));
      const wrong = key.slice();
      wrong[0] ^= 1;
      expect(aeadOpenOnce(wrong, 0, a.slice(), 0, len + 16, aad)).toBe(-1);
      expect(aeadOpenOnce(key, 0, a, 0, len + 16, aad)).toBe(len);
    }
    expect(aeadSealOnce(new Uint8Array(16), 0, new Uint8Array(32), 0, 0)).toBe(-1);
    expect(aeadOpenOnce(new Uint8Array(16), 0, new Uint8Array(32), 0, 16)).toBe(-1);
  });
});

describe("blake2s() dispatch", () => {
  test("plain hashes below and above the native threshold, whole and in parts, equal noble", async () => {
    const { blake2s } = await import("../../src/crypto/index.ts");
    const rng = new Rng(99);
    for (const n of [0, 32, 255, 256, 257, 1420, 5000]) {
      const data = rng.bytes(n);
      expect(hex(blake2s(data))).toBe(hex(nobleBlake2s(data)));
      expect(hex(blake2s([data.subarray(0, n >> 1), data.subarray(n >> 1)]))).toBe(hex(nobleBlake2s(data)));
      const key = rng.bytes(32);
      expect(hex(blake2s(data, 16, key))).toBe(hex(nobleBlake2s(data, { dkLen: 16, key })));
    }
  });
});

test("libcrypto: a one-direction key ignores sharedContext", () => {
  const k = aeadKeyOn("libcrypto", new Uint8Array(32).fill(1), { sharedContext: true, usage: "open" });
  const s = aeadKeyOn("libcrypto", new Uint8Array(32).fill(1), { sharedContext: true, usage: "seal" });
  const buf = new Uint8Array(new ArrayBuffer(48));
  expect(s.seal(3, buf, 0, 32)).toBe(48);
  expect(k.open(3, buf, 0, 48)).toBe(32);
  k.dispose();
  s.dispose();
});
