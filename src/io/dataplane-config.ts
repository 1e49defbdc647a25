/** What the main thread sends the data-plane Worker once, at start. Plain data only. */
import type { Severity } from "../log/index.ts";
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
  /** Log filter for the Worker (FIREZONE_LOG syntax); its records are forwarded to the main thread. */
  logFilter?: string;
}

export type DataplaneEvent =
  | { type: "ready"; localPort: number; transport: string; gso: boolean }
  | { type: "error"; message: string }
  | { type: "stopped" }
  /** A log record from the Worker (only what passes its filter: rare by construction). */
  | { type: "log"; severity: Severity; target: string; message: string; fields: Record<string, unknown> };

/** A message from the main thread to a running Worker, handed to the handler's `control`. */
export interface DataplaneControl {
  type: "control";
  body: unknown;
}
