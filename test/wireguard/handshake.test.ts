import { describe, expect, test } from "bun:test";
import { blake2s, x25519GenerateKeyPair } from "../../src/crypto/index.ts";
import { CONSTRUCTION, IDENTIFIER, MESSAGE_INITIATION_SIZE, MESSAGE_RESPONSE_SIZE } from "../../src/wireguard/constants.ts";
import {
  consumeInitiationStatic,
  consumeInitiationTimestamp,
  consumeResponse,
  INITIAL_CHAINING_KEY,
  LocalStatic,
  PeerStatic,
  tai64n,
  timestampAfter,
  writeInitiation,
  writeResponse,
} from "../../src/wireguard/handshake.ts";
import { Initiation, readU32, Response } from "../../src/wireguard/messages.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function peers(psk: Uint8Array | null = null, pskB: Uint8Array | null = psk) {
  const a = x25519GenerateKeyPair();
  const b = x25519GenerateKeyPair();
  const la = new LocalStatic(a.privateKey);
  const lb = new LocalStatic(b.privateKey);
  return { la, lb, aToB: new PeerStatic(la, lb.publicKey, psk), bToA: new PeerStatic(lb, la.publicKey, pskB) };
}

describe("Noise IKpsk2", () => {
  test("initial chaining key is HASH(CONSTRUCTION) (paper §5.4)", () => {
    expect(hex(INITIAL_CHAINING_KEY)).toBe(hex(blake2s(new TextEncoder().encode(CONSTRUCTION))));
    expect(IDENTIFIER).toBe("WireGuard v1 zx2c4 Jason@zx2c4.com");
  });

  test("both sides derive mirrored transport keys, with and without PSK", () => {
    for (const psk of [null, new Uint8Array(32).fill(7)]) {
      const { lb, aToB, bToA } = peers(psk);
      const m1 = new Uint8Array(MESSAGE_INITIATION_SIZE);
      const ts = tai64n(1_764_000_000_123);
      const st = writeInitiation(aToB, 0x11223344, ts, m1)!;
      expect(readU32(m1, Initiation.sender)).toBe(0x11223344);
      const c = consumeInitiationStatic(lb, m1)!;
      expect(hex(c.peerStatic)).toBe(hex(aToB.local.publicKey));
      expect(hex(consumeInitiationTimestamp(bToA, c)!)).toBe(hex(ts));
      const m2 = new Uint8Array(MESSAGE_RESPONSE_SIZE);
      const kb = writeResponse(bToA, c, 0x55667788, m2)!;
      expect(readU32(m2, Response.receiver)).toBe(0x11223344);
      const ka = consumeResponse(aToB, st, m2)!;
      expect(hex(ka.send)).toBe(hex(kb.receive));
      expect(hex(ka.receive)).toBe(hex(kb.send));
      expect(hex(ka.send)).not.toBe(hex(ka.receive));
    }
  });

  test("a PSK mismatch fails at the response", () => {
    const { lb, aToB, bToA } = peers(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2));
    const m1 = new Uint8Array(MESSAGE_INITIATION_SIZE);
    const st = writeInitiation(aToB, 1, tai64n(1), m1)!;
    const c = consumeInitiationStatic(lb, m1)!;
    expect(consumeInitiationTimestamp(bToA, c)).not.toBeNull();
    const m2 = new Uint8Array(MESSAGE_RESPONSE_SIZE);
    writeResponse(bToA, c, 2, m2);
    expect(consumeResponse(aToB, st, m2)).toBeNull();
  });

  test("an initiation for another key does not decrypt", () => {
    const { aToB } = peers();
    const stranger = new LocalStatic(x25519GenerateKeyPair().privateKey);
    const m1 = new Uint8Array(MESSAGE_INITIATION_SIZE);
    writeInitiation(aToB, 1, tai64n(1), m1);
    expect(consumeInitiationStatic(stranger, m1)).toBeNull();
  });

  test("every flipped bit of the Noise part of message 1 is rejected", () => {
    const { lb, aToB, bToA } = peers();
    const m1 = new Uint8Array(MESSAGE_INITIATION_SIZE);
    writeInitiation(aToB, 1, tai64n(1), m1);
    for (let bit = Initiation.ephemeral * 8; bit < Initiation.mac1 * 8; bit += 7) {
      const m = m1.slice();
      m[bit >> 3] ^= 1 << (bit & 7);
      const c = consumeInitiationStatic(lb, m);
      expect(c === null || consumeInitiationTimestamp(bToA, c) === null).toBe(true);
    }
  });

  test("a low-order ephemeral key is a failure, not an exception", () => {
    const { lb } = peers();
    const m1 = new Uint8Array(MESSAGE_INITIATION_SIZE);
    m1[0] = 1;
    // all-zero ephemeral: a low-order point
    expect(consumeInitiationStatic(lb, m1)).toBeNull();
  });

  test("a peer whose public key is low-order cannot be initiated to", () => {
    const local = new LocalStatic(x25519GenerateKeyPair().privateKey);
    const peer = new PeerStatic(local, new Uint8Array(32), null);
    expect(peer.staticShared).toBeNull();
    expect(writeInitiation(peer, 1, tai64n(1), new Uint8Array(MESSAGE_INITIATION_SIZE))).toBeNull();
  });
});

describe("TAI64N", () => {
  test("layout: 2^62 + 10 + seconds, then whitened nanoseconds, big-endian", () => {
    const t = tai64n(1_000_000_000_500); // 1e9 s + 500 ms
    const v = new DataView(t.buffer);
    expect(v.getBigUint64(0, false)).toBe(2n ** 62n + 10n + 1_000_000_000n);
    expect(v.getUint32(8, false)).toBe(500_000_000 & ~0xffffff);
  });

  test("order follows time, with 2^24 ns granularity", () => {
    expect(timestampAfter(tai64n(2000), tai64n(1000))).toBe(true);
    expect(timestampAfter(tai64n(1000), tai64n(2000))).toBe(false);
    expect(timestampAfter(tai64n(1000), tai64n(1000))).toBe(false);
    expect(timestampAfter(tai64n(1001), tai64n(1000))).toBe(false); // same 16.7 ms bucket
    expect(timestampAfter(tai64n(1020), tai64n(1000))).toBe(true);
  });
});
