/**
 * Tunnel addresses for clients and gateways, from Firezone's ranges 100.64.0.0/11 and
 * fd00:2021:1111::/107. Both ranges hold 2^21 addresses, so one offset names a device's IPv4 and
 * IPv6 address together; the store hands out offsets and never reuses one, which keeps a device's
 * addresses stable for as long as it exists.
 */
export const TUNNEL_IPV4_BASE = (100 << 24) | (64 << 16); // 100.64.0.0
export const TUNNEL_IPV6_PREFIX = "fd00:2021:1111::";
export const TUNNEL_RANGE_SIZE = 1 << 21;
/** Offset 0 is the network address and the last one the IPv4 broadcast address. */
export const FIRST_OFFSET = 1;
export const LAST_OFFSET = TUNNEL_RANGE_SIZE - 2;

export function ipv4ForOffset(offset: number): string {
  checkOffset(offset);
  const v = (TUNNEL_IPV4_BASE + offset) >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export function ipv6ForOffset(offset: number): string {
  checkOffset(offset);
  const hi = offset >>> 16;
  const lo = offset & 0xffff;
  return hi === 0 ? `${TUNNEL_IPV6_PREFIX}${lo.toString(16)}` : `${TUNNEL_IPV6_PREFIX}${hi.toString(16)}:${lo.toString(16)}`;
}

function checkOffset(offset: number): void {
  if (!Number.isInteger(offset) || offset < FIRST_OFFSET || offset > LAST_OFFSET) {
    throw new RangeError(`tunnel address offset ${offset} is outside ${FIRST_OFFSET}..${LAST_OFFSET}`);
  }
}
