/**
 * Wall-clock time with nanosecond digits for log records. `Date` only has milliseconds, so the
 * sub-millisecond part comes from the monotonic clock, anchored to the wall clock once.
 */
const anchorWallMs = Date.now();
const anchorMono = process.hrtime.bigint();

/** Nanoseconds since the Unix epoch. */
export function nowNanos(): bigint {
  return BigInt(anchorWallMs) * 1_000_000n + (process.hrtime.bigint() - anchorMono);
}

/** RFC 3339 UTC with nine fractional digits: `2026-11-26T04:51:45.123456789Z`. */
export function rfc3339Nanos(nanos: bigint = nowNanos()): string {
  const ms = Number(nanos / 1_000_000n);
  const frac = (nanos % 1_000_000_000n).toString().padStart(9, "0");
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, 19)}.${frac}Z`;
}
