/**
 * TURN ChannelData framing (RFC 8656 §12.4): channel number (0x4000–0x7FFF) u16 BE, data length
 * u16 BE, data. Over UDP the sender may pad the data to a multiple of 4 but need not (§12.5), so a
 * datagram is accepted if it holds exactly the data or the data plus its padding.
 * The send path writes the 4-byte header in front of a payload that already sits in the caller's
 * buffer at offset ≥ 4, so relaying and tunnelling allocate nothing per packet.
 */

import { CHANNEL_DATA_HEADER_LENGTH, CHANNEL_NUMBER_MAX, CHANNEL_NUMBER_MIN } from "./constants.ts";

export type ChannelDataError = "too-short" | "bad-channel-number" | "truncated" | "trailing-bytes";

export type ChannelDataResult =
  | { ok: true; channel: number; payload: Uint8Array }
  | { ok: false; reason: ChannelDataError };

/** RFC 7983 demux: ChannelData starts with 0x40..0x7F (64..127); Firezone only binds 0x4000–0x4FFF. */
export function looksLikeChannelData(bytes: Uint8Array): boolean {
  return bytes.length >= CHANNEL_DATA_HEADER_LENGTH && bytes[0] >= 0x40 && bytes[0] <= 0x7f;
}

export function isValidChannelNumber(n: number): boolean {
  return n >= CHANNEL_NUMBER_MIN && n <= CHANNEL_NUMBER_MAX;
}

/** Parses one ChannelData datagram; `payload` is a view into `bytes`. */
export function parseChannelData(bytes: Uint8Array): ChannelDataResult {
  if (bytes.length < CHANNEL_DATA_HEADER_LENGTH) return { ok: false, reason: "too-short" };
  const channel = (bytes[0] << 8) | bytes[1];
  if (!isValidChannelNumber(channel)) return { ok: false, reason: "bad-channel-number" };
  const length = (bytes[2] << 8) | bytes[3];
  const end = CHANNEL_DATA_HEADER_LENGTH + length;
  if (bytes.length < end) return { ok: false, reason: "truncated" };
  if (bytes.length > ((end + 3) & ~3)) return { ok: false, reason: "trailing-bytes" };
  return { ok: true, channel, payload: bytes.subarray(CHANNEL_DATA_HEADER_LENGTH, end) };
}

/**
 * Writes the ChannelData header into `buf` at `payloadOffset - 4` for a payload of `payloadLength`
 * bytes already at `payloadOffset`, and returns the offset where the datagram starts (or -1 if
 * there is no room in front, the channel is invalid, or the payload is too long). No padding: over
 * UDP it is optional and only costs bytes.
 */
export function writeChannelDataHeader(buf: Uint8Array, payloadOffset: number, payloadLength: number, channel: number): number {
  const start = payloadOffset - CHANNEL_DATA_HEADER_LENGTH;
  if (start < 0 || !isValidChannelNumber(channel) || payloadLength > 0xffff || payloadOffset + payloadLength > buf.length) return -1;
  buf[start] = channel >> 8;
  buf[start + 1] = channel & 0xff;
  buf[start + 2] = payloadLength >> 8;
  buf[start + 3] = payloadLength & 0xff;
  return start;
}

/** Copies `payload` into `out` behind a header; returns the datagram view, or null if it does not fit. */
export function encodeChannelData(channel: number, payload: Uint8Array, out: Uint8Array): Uint8Array | null {
  const total = CHANNEL_DATA_HEADER_LENGTH + payload.length;
  if (out.length < total || !isValidChannelNumber(channel) || payload.length > 0xffff) return null;
  out.set(payload, CHANNEL_DATA_HEADER_LENGTH);
  writeChannelDataHeader(out, CHANNEL_DATA_HEADER_LENGTH, payload.length, channel);
  return out.subarray(0, total);
}
