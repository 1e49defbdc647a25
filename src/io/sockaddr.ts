/**
 * `struct sockaddr_in` / `sockaddr_in6` bytes ⇄ `{ ip, port }` (netinet/in.h). Family and
 * scope id are host order, the port is network order, the address bytes are network order.
 * Encoding happens at configuration time (peer endpoints); the hot path copies bytes.
 */
import { AF_INET, AF_INET6 } from "../../ffi/libc.ts";
import { formatIp, parseIp } from "../ip/index.ts";

export interface Endpoint {
  ip: string;
  port: number;
}

export const SOCKADDR_IN_LEN = 16;
export const SOCKADDR_IN6_LEN = 28;

/** Writes `ep` into `out` at `off` for a socket of `family` (IPv4 on an AF_INET6 socket is v4-mapped). */
export function encodeSockaddr(ep: Endpoint, family: number, out: Uint8Array, off = 0): number {
  const bytes = parseIp(ep.ip);
  if (!bytes) throw new RangeError(`invalid IP address "${ep.ip}"`);
  if (!Number.isInteger(ep.port) || ep.port < 0 || ep.port > 65535) throw new RangeError(`invalid port ${ep.port}`);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (family === AF_INET) {
    if (bytes.length !== 4) throw new RangeError(`IPv6 address ${ep.ip} on an IPv4 socket`);
    out.fill(0, off, off + SOCKADDR_IN_LEN);
    v.setUint16(off, AF_INET, true);
    v.setUint16(off + 2, ep.port, false);
    out.set(bytes, off + 4);
    return SOCKADDR_IN_LEN;
  }
  out.fill(0, off, off + SOCKADDR_IN6_LEN);
  v.setUint16(off, AF_INET6, true);
  v.setUint16(off + 2, ep.port, false);
  if (bytes.length === 4) {
    out[off + 18] = 0xff;
    out[off + 19] = 0xff;
    out.set(bytes, off + 20);
  } else {
    out.set(bytes, off + 8);
  }
  return SOCKADDR_IN6_LEN;
}

/** Reads a sockaddr written by the kernel; v4-mapped IPv6 comes back as plain IPv4. */
export function decodeSockaddr(buf: Uint8Array, off = 0): Endpoint | null {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const family = v.getUint16(off, true);
  const port = v.getUint16(off + 2, false);
  if (family === AF_INET) return { ip: formatIp(buf.subarray(off + 4, off + 8)), port };
  if (family !== AF_INET6) return null;
  const a = buf.subarray(off + 8, off + 24);
  const mapped = a.subarray(0, 10).every((b) => b === 0) && a[10] === 0xff && a[11] === 0xff;
  return { ip: formatIp(mapped ? a.subarray(12) : a), port };
}

export function sockaddrLen(family: number): number {
  return family === AF_INET ? SOCKADDR_IN_LEN : SOCKADDR_IN6_LEN;
}
