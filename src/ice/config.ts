/**
 * Connectivity-check timing. Firezone tunes str0m's agent with four presets (reference §2), and
 * the values here are those; the retransmission schedule follows libwebrtc/str0m: the n-th
 * unanswered send waits `initialRto << (n-1)`, capped at `maxRto`.
 */
export interface IceConfig {
  readonly name: string;
  readonly maxRetransmits: number;
  readonly initialRto: number;
  readonly maxRto: number;
}

export const CLIENT_DEFAULT: IceConfig = { name: "client_default", maxRetransmits: 12, maxRto: 1500, initialRto: 250 };
export const CLIENT_IDLE: IceConfig = { name: "client_idle", maxRetransmits: 4, maxRto: 25_000, initialRto: 25_000 };
export const SERVER_DEFAULT: IceConfig = { name: "server_default", maxRetransmits: 45, maxRto: 15_000, initialRto: 250 };
export const SERVER_IDLE: IceConfig = { name: "server_idle", maxRetransmits: 40, maxRto: 25_000, initialRto: 25_000 };

/** Checks are paced at least this far apart (RFC 8445 Ta; str0m's timing advance). */
export const TA_MS = 50;

/** A pair whose remote keeps sending us checks stays usable this long without our own answers. */
export const RECENT_REMOTE_REQUEST_MS = 15_000;

/**
 * A pair whose last this-many checks went unanswered is stalled: the controlling side nominates a
 * pair that still answers instead (a rebound NAT kills the old pair long before the ICE timeout
 * prunes it). Three, so that one lost check plus one in flight do not count.
 */
export const STALLED_CHECKS = 3;

/** Pairs kept per agent; more remote candidates than this only replace lower-priority pairs. */
export const MAX_PAIRS = 100;

/** How long to wait before the `sendCount`-th retransmission (1-based; 0 means now). */
export function resendDelay(config: IceConfig, sendCount: number): number {
  if (sendCount <= 0) return 0;
  const retrans = Math.min(sendCount - 1, config.maxRetransmits);
  return Math.min(config.initialRto * 2 ** retrans, config.maxRto);
}

/** How long an established pair survives total loss before it is pruned (16.5 s for client_default). */
export function iceTimeout(config: IceConfig): number {
  let total = 0;
  for (let n = 2; n <= config.maxRetransmits; n++) total += resendDelay(config, n);
  return total + resendDelay(config, config.maxRetransmits);
}
