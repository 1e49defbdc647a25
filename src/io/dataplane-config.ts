/** What the main thread sends the data-plane Worker once, at start. Plain data only. */
import type { Endpoint } from "./sockaddr.ts";

export interface UdpConfig {
  /** "ffi": libc socket with recvmmsg/sendmmsg/GSO (default); "bun": Bun.udpSocket. */
  transport: "ffi" | "bun";
  bind: Endpoint;
  /** Bun transport only: connect to this peer (connected `sendMany`). */
  connect?: Endpoint;
  fwmark?: number;
  gso?: boolean;
  bufferBytes?: number;
}

export type HandlerConfig = { kind: "forward"; peer: Endpoint } | { kind: "icmp-echo" };

export interface DataplaneConfig {
  /** The TUN fd, opened (non-blocking) by the main thread: Workers share the process's fds. */
  tunFd: number;
  udp: UdpConfig;
  handler: HandlerConfig;
  /** LoopStats buffer. */
  stats: SharedArrayBuffer;
  /** Int32[1]; set to 1 to stop the loop. */
  stop: SharedArrayBuffer;
  idleMs?: number;
}

export type DataplaneEvent =
  | { type: "ready"; localPort: number; transport: string; gso: boolean }
  | { type: "error"; message: string }
  | { type: "stopped" };
