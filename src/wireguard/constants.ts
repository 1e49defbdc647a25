/**
 * Constants of the WireGuard protocol, named as in the WireGuard paper (§5.4, §6) and
 * wireguard-go's device/constants.go. Times are milliseconds because every `now` in this
 * package is a millisecond number.
 */

// --- Noise and labels (paper §5.4) ---------------------------------------------------------
export const CONSTRUCTION = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
export const IDENTIFIER = "WireGuard v1 zx2c4 Jason@zx2c4.com";
export const LABEL_MAC1 = "mac1----";
export const LABEL_COOKIE = "cookie--";

// --- Message types and sizes (paper §5.4.2–§5.4.7) ------------------------------------------
export const MESSAGE_HANDSHAKE_INITIATION = 1;
export const MESSAGE_HANDSHAKE_RESPONSE = 2;
export const MESSAGE_HANDSHAKE_COOKIE = 3;
export const MESSAGE_TRANSPORT = 4;

export const KEY_LEN = 32;
export const TAG_LEN = 16;
export const MAC_LEN = 16;
export const TIMESTAMP_LEN = 12;
export const COOKIE_LEN = 16;
export const COOKIE_NONCE_LEN = 24;

export const MESSAGE_INITIATION_SIZE = 148;
export const MESSAGE_RESPONSE_SIZE = 92;
export const MESSAGE_COOKIE_REPLY_SIZE = 64;
/** type(1) reserved(3) receiver(4) counter(8): also the headroom callers leave before a packet. */
export const MESSAGE_TRANSPORT_HEADER_SIZE = 16;
/** A keepalive: header plus the tag of an empty plaintext. */
export const MESSAGE_TRANSPORT_MIN_SIZE = MESSAGE_TRANSPORT_HEADER_SIZE + TAG_LEN;
/** Transport plaintext is zero-padded to a multiple of this (paper §5.4.6). */
export const PADDING_MULTIPLE = 16;

// --- Limits (paper §6.1; wireguard-go constants.go) -----------------------------------------
export const REKEY_AFTER_MESSAGES = 2 ** 60;
/** 2^64 - 2^13 - 1 is not a safe JS integer; see MAX_COUNTER for the limit this code enforces. */
export const REJECT_AFTER_MESSAGES = 2n ** 64n - 2n ** 13n - 1n;
/**
 * Counters are JS numbers (no BigInt per packet) and the AEAD nonce API takes a number, so
 * counters above 2^53 - 1 are refused. No honest peer reaches them: keys rotate every two
 * minutes, which at 10 Mpps is 1.2e9 messages, 2^30.
 */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

export const REKEY_AFTER_TIME = 120_000;
export const REJECT_AFTER_TIME = 180_000;
export const REKEY_ATTEMPT_TIME = 90_000;
export const REKEY_TIMEOUT = 5_000;
export const KEEPALIVE_TIMEOUT = 10_000;
export const COOKIE_REFRESH_TIME = 120_000;
/** Jitter added to handshake retransmissions so peers don't retry in lockstep (wireguard-go: 333 ms). */
export const REKEY_TIMEOUT_JITTER_MAX = 333;
/** Keys are wiped when no new handshake happened for this long (paper §6.3). */
export const ZERO_KEYS_AFTER = REJECT_AFTER_TIME * 3;
/** An initiator rekeys on receive when its session is this old (paper §6.2). */
export const REKEY_ON_RECEIVE_AFTER = REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;
/** A new initiation from the same peer sooner than this is dropped (wireguard-go HandshakeInitationRate). */
export const HANDSHAKE_INITIATION_RATE = 20;

/** Firezone's ICE mode gives up on a handshake after 20 s instead of 90 s (snownet). */
export const FIREZONE_ICE_REKEY_ATTEMPT_TIME = 20_000;

// --- Session bookkeeping (boringtun keeps 8 sessions per tunnel) ----------------------------
export const MAX_SESSIONS = 8;
/** Packets queued while a handshake is in flight (boringtun MAX_QUEUE_DEPTH). */
export const MAX_QUEUED_PACKETS = 256;

// --- Replay window (RFC 6479 with 32-bit words) ---------------------------------------------
export const REPLAY_WORD_BITS = 32;
export const REPLAY_RING_WORDS = 256;
/** One word of the ring is always being recycled, so the usable window is one word smaller. */
export const REPLAY_WINDOW_SIZE = (REPLAY_RING_WORDS - 1) * REPLAY_WORD_BITS;

// --- Load (cookie) handling -----------------------------------------------------------------
/** Handshake messages per second a lone tunnel accepts before demanding cookies (boringtun PEER_HANDSHAKE_RATE_LIMIT). */
export const PEER_HANDSHAKE_RATE_LIMIT = 10;
/** Handshake messages per second a device accepts before demanding cookies (boringtun HANDSHAKE_RATE_LIMIT). */
export const DEVICE_HANDSHAKE_RATE_LIMIT = 100;
export const RATE_LIMIT_WINDOW = 1_000;
