import { expect, test } from "bun:test";
import { CryptoError, xchachaOpen, xchachaSeal } from "../../src/crypto/index.ts";
import { hex, unhex, utf8 } from "./helpers.ts";

// draft-irtf-cfrg-xchacha, Appendix A.3.1
const A31 = {
  key: unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"),
  nonce: unhex("404142434445464748494a4b4c4d4e4f5051525354555657"),
  aad: unhex("50515253c0c1c2c3c4c5c6c7"),
  plaintext: utf8("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."),
  ciphertext:
    "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39" +
    "ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9" +
    "21f9664c97637da9768812f615c68b13b52e",
  tag: "c0875924c1c7987947deafd8780acf49",
};

test("XChaCha20-Poly1305 A.3.1 vector seals and opens", () => {
  const sealed = xchachaSeal(A31.key, A31.nonce, A31.plaintext, A31.aad);
  expect(hex(sealed)).toBe(A31.ciphertext + A31.tag);
  const opened = xchachaOpen(A31.key, A31.nonce, sealed, A31.aad);
  expect(opened && hex(opened)).toBe(hex(A31.plaintext));
});

test("tampered, truncated or mis-keyed cookies open to null", () => {
  const sealed = xchachaSeal(A31.key, A31.nonce, A31.plaintext, A31.aad);
  const bad = sealed.slice();
  bad[3] ^= 4;
  expect(xchachaOpen(A31.key, A31.nonce, bad, A31.aad)).toBeNull();
  expect(xchachaOpen(A31.key, A31.nonce, sealed.subarray(0, 15), A31.aad)).toBeNull();
  expect(xchachaOpen(A31.key, A31.nonce, sealed, new Uint8Array(0))).toBeNull();
  const otherKey = A31.key.slice();
  otherKey[0] ^= 1;
  expect(xchachaOpen(otherKey, A31.nonce, sealed, A31.aad)).toBeNull();
});

test("wrong key or nonce lengths throw CryptoError", () => {
  expect(() => xchachaSeal(new Uint8Array(16), A31.nonce, A31.plaintext, A31.aad)).toThrow(CryptoError);
  expect(() => xchachaOpen(A31.key, new Uint8Array(12), new Uint8Array(32), A31.aad)).toThrow(CryptoError);
});
