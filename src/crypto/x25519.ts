import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from "node:crypto";
import { CryptoError, requireLength } from "./errors.ts";
import { randomBytes } from "./random.ts";

/** One implementation of X25519 (RFC 7748). Private keys are raw 32-byte scalars (clamped on use). */
export interface X25519Impl {
  readonly name: "node" | "noble";
  publicKey(privateKey: Uint8Array): Uint8Array;
  /** The 32-byte shared secret; throws CryptoError when it would be all zero (low-order point). */
  sharedSecret(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
}

function isZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i];
  return acc === 0;
}

const LOW_ORDER = "X25519 shared secret is all zero (low-order public key)";

type NobleCurve = (typeof import("@noble/curves/ed25519.js"))["x25519"];
let curve: NobleCurve | undefined;

/** Loaded on first use: importing @noble/curves costs ~50 ms of start-up that node:crypto saves. */
function nobleCurve(): NobleCurve {
  curve ??= (require("@noble/curves/ed25519.js") as typeof import("@noble/curves/ed25519.js")).x25519;
  return curve;
}

/** @noble/curves: portable, ~1-3k DH/s here. The fallback, and the oracle in tests. */
export const nobleX25519: X25519Impl = {
  name: "noble",
  publicKey(privateKey) {
    requireLength("X25519 private key", privateKey, 32);
    return nobleCurve().getPublicKey(privateKey);
  },
  sharedSecret(privateKey, publicKey) {
    requireLength("X25519 private key", privateKey, 32);
    requireLength("X25519 public key", publicKey, 32);
    let out: Uint8Array;
    try {
      out = nobleCurve().getSharedSecret(privateKey, publicKey);
    } catch {
      throw new CryptoError(LOW_ORDER);
    }
    if (isZero(out)) throw new CryptoError(LOW_ORDER);
    return out;
  },
};

// RFC 8410 DER wrappers around a raw X25519 key: PKCS#8 for private, SPKI for public.
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);

function privateKeyObject(raw: Uint8Array): KeyObject {
  const der = new Uint8Array(PKCS8_PREFIX.length + 32);
  der.set(PKCS8_PREFIX);
  der.set(raw, PKCS8_PREFIX.length);
  try {
    return createPrivateKey({ key: Buffer.from(der.buffer), format: "der", type: "pkcs8" });
  } finally {
    der.fill(0);
  }
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  const der = new Uint8Array(SPKI_PREFIX.length + 32);
  der.set(SPKI_PREFIX);
  der.set(raw, SPKI_PREFIX.length);
  return createPublicKey({ key: Buffer.from(der.buffer), format: "der", type: "spki" });
}

/**
 * Bun's native node:crypto (BoringSSL): ~20x noble. KeyObjects are rebuilt from the raw bytes on
 * each call; a handshake does a handful of DH operations, so there is no cache to invalidate.
 */
export const nodeX25519: X25519Impl = {
  name: "node",
  publicKey(privateKey) {
    requireLength("X25519 private key", privateKey, 32);
    const spki = createPublicKey(privateKeyObject(privateKey)).export({ format: "der", type: "spki" });
    return new Uint8Array(spki.subarray(spki.length - 32));
  },
  sharedSecret(privateKey, publicKey) {
    requireLength("X25519 private key", privateKey, 32);
    requireLength("X25519 public key", publicKey, 32);
    let out: Uint8Array;
    try {
      out = diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(publicKey) });
    } catch {
      // BoringSSL refuses an all-zero result itself; report it the same way noble does here.
      throw new CryptoError(LOW_ORDER);
    }
    if (isZero(out)) throw new CryptoError(LOW_ORDER);
    return new Uint8Array(out);
  },
};

/** Whether Bun's node:crypto does X25519 on this build (probed once with a real exchange). */
export function nodeX25519Works(): boolean {
  try {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const ab = nodeX25519.sharedSecret(a, nodeX25519.publicKey(b));
    const ba = nodeX25519.sharedSecret(b, nodeX25519.publicKey(a));
    return ab.length === 32 && Buffer.compare(ab, ba) === 0;
  } catch {
    return false;
  }
}

/** A fresh key pair; the private key is clamped as `wg genkey` does. */
export function generateKeyPair(impl: X25519Impl): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const privateKey = randomBytes(32);
  privateKey[0] &= 248;
  privateKey[31] = (privateKey[31] & 127) | 64;
  return { privateKey, publicKey: impl.publicKey(privateKey) };
}

/**
 * A private key prepared once for many Diffie-Hellman operations: node:crypto parses a PKCS#8
 * key (and derives its public key) on every import, which cost more than the DH itself when the
 * raw bytes were passed per call. Opaque outside src/crypto; `publicKey` is the raw 32 bytes.
 */
export interface X25519PrivateKey {
  readonly publicKey: Uint8Array;
  /** Drops the reference to the key material (node:crypto KeyObjects cannot be wiped). */
  dispose(): void;
}

/** The prepared-key operations of one implementation. */
export interface X25519KeyImpl {
  importPrivate(raw: Uint8Array): X25519PrivateKey;
  /** A fresh key pair (ephemerals): the public key comes with it. */
  generate(): X25519PrivateKey;
  /** Same contract as `sharedSecret`; a key from the other implementation is a CryptoError. */
  sharedWith(key: X25519PrivateKey, publicKey: Uint8Array): Uint8Array;
}

class NodePrivateKey implements X25519PrivateKey {
  constructor(public ko: KeyObject | null, readonly publicKey: Uint8Array) {}
  dispose(): void {
    this.ko = null;
  }
}

class NoblePrivateKey implements X25519PrivateKey {
  constructor(readonly raw: Uint8Array, readonly publicKey: Uint8Array) {}
  dispose(): void {
    this.raw.fill(0);
  }
}

/** The raw public key at the end of an SPKI DER export. */
function rawPublic(ko: KeyObject): Uint8Array {
  return copy32(ko.export({ format: "der", type: "spki" }), 12);
}

/** 32 bytes of a Buffer from `off` into a plain Uint8Array of its own. */
function copy32(b: Uint8Array, off: number): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = b[off + i];
  return out;
}

export const nodeX25519Keys: X25519KeyImpl = {
  importPrivate(raw) {
    requireLength("X25519 private key", raw, 32);
    const ko = privateKeyObject(raw);
    return new NodePrivateKey(ko, rawPublic(createPublicKey(ko)));
  },
  generate() {
    // One fixed-base scalar multiplication in BoringSSL; the SPKI export is a copy.
    const { privateKey, publicKey } = generateKeyPairSync("x25519");
    return new NodePrivateKey(privateKey, rawPublic(publicKey));
  },
  sharedWith(key, publicKey) {
    if (!(key instanceof NodePrivateKey) || key.ko === null) throw new CryptoError("X25519 key is disposed or from another implementation");
    requireLength("X25519 public key", publicKey, 32);
    let out: Uint8Array;
    try {
      out = diffieHellman({ privateKey: key.ko, publicKey: publicKeyObject(publicKey) });
    } catch {
      throw new CryptoError(LOW_ORDER);
    }
    if (isZero(out)) throw new CryptoError(LOW_ORDER);
    return copy32(out, 0);
  },
};

export const nobleX25519Keys: X25519KeyImpl = {
  importPrivate(raw) {
    requireLength("X25519 private key", raw, 32);
    return new NoblePrivateKey(raw.slice(), nobleX25519.publicKey(raw));
  },
  generate() {
    const { privateKey, publicKey } = generateKeyPair(nobleX25519);
    return new NoblePrivateKey(privateKey, publicKey);
  },
  sharedWith(key, publicKey) {
    if (!(key instanceof NoblePrivateKey)) throw new CryptoError("X25519 key is from another implementation");
    return nobleX25519.sharedSecret(key.raw, publicKey);
  },
};
