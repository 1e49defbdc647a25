/**
 * Numbers of Firezone's relay (rust/relay/proto) and of RFC 8656 (TURN), with their names.
 * Durations are milliseconds because the sans-IO core counts time in ms.
 */

/** The realm every Firezone credential is bound to (rust/relay/proto/src/auth.rs `FIREZONE`). */
export const REALM = "firezone";

/** RFC 8656 §18.1: the default STUN/TURN port over UDP. */
export const DEFAULT_LISTEN_PORT = 3478;

/** RFC 8656 §7.2 recommends relayed ports from the dynamic range. */
export const DEFAULT_MIN_PORT = 49152;
export const DEFAULT_MAX_PORT = 65535;

/** RFC 8656 §7.2: default allocation lifetime; Firezone caps requests at one hour. */
export const DEFAULT_ALLOCATION_LIFETIME_MS = 600_000;
export const MAX_ALLOCATION_LIFETIME_MS = 3_600_000;

/** RFC 8656 §12: a channel binding lasts 10 minutes ... */
export const CHANNEL_BINDING_DURATION_MS = 600_000;
/** ... and after it expires, neither its number nor its peer may be rebound for 5 more minutes. */
export const CHANNEL_REBIND_TIMEOUT_MS = 300_000;

/**
 * Channel numbers a client may bind. RFC 8656 §12 narrowed them to 0x4000–0x4FFF, but Firezone's
 * relay (stun_codec's RFC 5766 `ChannelNumber`) and coturn accept the RFC 5766 range 0x4000–0x7FFF,
 * and clients such as turnutils_uclient pick from all of it, so we accept it too.
 */
export const CHANNEL_NUMBER_MIN = 0x4000;
export const CHANNEL_NUMBER_MAX = 0x7fff;

/** Firezone `Nonces::NUM_REQUESTS`: how many authenticated requests one nonce is good for. */
export const NONCE_NUM_REQUESTS = 10_000;

/** The SOFTWARE attribute we send, like Firezone's relay does. */
export const SOFTWARE = "firezone-relay";

/** RFC 8656 §14: the 4-byte ChannelData header (channel number, length). */
export const CHANNEL_DATA_HEADER_LENGTH = 4;

/** Allocations one client IP may hold at once (our limit; Firezone has none): quota → 486. */
export const DEFAULT_MAX_ALLOCATIONS_PER_IP = 64;

/** Largest UDP payload; bounds every relay buffer. */
export const MAX_UDP_PAYLOAD = 65_507;
