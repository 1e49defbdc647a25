/**
 * A minimal IPv4 packet (20-byte header, protocol UDP, TTL 64, no checksum) around `payload`:
 * enough for tunnels and nodes that only route on the header, not for a kernel.
 */
export function ipv4Packet(payload: Uint8Array | string, src: readonly number[], dst: readonly number[]): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const pkt = new Uint8Array(20 + body.length);
  pkt[0] = 0x45;
  pkt[2] = pkt.length >> 8;
  pkt[3] = pkt.length & 0xff;
  pkt[8] = 64;
  pkt[9] = 17;
  pkt.set(src, 12);
  pkt.set(dst, 16);
  pkt.set(body, 20);
  return pkt;
}
