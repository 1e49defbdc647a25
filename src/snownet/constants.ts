/**
 * Timings and sizes of Firezone's snownet (reference §2), named as in
 * `rust/libs/connlib/snownet/src/node.rs` and `node/connection_state.rs`. Milliseconds.
 */

/** A connection without traffic for this long goes idle and switches to the idle ICE preset. */
export const MAX_IDLE = 20_000;
/** A new connection that has not received a single remote candidate in this time has failed. */
export const CANDIDATE_TIMEOUT = 10_000;
/** ICE `disconnected` that does not recover within this time fails the connection. */
export const DISCONNECT_TIMEOUT = 2_000;
/** IP packets held per connection while it is connecting (a ring: the oldest is overwritten). */
export const MAX_BUFFERED_PACKETS = 128;
/** A reused upsert rolls the WireGuard session over at most this often. */
export const UPSERT_ROLLOVER_INTERVAL = 20_000;
/** In ICE mode the WireGuard handshake gives up after 20 s (must stay above the ICE timeout). */
export const ICE_REKEY_ATTEMPT_TIME = 20_000;
/** IPs of relays removed by `updateRelays`: their late packets are dropped, not mis-demuxed. */
export const REMOVED_RELAYS_MEMORY = 64;
/** STUN/TURN's registered port: datagrams from it are tried against the allocations first. */
export const STUN_PORT = 3478;
/** Relays within 1.5× the best RTT are equivalent when there are at most two of them. */
export const RELAY_RTT_FACTOR_FEW = 1.5;
/** With three or more relays, those within median + 3·MAD are equivalent … */
export const RELAY_RTT_MAD_FACTOR = 3;
/** … where the MAD is at least this, so equally near relays do not shrink the set to one. */
export const RELAY_RTT_MIN_MAD = 2;
/** Largest UDP payload handled; receive and send buffers are this big plus headroom. */
export const MAX_DATAGRAM = 65_535;
/** ChannelData header room kept in front of every WireGuard datagram we build. */
export const CHANNEL_DATA_HEADROOM = 4;
/**
 * The controlled side holds packets this long after nomination waiting for the client's handshake
 * to be confirmed; after that they go to WireGuard, which then initiates a handshake of its own
 * (the client's key confirmation may have been lost and the client may have nothing to send).
 */
export const RESPONDER_CONFIRMATION_GRACE = 5_000;
/**
 * Our own: this many checks in a row unanswered on the nominated pair and the path counts as
 * stalled; the relays are probed then (a rebound NAT leaves the allocations on a dead 5-tuple),
 * not after the ICE timeout. Two, so that a single lost check does not probe.
 */
export const STALLED_PATH_CHECKS = 2;
