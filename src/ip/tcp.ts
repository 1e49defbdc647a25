// TCP (RFC 9293) header layout and a segment builder (tests, RSTs, synthetic traffic).
import { IPPROTO_TCP, TCP_MIN_HEADER_LEN } from "./constants.ts";
import type { BuildError } from "./drop-reason.ts";
import { type Addr, beginPacket, builtHeaderLen, writePorts } from "./ip-header.ts";
import { fillTransportChecksumRaw } from "./l4-checksum.ts";
import { writeU32 } from "./address.ts";
import { adjustChecksumAt, wordDelta } from "./checksum.ts";
import type { PacketView } from "./packet-view.ts";

export const TCP_OFF_SRC_PORT = 0;
export const TCP_OFF_DST_PORT = 2;
export const TCP_OFF_SEQ = 4;
export const TCP_OFF_ACK = 8;
export const TCP_OFF_DATA_OFFSET = 12;
export const TCP_OFF_FLAGS = 13;
export const TCP_OFF_WINDOW = 14;
export const TCP_OFF_CHECKSUM = 16;

/** Writes an IP+TCP segment (no options) with valid checksums; returns its length. */
export function buildTcpPacket(
  out: Uint8Array,
  off: number,
  src: Addr,
  dst: Addr,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  flags: number,
  window: number,
  payload: Uint8Array,
  ttl = 64,
): number | BuildError {
  const l4Len = TCP_MIN_HEADER_LEN + payload.length;
  const f = beginPacket(out, off, src, dst, IPPROTO_TCP, l4Len, ttl);
  if (typeof f === "string") return f;
  const hl = builtHeaderLen(f);
  const t = off + hl;
  writePorts(out, t, srcPort, dstPort);
  writeU32(out, t + TCP_OFF_SEQ, seq >>> 0);
  writeU32(out, t + TCP_OFF_ACK, ack >>> 0);
  out[t + TCP_OFF_DATA_OFFSET] = (TCP_MIN_HEADER_LEN / 4) << 4;
  out[t + TCP_OFF_FLAGS] = flags & 0xff;
  out[t + TCP_OFF_WINDOW] = (window >>> 8) & 0xff;
  out[t + TCP_OFF_WINDOW + 1] = window & 0xff;
  out[t + 18] = 0; // urgent pointer
  out[t + 19] = 0;
  out.set(payload, t + TCP_MIN_HEADER_LEN);
  fillTransportChecksumRaw(out, off, f, IPPROTO_TCP, t, l4Len);
  return hl + l4Len;
}

/**
 * Replaces the flag byte of a parsed TCP segment (e.g. to turn it into a RST) and updates the
 * checksum incrementally. Returns false if the view has no full TCP header.
 */
export function setTcpFlags(v: PacketView, flags: number): boolean {
  if (v.version === 0 || !v.isTcp || v.tcpFlags < 0 || v.checksumOff < 0) return false;
  const b = v.buf;
  // Flags share a 16-bit word with the data offset, so the delta is taken over that word.
  const at = v.l4Off + TCP_OFF_DATA_OFFSET;
  const oldWord = (b[at] << 8) | b[at + 1];
  const newWord = (oldWord & 0xff00) | (flags & 0xff);
  b[at + 1] = flags & 0xff;
  adjustChecksumAt(b, v.checksumOff, wordDelta(oldWord, newWord));
  v.tcpFlags = flags & 0xff;
  return true;
}
