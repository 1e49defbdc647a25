import { expect, test } from "bun:test";
import { CookieReply, Initiation, mac1Offset, mac2Offset, messageType, readU64, Response, writeU64 } from "../../src/wireguard/messages.ts";

test("layouts match the paper's field sizes", () => {
  expect(Initiation.encryptedStatic - Initiation.ephemeral).toBe(32);
  expect(Initiation.encryptedTimestamp - Initiation.encryptedStatic).toBe(32 + 16);
  expect(Initiation.mac1 - Initiation.encryptedTimestamp).toBe(12 + 16);
  expect(mac1Offset(Initiation.size)).toBe(Initiation.mac1);
  expect(mac2Offset(Initiation.size)).toBe(Initiation.mac2);
  expect(Response.mac1 - Response.encryptedNothing).toBe(16);
  expect(mac1Offset(Response.size)).toBe(Response.mac1);
  expect(mac2Offset(Response.size)).toBe(Response.mac2);
  expect(CookieReply.size - CookieReply.encryptedCookie).toBe(16 + 16);
  expect(CookieReply.encryptedCookie - CookieReply.nonce).toBe(24);
});

test("messageType demultiplexes by type, reserved zeros and size", () => {
  const msg = (type: number, len: number) => {
    const m = new Uint8Array(len);
    m[0] = type;
    return m;
  };
  expect(messageType(msg(1, 148))).toBe(1);
  expect(messageType(msg(1, 149))).toBe(0);
  expect(messageType(msg(2, 92))).toBe(2);
  expect(messageType(msg(3, 64))).toBe(3);
  expect(messageType(msg(4, 32))).toBe(4);
  expect(messageType(msg(4, 1500))).toBe(4);
  expect(messageType(msg(4, 31))).toBe(0);
  expect(messageType(msg(5, 64))).toBe(0);
  const stun = msg(1, 148);
  stun[2] = 0x21; // e.g. a STUN binding request's length byte: not WireGuard
  expect(messageType(stun)).toBe(0);
  expect(messageType(new Uint8Array(2))).toBe(0);
});

test("u64 counters round-trip without BigInt up to 2^53", () => {
  const b = new Uint8Array(8);
  for (const v of [0, 1, 0xffffffff, 0x1_0000_0000, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER]) {
    writeU64(b, 0, v);
    expect(readU64(b, 0)).toBe(v);
    expect(new DataView(b.buffer).getBigUint64(0, true)).toBe(BigInt(v));
  }
});
