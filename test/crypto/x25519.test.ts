import { describe, expect, test } from "bun:test";
import { x25519 as nobleCurve } from "@noble/curves/ed25519.js";
import { CryptoError, x25519, x25519GenerateKeyPair, x25519PublicKey } from "../../src/crypto/index.ts";
import { nobleX25519, nodeX25519, nodeX25519Works } from "../../src/crypto/x25519.ts";
import { hex, Rng, unhex } from "./helpers.ts";

// RFC 7748 §5.2 (the second u-coordinate has its top bit set, which must be ignored).
const S52 = [
  {
    scalar: "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
    u: "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
    out: "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
  },
  {
    scalar: "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
    u: "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
    out: "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
  },
];

// RFC 7748 §6.1
const S61 = {
  alicePriv: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
  alicePub: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  bobPriv: "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
  bobPub: "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  shared: "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
};

// Points of small order: the DH result is all zero and WireGuard must refuse it.
const LOW_ORDER = ["0000000000000000000000000000000000000000000000000000000000000000", "0100000000000000000000000000000000000000000000000000000000000000"];

test("Bun's node:crypto does X25519 on this build", () => {
  expect(nodeX25519Works()).toBe(true);
});

for (const impl of [nodeX25519, nobleX25519]) {
  describe(`X25519 via ${impl.name}`, () => {
    test("RFC 7748 §5.2 scalar multiplication vectors", () => {
      for (const v of S52) expect(hex(impl.sharedSecret(unhex(v.scalar), unhex(v.u)))).toBe(v.out);
    });

    test("RFC 7748 §6.1 key agreement, both directions", () => {
      expect(hex(impl.publicKey(unhex(S61.alicePriv)))).toBe(S61.alicePub);
      expect(hex(impl.publicKey(unhex(S61.bobPriv)))).toBe(S61.bobPub);
      expect(hex(impl.sharedSecret(unhex(S61.alicePriv), unhex(S61.bobPub)))).toBe(S61.shared);
      expect(hex(impl.sharedSecret(unhex(S61.bobPriv), unhex(S61.alicePub)))).toBe(S61.shared);
    });

    test("a low-order public key throws CryptoError instead of returning zeros", () => {
      for (const p of LOW_ORDER) expect(() => impl.sharedSecret(unhex(S61.alicePriv), unhex(p))).toThrow(CryptoError);
    });

    test("wrong lengths throw CryptoError", () => {
      expect(() => impl.sharedSecret(new Uint8Array(31), unhex(S61.bobPub))).toThrow(CryptoError);
      expect(() => impl.sharedSecret(unhex(S61.alicePriv), new Uint8Array(33))).toThrow(CryptoError);
      expect(() => impl.publicKey(new Uint8Array(0))).toThrow(CryptoError);
    });
  });
}

test("node:crypto and noble agree on random keys (the public API against noble's own curve)", () => {
  const rng = new Rng(77);
  for (let i = 0; i < 40; i++) {
    const a = rng.bytes(32);
    const b = rng.bytes(32);
    const bPub = nobleCurve.getPublicKey(b);
    expect(hex(x25519PublicKey(a))).toBe(hex(nobleCurve.getPublicKey(a)));
    expect(hex(x25519(a, bPub))).toBe(hex(nobleCurve.getSharedSecret(a, bPub)));
  }
});

test("generated key pairs are clamped like `wg genkey` and agree both ways", () => {
  const a = x25519GenerateKeyPair();
  const b = x25519GenerateKeyPair();
  expect(a.privateKey[0] & 7).toBe(0);
  expect(a.privateKey[31] & 0xc0).toBe(0x40);
  expect(hex(a.publicKey)).toBe(hex(nobleCurve.getPublicKey(a.privateKey)));
  expect(hex(x25519(a.privateKey, b.publicKey))).toBe(hex(x25519(b.privateKey, a.publicKey)));
  expect(hex(a.privateKey)).not.toBe(hex(b.privateKey));
});
