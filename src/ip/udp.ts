// UDP (RFC 768) header layout and packet builder.
import { IPPROTO_UDP, UDP_HEADER_LEN } from "./constants.ts";
import type { BuildError } from "./drop-reason.ts";
import { type Addr, beginPacket, builtHeaderLen, writePorts } from "./ip-header.ts";
import { fillTransportChecksumRaw } from "./l4-checksum.ts";

export const UDP_OFF_SRC_PORT = 0;
export const UDP_OFF_DST_PORT = 2;
export const UDP_OFF_LENGTH = 4;
export const UDP_OFF_CHECKSUM = 6;

/**
 * Writes an IP+UDP packet with valid checksums into `out` at `off`; returns its length.
 * `payload` may be a subarray view, so callers can build from pooled buffers without copies.
 */
export function buildUdpPacket(
  out: Uint8Array,
  off: number,
  src: Addr,
  dst: Addr,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
  ttl = 64,
): number | BuildError {
  const l4Len = UDP_HEADER_LEN + payload.length;
  if (l4Len > 0xffff) return "payload-too-large";
  const f = beginPacket(out, off, src, dst, IPPROTO_UDP, l4Len, ttl);
  if (typeof f === "string") return f;
  const hl = builtHeaderLen(f);
  const u = off + hl;
  writePorts(out, u, srcPort, dstPort);
  out[u + 4] = l4Len >>> 8;
  out[u + 5] = l4Len & 0xff;
  out.set(payload, u + UDP_HEADER_LEN);
  fillTransportChecksumRaw(out, off, f, IPPROTO_UDP, u, l4Len);
  return hl + l4Len;
}
