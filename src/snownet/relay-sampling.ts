import { RELAY_RTT_FACTOR_FEW, RELAY_RTT_MAD_FACTOR, RELAY_RTT_MIN_MAD } from "./constants.ts";

/**
 * Picks the relay a new connection allocates its relayed candidates on (Firezone
 * `node/allocations.rs`): relays without a measured RTT are skipped; among the rest every relay
 * "about as near as the nearest" is equally likely, so load spreads without sending anyone far.
 * With ≤2 relays "about as near" is within 1.5× the minimum; with more it is within the median
 * plus 3 median-absolute-deviations (MAD floored at 2 ms). `random` is uniform in [0, 1).
 */
export function sampleRelay<RId>(candidates: ReadonlyArray<{ id: RId; rtt: number | undefined }>, random: () => number): RId | undefined {
  const measured = candidates.filter((c): c is { id: RId; rtt: number } => c.rtt !== undefined && Number.isFinite(c.rtt));
  if (measured.length === 0) return undefined;
  const threshold = rttThreshold(measured.map((c) => c.rtt));
  const eligible = measured.filter((c) => c.rtt <= threshold);
  const pick = Math.min(eligible.length - 1, Math.floor(random() * eligible.length));
  return eligible[pick]!.id;
}

/** The largest RTT that still counts as near (see sampleRelay). */
export function rttThreshold(rtts: readonly number[]): number {
  const min = Math.min(...rtts);
  if (rtts.length <= 2) return min * RELAY_RTT_FACTOR_FEW;
  const med = median(rtts);
  const mad = Math.max(median(rtts.map((r) => Math.abs(r - med))), RELAY_RTT_MIN_MAD);
  return med + RELAY_RTT_MAD_FACTOR * mad;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
