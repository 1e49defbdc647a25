/**
 * The network side of the packet loop: UDP datagrams in and out, in batches. Two
 * implementations, chosen by benchmark (bench/tun.ts) and interchangeable:
 * - `FfiUdpSocket` (udp-ffi.ts): libc socket, `recvmmsg`/`sendmmsg`, UDP GSO, SO_MARK; pollable fd.
 * - `BunUdpTransport` (udp-bun.ts): `Bun.udpSocket`, connected `sendMany` (one `sendmmsg`),
 *   receive through Bun's own `recvmmsg` callbacks on the event loop.
 */
import type { PacketBatch } from "./packet-batch.ts";
import type { Endpoint } from "./sockaddr.ts";

export interface UdpTransport {
  readonly kind: "ffi" | "bun";
  /** Address family of the socket (AF_INET or AF_INET6); sockaddrs in batches use it. */
  readonly family: number;
  readonly localPort: number;
  /** An fd to `poll()` for readability, or -1 when receive is driven by the event loop. */
  readonly pollFd: number;
  /**
   * Sends every slot marked ACTION_TO_NET to the address in its sockaddr slot; returns the
   * number of datagrams handed to the kernel (the rest are counted drops).
   */
  sendBatch(batch: PacketBatch, action?: number): number;
  /** Appends received datagrams (source in the sockaddr slot) to `batch`; returns how many. */
  recvBatch(batch: PacketBatch): number;
  /** Sets SO_MARK so our own traffic bypasses the tunnel's policy rules. */
  setMark(mark: number): void;
  /** Writes `ep` as a sockaddr for this socket (for filling batches' destination slots). */
  encodeAddress(ep: Endpoint, out: Uint8Array, off: number): number;
  close(): void;
}

/** Counters both transports keep, published by the loop. */
export interface UdpCounters {
  rxPackets: number;
  txPackets: number;
  /** Datagrams sent as part of a GSO super-datagram. */
  txGsoSegments: number;
  txDrops: number;
}
