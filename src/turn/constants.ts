/**
 * TURN client timings and limits. Values follow Firezone's snownet (`allocation.rs`, `backoff.rs`)
 * where it deliberately differs from RFC 8656 defaults; the RFC name is given where there is one.
 */

/** First retransmission after 1 s (RFC 8489 RTO is 500 ms; Firezone waits longer on a relay). */
export const REQUEST_TIMEOUT_MS = 1_000;
/** Each retransmission interval is the previous one × 1.5. */
export const BACKOFF_MULTIPLIER = 1.5;
/** A request that has had no answer 8 s after it was first sent is given up. */
export const REQUEST_MAX_ELAPSED_MS = 8_000;

/**
 * Keep-alive BINDING interval once the allocation exists: NATs keep unconfirmed UDP mappings for
 * ~30 s, so 25 s keeps them open; sending ChannelData resets the timer.
 */
export const BINDING_INTERVAL_MS = 25_000;

/** RFC 8656 §12: a channel binding lasts 10 minutes unless refreshed. */
export const CHANNEL_LIFETIME_MS = 10 * 60_000;
/** Channels that carried data are refreshed when half their lifetime has passed. */
export const CHANNEL_REFRESH_AFTER_MS = CHANNEL_LIFETIME_MS / 2;
/** RFC 8656 §12: after a binding expires, its number and peer stay reserved 5 more minutes. */
export const CHANNEL_REBIND_TIMEOUT_MS = 5 * 60_000;
/** Firezone binds only the lower quarter of the channel space, round-robin. */
export const FIRST_CHANNEL = 0x4000;
export const LAST_CHANNEL = 0x4fff;

/** Peers asked for before the allocation exists are remembered, up to this many (oldest dropped). */
export const MAX_BUFFERED_CHANNEL_BINDINGS = 100;

/** RFC 8656 §7.2: the server's default allocation lifetime, used only for documentation/tests. */
export const DEFAULT_ALLOCATION_LIFETIME_S = 600;

export const SOFTWARE = "snownet";
export const FIREZONE_REALM = "firezone";
