import { describe, expect, test } from "bun:test";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { aeadKey, cryptoBackend } from "../../src/crypto/index.ts";
import { aeadKeyOn, availableBackends } from "../../src/crypto/backend.ts";
import { hex, unhex, utf8, variants } from "./helpers.ts";

// RFC 8439 §2.8.2
const S282 = {
  key: unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"),
  nonce: unhex("070000004041424344454647"),
  aad: unhex("50515253c0c1c2c3c4c5c6c7"),
  plaintext: utf8("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."),
  ciphertext: unhex(
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b" +
      "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc" +
      "3ff4def08e4b7a9de576d26586cec64b6116",
  ),
  tag: unhex("1ae10b594f09e26a7e902ecbd0600691"),
};

// RFC 8439 Appendix A.5 (decryption)
const A5 = {
  key: unhex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0"),
  nonce: unhex("000000000102030405060708"),
  aad: unhex("f33388860000000000004e91"),
  ciphertext: unhex(
    "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb24c6cfc18755d43eea09ee94e382d26b0" +
      "bdb7b73c321b0100d4f03b7f355894cf332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855" +
      "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4b9166c767b804d46a59b5216cde7a4e9" +
      "9040c5a40433225ee282a1b0a06c523eaf4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a" +
      "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a1049e617d91d361094fa68f0ff77987130" +
      "305beaba2eda04df997b714d6c6f2c29a6ad5cb4022b02709b",
  ),
  tag: unhex("eead9d67890cbb22392336fea1851f38"),
  plaintext: utf8(
    "Internet-Drafts are draft documents valid for a maximum of six months and may be updated, replaced, " +
      "or obsoleted by other documents at any time. It is inappropriate to use Internet-Drafts as reference " +
      "material or to cite them other than as /\u201cwork in progress./\u201d",
  ),
};

describe("backends on this machine", () => {
  test("libcrypto is always found; libsodium whenever its library file is installed", () => {
    const available = availableBackends();
    expect(available).toContain("libcrypto");
    expect(available).toContain("noble");
    const sodiumInstalled = ["/usr/lib/x86_64-linux-gnu/libsodium.so.23", "/usr/lib/x86_64-linux-gnu/libsodium.so.26", "/usr/lib/aarch64-linux-gnu/libsodium.so.23"].some(
      (p) => Bun.file(p).size > 0,
    );
    expect(available.includes("libsodium")).toBe(sodiumInstalled);
  });

  test("the public API picks the fastest available backend unless FIREZONE_CRYPTO says otherwise", () => {
    if (process.env.FIREZONE_CRYPTO) expect(cryptoBackend).toBe(process.env.FIREZONE_CRYPTO as typeof cryptoBackend);
    else expect(cryptoBackend).toBe(availableBackends()[0]);
  });
});

for (const v of variants()) {
  describe(`ChaCha20-Poly1305 on ${v.label}`, () => {
    const key = (k: Uint8Array) => aeadKeyOn(v.backend, k, { sharedContext: v.sharedContext });

    test("RFC 8439 §2.8.2 seal, then open, at an offset", () => {
      const k = key(S282.key);
      const off = 7;
      const buf = new Uint8Array(off + S282.plaintext.length + 16 + 3);
      buf.set(S282.plaintext, off);
      expect(k.sealWithNonce(S282.nonce, buf, off, S282.plaintext.length, S282.aad)).toBe(S282.plaintext.length + 16);
      expect(hex(buf.subarray(off, off + S282.plaintext.length))).toBe(hex(S282.ciphertext));
      expect(hex(buf.subarray(off + S282.plaintext.length, off + S282.plaintext.length + 16))).toBe(hex(S282.tag));
      expect(k.openWithNonce(S282.nonce, buf, off, S282.plaintext.length + 16, S282.aad)).toBe(S282.plaintext.length);
      expect(hex(buf.subarray(off, off + S282.plaintext.length))).toBe(hex(S282.plaintext));
      k.dispose();
    });

    test("RFC 8439 A.5 decryption; a flipped bit in tag, ciphertext or aad gives -1", () => {
      const k = key(A5.key);
      const sealed = new Uint8Array(A5.ciphertext.length + 16);
      sealed.set(A5.ciphertext);
      sealed.set(A5.tag, A5.ciphertext.length);
      const buf = sealed.slice();
      expect(k.openWithNonce(A5.nonce, buf, 0, buf.length, A5.aad)).toBe(A5.plaintext.length);
      expect(hex(buf.subarray(0, A5.plaintext.length))).toBe(hex(A5.plaintext));
      for (const at of [0, 100, A5.ciphertext.length + 15]) {
        const bad = sealed.slice();
        bad[at] ^= 0x01;
        expect(k.openWithNonce(A5.nonce, bad, 0, bad.length, A5.aad)).toBe(-1);
      }
      const badAad = A5.aad.slice();
      badAad[11] ^= 0x80;
      expect(k.openWithNonce(A5.nonce, sealed.slice(), 0, sealed.length, badAad)).toBe(-1);
      expect(k.openWithNonce(A5.nonce, sealed.slice(), 0, sealed.length)).toBe(-1);
      k.dispose();
    });

    test("WireGuard nonce: 4 zero bytes then the counter as u64 little-endian", () => {
      const raw = S282.key;
      const k = key(raw);
      for (const counter of [0, 1, 0xffffffff, 0x1_0000_0000, 2 ** 53 - 1]) {
        const pt = utf8("counter test payload");
        const buf = new Uint8Array(pt.length + 16);
        buf.set(pt);
        expect(k.seal(counter, buf, 0, pt.length)).toBe(pt.length + 16);
        const nonce = new Uint8Array(12);
        new DataView(nonce.buffer).setBigUint64(4, BigInt(counter), true);
        expect(hex(buf)).toBe(hex(chacha20poly1305(raw, nonce).encrypt(pt)));
        expect(k.open(counter, buf, 0, buf.length)).toBe(pt.length);
        expect(hex(buf.subarray(0, pt.length))).toBe(hex(pt));
        buf.set(pt);
        k.seal(counter, buf, 0, pt.length);
        expect(k.open(counter + 1, buf, 0, buf.length)).toBe(-1);
      }
      k.dispose();
    });

    test("empty plaintext: a keepalive is just the tag", () => {
      const k = key(S282.key);
      const buf = new Uint8Array(16);
      expect(k.seal(5, buf, 0, 0)).toBe(16);
      const nonce = new Uint8Array(12);
      nonce[4] = 5;
      expect(hex(buf)).toBe(hex(chacha20poly1305(S282.key, nonce).encrypt(new Uint8Array(0))));
      expect(k.open(5, buf, 0, 16)).toBe(0);
      k.dispose();
    });

    test("ranges outside the buffer and disposed keys give -1, never an exception", () => {
      const k = key(S282.key);
      const buf = new Uint8Array(64);
      expect(k.seal(0, buf, 0, 49)).toBe(-1); // no room for the tag
      expect(k.seal(0, buf, -1, 10)).toBe(-1);
      expect(k.seal(0, buf, 60, 0)).toBe(-1);
      expect(k.open(0, buf, 0, 15)).toBe(-1); // shorter than a tag
      expect(k.open(0, buf, 10, 60)).toBe(-1);
      expect(k.seal(0, buf, 0.5, 10)).toBe(-1);
      expect(k.seal(0, buf, 0, Number.NaN)).toBe(-1);
      expect(k.open(0, buf, 0, 20.5)).toBe(-1);
      expect(k.seal(0, buf, 20, -5)).toBe(-1); // negative, even with room for a tag after it
      expect(k.open(0, buf, 20, -5)).toBe(-1);
      expect(k.sealWithNonce(S282.nonce, buf, 20, -5)).toBe(-1);
      expect(k.sealWithNonce(S282.nonce.subarray(0, 11), buf, 0, 10)).toBe(-1); // not a 12-byte nonce
      expect(k.openWithNonce(new Uint8Array(13), buf, 0, 32)).toBe(-1);
      expect(k.openWithNonce(S282.nonce, buf, 50, 16)).toBe(-1);
      expect(k.seal(0, buf, 0, 48)).toBe(64);
      k.dispose();
      k.dispose();
      expect(k.open(0, buf, 0, 64)).toBe(-1);
      expect(k.seal(0, buf, 0, 10)).toBe(-1);
      expect(k.sealWithNonce(S282.nonce, buf, 0, 10)).toBe(-1);
      expect(k.rekey(S282.key)).toBe(false);
    });

    test("a key that is not 32 bytes is refused", () => {
      expect(() => key(new Uint8Array(31))).toThrow(/32 bytes/);
    });
  });
}

test("aeadKey() from the public API round-trips with the noble oracle", () => {
  const raw = S282.key;
  const k = aeadKey(raw);
  const pt = utf8("hello through the public API");
  const buf = new Uint8Array(pt.length + 16 + 4);
  buf.set(pt, 4);
  expect(k.seal(42, buf, 4, pt.length)).toBe(pt.length + 16);
  const nonce = new Uint8Array(12);
  nonce[4] = 42;
  expect(hex(buf.subarray(4))).toBe(hex(chacha20poly1305(raw, nonce).encrypt(pt)));
  expect(k.open(42, buf, 4, pt.length + 16)).toBe(pt.length);
  k.dispose();
});
