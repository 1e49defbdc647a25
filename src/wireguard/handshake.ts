import {
  aeadOpenOnce,
  aeadSealOnce,
  blake2s,
  hkdf,
  prepareChainingKey,
  x25519GenerateEphemeral,
  x25519PrivateKey,
  x25519With,
  type X25519PrivateKey,
} from "../crypto/index.ts";
import {
  CONSTRUCTION,
  IDENTIFIER,
  KEY_LEN,
  MESSAGE_HANDSHAKE_INITIATION,
  MESSAGE_HANDSHAKE_RESPONSE,
  TAG_LEN,
  TIMESTAMP_LEN,
} from "./constants.ts";
import { Initiation, readU32, Response, writeHeader, writeU32 } from "./messages.ts";

/**
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard uses it (paper §5.4.2–§5.4.5): messages 1
 * and 2 written into and read from caller buffers, producing the two transport keys. MACs are
 * the cookie module's job; indices, timers and sessions the tunnel's. Every failure is a `null`
 * return (never an exception) so a hostile datagram can only ever become a counted drop.
 */

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** C_0 = HASH(CONSTRUCTION), H_0 = HASH(C_0 || IDENTIFIER): the same for every handshake. */
export const INITIAL_CHAINING_KEY = blake2s(encoder.encode(CONSTRUCTION));
const INITIAL_HASH = blake2s([INITIAL_CHAINING_KEY, encoder.encode(IDENTIFIER)]);
/** C_0 with its HMAC pads compressed once: every handshake's first KDF starts from it. */
const C0 = prepareChainingKey(INITIAL_CHAINING_KEY);

/** H_0 mixed with the responder's static public key, computed once per key. */
export function responderInitialHash(responderPublicKey: Uint8Array): Uint8Array {
  return blake2s([INITIAL_HASH, responderPublicKey]);
}

/** Our static key pair with what a responder can precompute from it. */
export class LocalStatic {
  readonly publicKey: Uint8Array;
  /** H after mixing our public key: the start of every initiation sent to us. */
  readonly initialHash: Uint8Array;
  /** The private key parsed once for every DH (node:crypto re-parsing it per DH cost ~40 µs). */
  readonly key: X25519PrivateKey;

  constructor(readonly privateKey: Uint8Array) {
    this.key = x25519PrivateKey(privateKey);
    this.publicKey = this.key.publicKey;
    this.initialHash = responderInitialHash(this.publicKey);
  }
}

/** One peer as seen from us: both statics, the static-static DH and the pre-shared key. */
export class PeerStatic {
  readonly peerInitialHash: Uint8Array;
  /** DH(S_priv, S_pub_peer): used by every handshake with this peer, so computed once. */
  readonly staticShared: Uint8Array | null;
  readonly psk: Uint8Array;

  constructor(readonly local: LocalStatic, readonly peerPublicKey: Uint8Array, psk: Uint8Array | null) {
    this.peerInitialHash = responderInitialHash(peerPublicKey);
    this.staticShared = dh(local.key, peerPublicKey);
    this.psk = psk ? psk.slice() : new Uint8Array(KEY_LEN);
  }
}

/** What the initiator keeps between sending message 1 and receiving message 2. */
export interface InitiatorState {
  localIndex: number;
  ephemeralPrivate: X25519PrivateKey;
  chainingKey: Uint8Array;
  hash: Uint8Array;
}

/** Message 1 after decrypting the initiator's static key: enough to find the peer. */
export interface ConsumedInitiation {
  senderIndex: number;
  peerEphemeral: Uint8Array;
  peerStatic: Uint8Array;
  chainingKey: Uint8Array;
  hash: Uint8Array;
  encryptedTimestamp: Uint8Array;
}

/** The two transport keys of a finished handshake, from this side's point of view. */
export interface TransportKeys {
  send: Uint8Array;
  receive: Uint8Array;
}

function dh(privateKey: X25519PrivateKey, publicKey: Uint8Array): Uint8Array | null {
  try {
    return x25519With(privateKey, publicKey);
  } catch {
    // A low-order public key yields an all-zero secret; WireGuard must refuse it.
    return null;
  }
}

function mixHash(h: Uint8Array, data: Uint8Array): Uint8Array {
  return blake2s([h, data]);
}

/** AEAD(k, 0, plaintext, aad) in place at buf[off, off+len) plus tag; one key per message. */
function seal(key: Uint8Array, buf: Uint8Array, off: number, len: number, aad: Uint8Array): boolean {
  return aeadSealOnce(key, 0, buf, off, len, aad) === len + TAG_LEN;
}

/** Decrypts a copy of buf[off, off+len+16) and returns the plaintext, or null. */
function open(key: Uint8Array, buf: Uint8Array, off: number, len: number, aad: Uint8Array): Uint8Array | null {
  const copy = buf.slice(off, off + len + TAG_LEN);
  return aeadOpenOnce(key, 0, copy, 0, copy.length, aad) === len ? copy.subarray(0, len) : null;
}

/** Writes message 1 (all but the MACs) into out[0, 116) and returns the initiator state, or null. */
export function writeInitiation(peer: PeerStatic, localIndex: number, timestamp: Uint8Array, out: Uint8Array): InitiatorState | null {
  if (peer.staticShared === null) return null;
  const eph = x25519GenerateEphemeral();
  let ck = hkdf(C0, eph.publicKey, 1)[0];
  let h = mixHash(peer.peerInitialHash, eph.publicKey);
  writeHeader(out, MESSAGE_HANDSHAKE_INITIATION);
  writeU32(out, Initiation.sender, localIndex);
  out.set(eph.publicKey, Initiation.ephemeral);

  const es = dh(eph, peer.peerPublicKey);
  if (es === null) return null;
  let [ck1, k] = hkdf(ck, es, 2);
  ck = ck1;
  out.set(peer.local.publicKey, Initiation.encryptedStatic);
  if (!seal(k, out, Initiation.encryptedStatic, KEY_LEN, h)) return null;
  h = mixHash(h, out.subarray(Initiation.encryptedStatic, Initiation.encryptedStatic + KEY_LEN + TAG_LEN));

  [ck1, k] = hkdf(ck, peer.staticShared, 2);
  ck = ck1;
  out.set(timestamp, Initiation.encryptedTimestamp);
  if (!seal(k, out, Initiation.encryptedTimestamp, TIMESTAMP_LEN, h)) return null;
  h = mixHash(h, out.subarray(Initiation.encryptedTimestamp, Initiation.encryptedTimestamp + TIMESTAMP_LEN + TAG_LEN));
  k.fill(0);
  es.fill(0);
  return { localIndex, ephemeralPrivate: eph, chainingKey: ck, hash: h };
}

/**
 * First half of consuming message 1, needing only our own static key: decrypts the initiator's
 * static public key so a device holding many peers can find which one it is.
 */
export function consumeInitiationStatic(local: LocalStatic, msg: Uint8Array): ConsumedInitiation | null {
  const peerEphemeral = msg.slice(Initiation.ephemeral, Initiation.ephemeral + KEY_LEN);
  let ck = hkdf(C0, peerEphemeral, 1)[0];
  let h = mixHash(local.initialHash, peerEphemeral);
  const es = dh(local.key, peerEphemeral);
  if (es === null) return null;
  const [ck1, k] = hkdf(ck, es, 2);
  ck = ck1;
  es.fill(0);
  const peerStatic = open(k, msg, Initiation.encryptedStatic, KEY_LEN, h);
  k.fill(0);
  if (peerStatic === null) return null;
  h = mixHash(h, msg.subarray(Initiation.encryptedStatic, Initiation.encryptedStatic + KEY_LEN + TAG_LEN));
  return {
    senderIndex: readU32(msg, Initiation.sender),
    peerEphemeral,
    peerStatic: peerStatic.slice(),
    chainingKey: ck,
    hash: h,
    encryptedTimestamp: msg.slice(Initiation.encryptedTimestamp, Initiation.encryptedTimestamp + TIMESTAMP_LEN + TAG_LEN),
  };
}

/** Second half of consuming message 1, with the peer known: returns the TAI64N timestamp or null. Advances `c`. */
export function consumeInitiationTimestamp(peer: PeerStatic, c: ConsumedInitiation): Uint8Array | null {
  if (peer.staticShared === null) return null;
  const [ck, k] = hkdf(c.chainingKey, peer.staticShared, 2);
  const timestamp = open(k, c.encryptedTimestamp, 0, TIMESTAMP_LEN, c.hash);
  k.fill(0);
  if (timestamp === null) return null;
  c.chainingKey = ck;
  c.hash = mixHash(c.hash, c.encryptedTimestamp);
  return timestamp.slice();
}

/** Writes message 2 (all but the MACs) into out[0, 60) and returns the responder's transport keys. */
export function writeResponse(peer: PeerStatic, c: ConsumedInitiation, localIndex: number, out: Uint8Array): TransportKeys | null {
  const eph = x25519GenerateEphemeral();
  writeHeader(out, MESSAGE_HANDSHAKE_RESPONSE);
  writeU32(out, Response.sender, localIndex);
  writeU32(out, Response.receiver, c.senderIndex);
  out.set(eph.publicKey, Response.ephemeral);
  let ck = hkdf(c.chainingKey, eph.publicKey, 1)[0];
  let h = mixHash(c.hash, eph.publicKey);
  const ee = dh(eph, c.peerEphemeral);
  const se = dh(eph, c.peerStatic);
  eph.dispose();
  if (ee === null || se === null) return null;
  ck = hkdf(ck, ee, 1)[0];
  ck = hkdf(ck, se, 1)[0];
  ee.fill(0);
  se.fill(0);
  const [ck2, tau, k] = hkdf(ck, peer.psk, 3);
  h = mixHash(h, tau);
  if (!seal(k, out, Response.encryptedNothing, 0, h)) return null;
  const [receive, send] = hkdf(ck2, EMPTY, 2);
  for (const secret of [ck, ck2, tau, k, c.chainingKey]) secret.fill(0);
  return { send, receive };
}

/** Consumes message 2 for our initiation in `state`: the initiator's transport keys, or null. */
export function consumeResponse(peer: PeerStatic, state: InitiatorState, msg: Uint8Array): TransportKeys | null {
  const peerEphemeral = msg.subarray(Response.ephemeral, Response.ephemeral + KEY_LEN);
  let ck = hkdf(state.chainingKey, peerEphemeral, 1)[0];
  let h = mixHash(state.hash, peerEphemeral);
  const ee = dh(state.ephemeralPrivate, peerEphemeral);
  const se = dh(peer.local.key, peerEphemeral);
  if (ee === null || se === null) return null;
  ck = hkdf(ck, ee, 1)[0];
  ck = hkdf(ck, se, 1)[0];
  ee.fill(0);
  se.fill(0);
  const [ck2, tau, k] = hkdf(ck, peer.psk, 3);
  h = mixHash(h, tau);
  const ok = open(k, msg, Response.encryptedNothing, 0, h) !== null;
  k.fill(0);
  tau.fill(0);
  if (!ok) return null;
  const [send, receive] = hkdf(ck2, EMPTY, 2);
  ck.fill(0);
  ck2.fill(0);
  return { send, receive };
}

/** Wipes an initiator state that will not be used again. */
export function wipeInitiator(state: InitiatorState): void {
  state.ephemeralPrivate.dispose();
  state.chainingKey.fill(0);
}

/**
 * TAI64N of a wall-clock time (12 bytes: seconds since 1970 + 2^62 + 10, nanoseconds, both
 * big-endian). Nanoseconds are rounded down to 2^24 ns (wireguard-go's whitening) so the
 * timestamp does not leak a fine-grained clock to anyone who can see our initiations.
 */
export function tai64n(wallMs: number, out: Uint8Array = new Uint8Array(TIMESTAMP_LEN)): Uint8Array {
  const secs = Math.floor(wallMs / 1000);
  const nanos = Math.floor((wallMs - secs * 1000) * 1e6);
  const whitened = (nanos & ~0xffffff) >>> 0;
  // 2^62 + 10 + secs split into two u32 words: 2^62 sits in the high word as 0x40000000.
  const low = secs + 10;
  const view = new DataView(out.buffer, out.byteOffset, TIMESTAMP_LEN);
  view.setUint32(0, 0x40000000 + Math.floor(low / 0x1_0000_0000), false);
  view.setUint32(4, low >>> 0, false);
  view.setUint32(8, whitened, false);
  return out;
}

/** Whether timestamp `a` is strictly later than `b` (big-endian compare). */
export function timestampAfter(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < TIMESTAMP_LEN; i++) {
    if (a[i] !== b[i]) return a[i] > b[i];
  }
  return false;
}
