// Independent, deliberately naive reference computations for the tests: written from the RFCs
// without sharing code with src/ip, so a bug in one is unlikely to hide in the other.

/** RFC 1071 checksum: sum 16-bit words in a 32-bit accumulator, fold carries, complement. */
export function refChecksum(bytes: number[] | Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    const hi = bytes[i];
    const lo = i + 1 < bytes.length ? bytes[i + 1] : 0;
    sum += hi * 256 + lo;
  }
  while (sum > 0xffff) sum = (sum % 65536) + Math.floor(sum / 65536);
  return 0xffff - sum;
}

/** Builds the pseudo-header + transport bytes (with the checksum field zeroed) as a plain array. */
export function refTransportChecksum(pkt: Uint8Array, checksumFieldInL4: number, icmpv4 = false): number {
  const version = pkt[0] >> 4;
  let l4Start: number;
  let proto: number;
  let src: number[];
  let dst: number[];
  if (version === 4) {
    l4Start = (pkt[0] & 15) * 4;
    proto = pkt[9];
    src = Array.from(pkt.slice(12, 16));
    dst = Array.from(pkt.slice(16, 20));
  } else {
    l4Start = 40;
    proto = pkt[6];
    src = Array.from(pkt.slice(8, 24));
    dst = Array.from(pkt.slice(24, 40));
  }
  const total = version === 4 ? pkt[2] * 256 + pkt[3] : 40 + pkt[4] * 256 + pkt[5];
  const l4 = Array.from(pkt.slice(l4Start, total));
  l4[checksumFieldInL4] = 0;
  l4[checksumFieldInL4 + 1] = 0;
  const len = l4.length;
  let pseudo: number[];
  if (icmpv4) pseudo = [];
  else if (version === 4) pseudo = [...src, ...dst, 0, proto, len >> 8, len & 255];
  else pseudo = [...src, ...dst, 0, 0, len >> 8, len & 255, 0, 0, 0, proto];
  return refChecksum([...pseudo, ...l4]);
}

export function hex(s: string): Uint8Array {
  const clean = s.replace(/#[^\n]*/g, "").replace(/[^0-9a-fA-F]/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
