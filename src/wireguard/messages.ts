import {
  MAC_LEN,
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_HANDSHAKE_COOKIE,
  MESSAGE_HANDSHAKE_INITIATION,
  MESSAGE_HANDSHAKE_RESPONSE,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_RESPONSE_SIZE,
  MESSAGE_TRANSPORT,
  MESSAGE_TRANSPORT_MIN_SIZE,
} from "./constants.ts";

/**
 * Byte layouts of the four WireGuard messages (paper §5.4). Every message starts with a type
 * byte and three zero bytes; integers are little-endian. Offsets are named so the handshake and
 * cookie code never hard-code a number.
 */

/** Handshake initiation (148 bytes). */
export const Initiation = {
  sender: 4,
  ephemeral: 8,
  encryptedStatic: 40, // 32 + 16 tag
  encryptedTimestamp: 88, // 12 + 16 tag
  mac1: 116,
  mac2: 132,
  size: MESSAGE_INITIATION_SIZE,
} as const;

/** Handshake response (92 bytes). */
export const Response = {
  sender: 4,
  receiver: 8,
  ephemeral: 12,
  encryptedNothing: 44, // 0 + 16 tag
  mac1: 60,
  mac2: 76,
  size: MESSAGE_RESPONSE_SIZE,
} as const;

/** Cookie reply (64 bytes). */
export const CookieReply = {
  receiver: 4,
  nonce: 8,
  encryptedCookie: 32, // 16 + 16 tag
  size: MESSAGE_COOKIE_REPLY_SIZE,
} as const;

/** Transport data: header then ciphertext of the padded packet with its tag. */
export const Transport = {
  receiver: 4,
  counter: 8,
  content: 16,
} as const;

/** buf[off, off+len) is a real range of buf: whole non-negative numbers that stay inside it. */
export function inBounds(buf: Uint8Array, off: number, len: number): boolean {
  return (off >>> 0) === off && (len >>> 0) === len && off + len <= buf.length;
}

/**
 * The handshake message at buf[off, off+len) as its own array. Handshakes are rare and allocate
 * anyway (keys, sessions); only the transport path must not, and it reads at the offset directly.
 */
export function messageView(buf: Uint8Array, off: number, len: number): Uint8Array {
  return off === 0 && len === buf.length ? buf : buf.subarray(off, off + len);
}

export function readU32(buf: Uint8Array, off: number): number {
  return (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
}

export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v & 0xff;
  buf[off + 1] = (v >>> 8) & 0xff;
  buf[off + 2] = (v >>> 16) & 0xff;
  buf[off + 3] = (v >>> 24) & 0xff;
}

/** u64 little-endian as a number; values above 2^53 lose precision and are refused by callers via MAX_COUNTER. */
export function readU64(buf: Uint8Array, off: number): number {
  return readU32(buf, off) + readU32(buf, off + 4) * 0x1_0000_0000;
}

export function writeU64(buf: Uint8Array, off: number, v: number): void {
  writeU32(buf, off, v >>> 0);
  writeU32(buf, off + 4, Math.floor(v / 0x1_0000_0000) >>> 0);
}

/** Writes type byte and the three reserved zero bytes. */
export function writeHeader(buf: Uint8Array, type: number): void {
  buf[0] = type;
  buf[1] = 0;
  buf[2] = 0;
  buf[3] = 0;
}

/**
 * The message type of a datagram if its length fits that type exactly (handshake messages have
 * fixed sizes, transport at least a keepalive), otherwise 0. Used to demultiplex and as the
 * first cheap filter against garbage.
 */
export function messageType(datagram: Uint8Array, len: number = datagram.length): number {
  if (len < 4) return 0;
  if (datagram[1] !== 0 || datagram[2] !== 0 || datagram[3] !== 0) return 0;
  switch (datagram[0]) {
    case MESSAGE_HANDSHAKE_INITIATION:
      return len === MESSAGE_INITIATION_SIZE ? MESSAGE_HANDSHAKE_INITIATION : 0;
    case MESSAGE_HANDSHAKE_RESPONSE:
      return len === MESSAGE_RESPONSE_SIZE ? MESSAGE_HANDSHAKE_RESPONSE : 0;
    case MESSAGE_HANDSHAKE_COOKIE:
      return len === MESSAGE_COOKIE_REPLY_SIZE ? MESSAGE_HANDSHAKE_COOKIE : 0;
    case MESSAGE_TRANSPORT:
      return len >= MESSAGE_TRANSPORT_MIN_SIZE ? MESSAGE_TRANSPORT : 0;
    default:
      return 0;
  }
}

/** Where the MACs of a handshake message sit (both are the last 32 bytes). */
export function mac1Offset(size: number): number {
  return size - 2 * MAC_LEN;
}
export function mac2Offset(size: number): number {
  return size - MAC_LEN;
}
