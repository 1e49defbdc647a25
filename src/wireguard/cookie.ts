import { blake2s, constantTimeEqual, randomBytes, xchachaOpen, xchachaSeal } from "../crypto/index.ts";
import {
  COOKIE_LEN,
  COOKIE_NONCE_LEN,
  COOKIE_REFRESH_TIME,
  KEY_LEN,
  LABEL_COOKIE,
  LABEL_MAC1,
  MAC_LEN,
  MESSAGE_HANDSHAKE_COOKIE,
} from "./constants.ts";
import { CookieReply, mac1Offset, mac2Offset, writeHeader } from "./messages.ts";
import type { RateLimiter } from "./rate-limiter.ts";

/**
 * MAC1, MAC2 and cookie replies (paper §5.4.4, §5.4.7). MAC1 proves the sender knows our public
 * key, so a responder can drop garbage before any Diffie-Hellman; MAC2 proves the sender can
 * receive at its source address, which a responder under load demands before spending CPU.
 */

const encoder = new TextEncoder();

function labelledHash(label: string, publicKey: Uint8Array): Uint8Array {
  return blake2s([encoder.encode(label), publicKey]);
}

function mac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return blake2s(data, MAC_LEN, key);
}

/**
 * An opaque, stable byte string for a UDP source address: the cookie is a MAC over it, so any
 * injective encoding works; only we ever check it.
 */
export function sourceBytes(address: string, port: number): Uint8Array {
  return encoder.encode(`${address}|${port}`);
}

/** The sending side of MACs: one per tunnel, keyed by the peer's public key. */
export class CookieGenerator {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private readonly lastMac1 = new Uint8Array(MAC_LEN);
  private hasLastMac1 = false;
  private readonly cookie = new Uint8Array(COOKIE_LEN);
  private cookieSetAt = -Infinity;

  constructor(peerPublicKey: Uint8Array) {
    this.mac1Key = labelledHash(LABEL_MAC1, peerPublicKey);
    this.cookieKey = labelledHash(LABEL_COOKIE, peerPublicKey);
  }

  /** Fills the last 32 bytes of a handshake message of `size` bytes: MAC1 always, MAC2 when we hold a fresh cookie. */
  addMacs(msg: Uint8Array, size: number, now: number): void {
    const m1 = mac1Offset(size);
    const mac1 = mac(this.mac1Key, msg.subarray(0, m1));
    msg.set(mac1, m1);
    this.lastMac1.set(mac1);
    this.hasLastMac1 = true;
    const m2 = mac2Offset(size);
    if (now - this.cookieSetAt < COOKIE_REFRESH_TIME) msg.set(mac(this.cookie, msg.subarray(0, m2)), m2);
    else msg.fill(0, m2, m2 + MAC_LEN);
  }

  /** Decrypts a cookie reply to the last message we sent. False when it does not authenticate. */
  consumeReply(msg: Uint8Array, now: number): boolean {
    if (!this.hasLastMac1) return false;
    const nonce = msg.subarray(CookieReply.nonce, CookieReply.nonce + COOKIE_NONCE_LEN);
    const sealed = msg.subarray(CookieReply.encryptedCookie, CookieReply.size);
    const cookie = xchachaOpen(this.cookieKey, nonce, sealed, this.lastMac1);
    if (cookie === null || cookie.length !== COOKIE_LEN) return false;
    this.cookie.set(cookie);
    this.cookieSetAt = now;
    // A reply is good for one message: the next one we send gets a new MAC1 to bind to.
    this.hasLastMac1 = false;
    return true;
  }

  get hasCookie(): boolean {
    return this.cookieSetAt !== -Infinity;
  }
}

/** The receiving side of MACs: one per local static key (a device or a lone tunnel). */
export class CookieChecker {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private secret: Uint8Array = new Uint8Array(KEY_LEN);
  private secretSetAt = -Infinity;

  constructor(localPublicKey: Uint8Array) {
    this.mac1Key = labelledHash(LABEL_MAC1, localPublicKey);
    this.cookieKey = labelledHash(LABEL_COOKIE, localPublicKey);
  }

  checkMac1(msg: Uint8Array, size: number): boolean {
    const m1 = mac1Offset(size);
    return constantTimeEqual(mac(this.mac1Key, msg.subarray(0, m1)), msg.subarray(m1, m1 + MAC_LEN));
  }

  /** MAC2 over the cookie for `source`: proof the sender received our cookie reply at that address. */
  checkMac2(msg: Uint8Array, size: number, source: Uint8Array, now: number): boolean {
    const m2 = mac2Offset(size);
    const expected = mac(this.cookieFor(source, now), msg.subarray(0, m2));
    return constantTimeEqual(expected, msg.subarray(m2, m2 + MAC_LEN));
  }

  /**
   * Writes a 64-byte cookie reply to `msg` (whose sender index is at byte 4) into `out`.
   * The cookie is encrypted under a key from our public key with the message's MAC1 as AAD,
   * so only the sender of that exact message can use it.
   */
  writeReply(msg: Uint8Array, size: number, source: Uint8Array, now: number, out: Uint8Array): number {
    const m1 = mac1Offset(size);
    const nonce = randomBytes(COOKIE_NONCE_LEN);
    const sealed = xchachaSeal(this.cookieKey, nonce, this.cookieFor(source, now), msg.subarray(m1, m1 + MAC_LEN));
    writeHeader(out, MESSAGE_HANDSHAKE_COOKIE);
    out.set(msg.subarray(4, 8), CookieReply.receiver);
    out.set(nonce, CookieReply.nonce);
    out.set(sealed, CookieReply.encryptedCookie);
    return CookieReply.size;
  }

  /** τ = MAC(R_m, source), with R_m replaced every COOKIE_REFRESH_TIME so cookies age out. */
  private cookieFor(source: Uint8Array, now: number): Uint8Array {
    if (now - this.secretSetAt >= COOKIE_REFRESH_TIME) {
      this.secret = randomBytes(KEY_LEN);
      this.secretSetAt = now;
    }
    return mac(this.secret, source);
  }
}

export enum GateVerdict {
  /** MACs fine (and MAC2 too if under load): go on with the Diffie-Hellman. */
  Pass = 0,
  InvalidMac1,
  /** Under load, no valid MAC2 and no source address to answer: drop. */
  UnderLoad,
  /** Under load, no valid MAC2: a cookie reply was written to `replyOut`; send it back. */
  CookieReply,
}

/**
 * The responder's gate for handshake messages (paper §5.3): MAC1 first (cheap, drops anything
 * not meant for our key), then count it against the rate limiter; only when that says "under
 * load" does MAC2 matter, and a message without one gets a cookie reply instead of a DH.
 */
export function gateHandshake(
  checker: CookieChecker,
  limiter: RateLimiter,
  msg: Uint8Array,
  size: number,
  now: number,
  srcAddress: string | undefined,
  srcPort: number | undefined,
  replyOut: Uint8Array,
): GateVerdict {
  if (!checker.checkMac1(msg, size)) return GateVerdict.InvalidMac1;
  if (!limiter.countAndCheck(now)) return GateVerdict.Pass;
  if (srcAddress === undefined) return GateVerdict.UnderLoad;
  const source = sourceBytes(srcAddress, srcPort ?? 0);
  if (checker.checkMac2(msg, size, source, now)) return GateVerdict.Pass;
  checker.writeReply(msg, size, source, now, replyOut);
  return GateVerdict.CookieReply;
}
