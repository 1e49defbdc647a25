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

const anchorHr = process.hrtime();
const anchorSec = Math.floor(anchorWallMs / 1000);
const anchorNs = (anchorWallMs % 1000) * 1_000_000;
let cachedSec = -1;
let cachedPrefix = "";

/**
 * The current time as RFC 3339 with nanoseconds, without BigInt: whole seconds and nanoseconds
 * kept apart, and the `YYYY-MM-DDTHH:MM:SS` part formatted once per second. Same clock and same
 * text as `rfc3339Nanos(nowNanos())`, at a fraction of the cost (every log record calls it).
 */
export function nowRfc3339(): string {
  const [ds, dns] = process.hrtime(anchorHr);
  let sec = anchorSec + ds;
  let ns = anchorNs + dns;
  if (ns >= 1_000_000_000) {
    sec++;
    ns -= 1_000_000_000;
  }
  if (sec !== cachedSec) {
    cachedSec = sec;
    cachedPrefix = new Date(sec * 1000).toISOString().slice(0, 19);
  }
  const frac = ns.toString();
  return `${cachedPrefix}.${"000000000".slice(frac.length)}${frac}Z`;
}

/** RFC 3339 UTC with nine fractional digits: `2026-11-26T04:51:45.123456789Z`. */
export function rfc3339Nanos(nanos: bigint = nowNanos()): string {
  const ms = Number(nanos / 1_000_000n);
  const frac = (nanos % 1_000_000_000n).toString().padStart(9, "0");
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, 19)}.${frac}Z`;
}
