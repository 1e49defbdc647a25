// IPv6 header layout (RFC 8200) and the extension headers a parser must step over.
import {
  IPPROTO_AH,
  IPPROTO_DSTOPTS,
  IPPROTO_FRAGMENT,
  IPPROTO_HOPOPTS,
  IPPROTO_ROUTING,
} from "./constants.ts";

export const IPV6_OFF_PAYLOAD_LEN = 4;
export const IPV6_OFF_NEXT_HEADER = 6;
export const IPV6_OFF_HOP_LIMIT = 7;
export const IPV6_OFF_SRC = 8;
export const IPV6_OFF_DST = 24;

/**
 * Extension headers we skip to find the upper-layer protocol. ESP is deliberately absent: what
 * follows it is encrypted, so ESP itself is the "upper layer" for our purposes.
 */
export function isIPv6ExtensionHeader(nextHeader: number): boolean {
  return (
    nextHeader === IPPROTO_HOPOPTS ||
    nextHeader === IPPROTO_ROUTING ||
    nextHeader === IPPROTO_FRAGMENT ||
    nextHeader === IPPROTO_DSTOPTS ||
    nextHeader === IPPROTO_AH
  );
}

export function ipv6PayloadLen(buf: Uint8Array, off: number): number {
  return (buf[off + 4] << 8) | buf[off + 5];
}

/**
 * Writes a 40-byte IPv6 header. Addresses are copied from caller-owned 16-byte ranges so the hot
 * path needs no address objects.
 */
export function writeIPv6Header(
  buf: Uint8Array,
  off: number,
  payloadLen: number,
  nextHeader: number,
  hopLimit: number,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  trafficClass = 0,
  flowLabel = 0,
): void {
  buf[off] = 0x60 | (trafficClass >>> 4);
  buf[off + 1] = ((trafficClass & 0x0f) << 4) | ((flowLabel >>> 16) & 0x0f);
  buf[off + 2] = (flowLabel >>> 8) & 0xff;
  buf[off + 3] = flowLabel & 0xff;
  buf[off + 4] = payloadLen >>> 8;
  buf[off + 5] = payloadLen & 0xff;
  buf[off + IPV6_OFF_NEXT_HEADER] = nextHeader;
  buf[off + IPV6_OFF_HOP_LIMIT] = hopLimit;
  for (let i = 0; i < 16; i++) {
    buf[off + IPV6_OFF_SRC + i] = src[srcOff + i];
    buf[off + IPV6_OFF_DST + i] = dst[dstOff + i];
  }
}
