import { describe, expect, test } from "bun:test";
import { blake2s as nobleBlake2s } from "@noble/hashes/blake2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { hkdf as nobleHkdf } from "@noble/hashes/hkdf.js";
import { blake2s, CryptoError, hkdf, hmacBlake2s } from "../../src/crypto/index.ts";
import { nativeBlake2s, nativeBlake2sWorks, nobleBlake2s as ourNobleBlake2s } from "../../src/crypto/blake2s.ts";
import { nativeHmacBlake2s, nobleHmacBlake2s } from "../../src/crypto/hmac.ts";
import { hkdfWith } from "../../src/crypto/hkdf.ts";
import { hex, Rng, unhex, utf8 } from "./helpers.ts";

const seq = (n: number) => Uint8Array.from({ length: n }, (_, i) => i & 0xff);

// BLAKE2 reference testvectors/blake2-kat.json ("blake2s", key = 00..1f, in = 00..n-1).
const KEYED_KAT: Record<number, string> = {
  0: "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49",
  1: "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1",
  3: "1d220dbe2ee134661fdf6d9e74b41704710556f2f6e5a091b227697445dbea6b",
  64: "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4",
  255: "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd",
};

describe("BLAKE2s", () => {
  test("Bun.CryptoHasher has blake2s256 on this build", () => {
    expect(nativeBlake2sWorks()).toBe(true);
  });

  test('RFC 7693 Appendix B: BLAKE2s-256("abc")', () => {
    const want = "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982";
    expect(hex(blake2s(utf8("abc")))).toBe(want);
    expect(hex(nativeBlake2s(utf8("abc")))).toBe(want);
    expect(hex(ourNobleBlake2s(utf8("abc")))).toBe(want);
    expect(hex(blake2s([utf8("a"), utf8("bc")]))).toBe(want);
  });

  test("keyed vectors from the BLAKE2 reference KAT", () => {
    const key = seq(32);
    for (const [n, want] of Object.entries(KEYED_KAT)) {
      expect(hex(blake2s(seq(Number(n)), 32, key))).toBe(want);
      expect(hex(nativeBlake2s(seq(Number(n)), 32, key))).toBe(want);
    }
  });

  test("WireGuard's construction constants (as boringtun and wireguard-go hard-code them)", () => {
    const ck = blake2s(utf8("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"));
    expect(hex(ck)).toBe("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
    expect(hex(blake2s([ck, utf8("WireGuard v1 zx2c4 Jason@zx2c4.com")]))).toBe(
      "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3",
    );
  });

  test("MAC1-style keyed 16-byte output, and random inputs, equal noble", () => {
    const rng = new Rng(9);
    for (let i = 0; i < 200; i++) {
      const data = rng.bytes(rng.int(300));
      const key = rng.bytes(32);
      expect(hex(blake2s(data, 16, key))).toBe(hex(nobleBlake2s(data, { dkLen: 16, key })));
      expect(hex(blake2s(data))).toBe(hex(nobleBlake2s(data)));
      const cut = rng.int(data.length + 1);
      expect(hex(blake2s([data.subarray(0, cut), data.subarray(cut)]))).toBe(hex(nobleBlake2s(data)));
    }
  });

  test("bad output lengths and keys throw CryptoError", () => {
    expect(() => blake2s(utf8("x"), 0)).toThrow(CryptoError);
    expect(() => blake2s(utf8("x"), 33)).toThrow(CryptoError);
    expect(() => blake2s(utf8("x"), 16, new Uint8Array(33))).toThrow(CryptoError);
  });
});

describe("HMAC-BLAKE2s", () => {
  test("hand-built HMAC over the native hash equals noble's hmac(blake2s)", () => {
    const rng = new Rng(31337);
    for (const keyLen of [0, 1, 16, 32, 63, 64, 65, 100]) {
      for (let i = 0; i < 10; i++) {
        const key = rng.bytes(keyLen);
        const data = rng.bytes(rng.int(200));
        const want = hex(hmac(nobleBlake2s, key, data));
        expect(hex(hmacBlake2s(key, data))).toBe(want);
        expect(hex(nativeHmacBlake2s(key, data))).toBe(want);
        expect(hex(nobleHmacBlake2s(key, data))).toBe(want);
      }
    }
  });
});

describe("WireGuard KDF", () => {
  test("KDF_n equals noble's HKDF-BLAKE2s with the chaining key as salt and empty info", () => {
    const rng = new Rng(4242);
    for (let i = 0; i < 30; i++) {
      const ck = rng.bytes(32);
      const input = rng.bytes([0, 32, 48, 100][i % 4]);
      const okm = nobleHkdf(nobleBlake2s, input, ck, new Uint8Array(0), 96);
      for (const n of [1, 2, 3] as const) {
        const out = hkdf(ck, input, n);
        expect(out.length).toBe(n);
        for (let j = 0; j < n; j++) expect(hex(out[j])).toBe(hex(okm.subarray(32 * j, 32 * j + 32)));
        expect(hkdfWith(nobleHmacBlake2s, ck, input, n).map(hex)).toEqual(out.map(hex));
      }
    }
  });

  test("an outputs count other than 1, 2 or 3 throws CryptoError", () => {
    expect(() => hkdf(new Uint8Array(32), new Uint8Array(0), 4 as 3)).toThrow(CryptoError);
  });

  test("the first handshake step from a fixed key matches a hand computation", () => {
    // C1 = KDF1(C0, E_pub): C0 from the construction, E_pub = RFC 7748 Alice's public key.
    const c0 = unhex("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
    const ePub = unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    const t0 = hmac(nobleBlake2s, c0, ePub);
    const t1 = hmac(nobleBlake2s, t0, Uint8Array.of(1));
    expect(hex(hkdf(c0, ePub, 1)[0])).toBe(hex(t1));
  });
});
