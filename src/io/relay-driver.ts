import type { udp } from "bun";
import { SysError } from "../../ffi/errno.ts";
import { logger } from "../log/index.ts";
import { CHANNEL_DATA_HEADER_LENGTH } from "../relay/constants.ts";
import type { RelayServer } from "../relay/server.ts";
import { FfiRelayPath, type RelayFfiStats } from "./relay-ffi-path.ts";

/**
 * Binds a sans-IO `RelayServer` to Bun UDP sockets: one listening socket per address family on
 * the STUN/TURN port, plus one socket per family on each allocation's relay port.
 *
 * The data path never allocates in steady state: payloads are copied (native memcpy via
 * Buffer#copy) into a preallocated ring of slots, each with a cached view of the last length it
 * carried, and queued per socket; the queues go out with one `sendMany` (one sendmmsg) per socket
 * when the event loop finishes the current batch of received datagrams (setImmediate: Bun delivers
 * a whole recvmmsg batch before it runs immediates, so a flush carries the batch), or at 64.
 *
 * By default (`io: "ffi"`, FIREZONE_RELAY_IO unset or "ffi") the sockets are libc ones instead
 * (relay-ffi-path.ts): recvmmsg batches routed in place, sendmmsg with UDP GSO runs, UDP GRO
 * buffers split in place, readiness from an epoll Worker; `bun bench/relay.ts` measured it at
 * 2.5–4× coturn where Bun's sockets reach 1.0–1.5× (1.2 µs of relay CPU per packet against 4.7).
 * FIREZONE_RELAY_IO=bun selects the Bun path above, which is also the fallback when the FFI path
 * cannot start unless "ffi" was asked for explicitly.
 */
export interface RelayDriverOptions {
  server: RelayServer;
  /** Local addresses to bind, at most one per family (IPv6 "::" also takes IPv4 on Linux, see README). */
  listenIpv4?: string;
  listenIpv6?: string;
  port: number;
  /** Wall clock and monotonic clock; injectable for tests of the driver itself. */
  unixNow?: () => number;
  monotonicNow?: () => number;
  /** Socket layer: libc sockets over bun:ffi or Bun's UDP sockets (default: FIREZONE_RELAY_IO, else ffi with bun as fallback). */
  io?: RelayIoMode;
  /** ffi only: try UDP GSO (default true). */
  gso?: boolean;
  /** ffi only: ask for UDP GRO (default true unless FIREZONE_RELAY_GRO=0). */
  gro?: boolean;
}

export type RelayIoMode = "bun" | "ffi";

/** The socket layer FIREZONE_RELAY_IO asks for (undefined: not set); anything but "bun" or "ffi" is an error. */
export function relayIoFromEnv(env: Record<string, string | undefined> = process.env): RelayIoMode | undefined {
  const v = env.FIREZONE_RELAY_IO;
  if (v === undefined || v === "") return undefined;
  if (v === "bun" || v === "ffi") return v;
  throw new Error(`FIREZONE_RELAY_IO must be "bun" or "ffi", not "${v}"`);
}

type Sock = udp.Socket<"buffer">;

const log = logger("relay::driver");

/** Packets queued per socket before a flush is forced. */
const BATCH = 64;
/** Slots in the payload ring; a full ring flushes every queue before reuse. */
const RING_SLOTS = 1024;
/** Slot size: room for a 1500-byte datagram plus the ChannelData header; larger ones are copied fresh. */
const SLOT_BYTES = 2048;
/** How often the wall clock is re-read for credential expiry. */
const CLOCK_SYNC_MS = 10_000;
/** Counters go to the log at info this often (every clock sync at debug). */
const STATS_EVERY_SYNCS = 6;

/** Datagrams waiting for one socket, in sendMany's flat [data, port, address, ...] layout. */
class SendQueue {
  readonly items: (Uint8Array | number | string)[] = [];
  count = 0;
  constructor(readonly socket: Sock) {}
}

/** The sockets of one allocation's relay port (one per relayed family). */
class RelayPort {
  v4: Sock | null = null;
  v6: Sock | null = null;
  q4: SendQueue | null = null;
  q6: SendQueue | null = null;
  freed = false;
  constructor(readonly port: number) {}
}

export class RelayDriver {
  private readonly server: RelayServer;
  private readonly unixNow: () => number;
  private readonly now: () => number;
  private listen4: Sock | null = null;
  private listen6: Sock | null = null;
  private q4: SendQueue | null = null;
  private q6: SendQueue | null = null;
  private readonly relayPorts: (RelayPort | undefined)[] = new Array(65536).fill(undefined);
  /** Queues holding packets, flushed together. */
  private readonly dirty: SendQueue[] = [];
  private flushScheduled = false;
  private readonly ring: Uint8Array[] = [];
  private readonly ringViews: Uint8Array[] = [];
  private ringNext = 0;
  private ringUsed = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  private clockSyncedAt = -Infinity;
  private syncs = 0;
  private stopped = false;
  private readonly opening = new Set<Promise<unknown>>();
  private ffi: FfiRelayPath | null = null;
  private ffiPort = 0;

  private constructor(private readonly options: RelayDriverOptions) {
    this.server = options.server;
    this.unixNow = options.unixNow ?? Date.now;
    this.now = options.monotonicNow ?? (() => performance.now());
    for (let i = 0; i < RING_SLOTS; i++) {
      const slot = new Uint8Array(new ArrayBuffer(SLOT_BYTES));
      this.ring.push(slot);
      this.ringViews.push(slot);
    }
  }

  /** Opens the listening sockets; throws (with the OS reason) if one cannot be bound. */
  static async start(options: RelayDriverOptions): Promise<RelayDriver> {
    if (!options.listenIpv4 && !options.listenIpv6) throw new Error("nothing to listen on");
    const d = new RelayDriver(options);
    d.server.setUnixTime(d.unixNow(), d.now());
    d.clockSyncedAt = d.now();
    const asked = options.io ?? relayIoFromEnv();
    if (asked !== "bun") {
      try {
        await d.startFfi();
        return d;
      } catch (e) {
        // A port the OS refuses is the same failure on either path; report it as such.
        if (asked === "ffi" || isBindError(e)) throw e;
        log.warn("FFI socket path unavailable; using Bun's UDP sockets", { error: String(e) });
      }
    }
    try {
      if (options.listenIpv4) {
        d.listen4 = await Bun.udpSocket({ hostname: options.listenIpv4, port: options.port, socket: { data: d.onClient, error: d.onError } });
        d.q4 = new SendQueue(d.listen4);
      }
      if (options.listenIpv6) {
        // With an IPv4 socket on a port 0 request, put IPv6 on the same port the kernel chose.
        const port = options.port === 0 && d.listen4 ? d.listen4.port : options.port;
        d.listen6 = await Bun.udpSocket({ hostname: options.listenIpv6, port, socket: { data: d.onClient, error: d.onError } });
        d.q6 = new SendQueue(d.listen6);
      }
    } catch (e) {
      d.listen4?.close();
      d.listen6?.close();
      throw e;
    }
    d.schedule();
    log.info("relay listening", { ipv4: d.listen4 ? `${options.listenIpv4}:${d.port}` : null, ipv6: d.listen6 ? `[${options.listenIpv6}]:${d.port}` : null });
    return d;
  }

  private async startFfi(): Promise<void> {
    const o = this.options;
    const ffi = new FfiRelayPath({ server: this.server, now: this.now, afterControl: () => this.afterControl(), gso: o.gso, gro: o.gro ?? process.env.FIREZONE_RELAY_GRO !== "0" });
    try {
      if (o.listenIpv4) this.ffiPort = ffi.listen(o.listenIpv4, o.port);
      if (o.listenIpv6) this.ffiPort = ffi.listen(o.listenIpv6, o.port === 0 && this.ffiPort !== 0 ? this.ffiPort : o.port);
    } catch (e) {
      await ffi.close();
      throw e;
    }
    this.ffi = ffi;
    this.schedule();
    log.info("relay listening", { io: "ffi", ipv4: o.listenIpv4 ? `${o.listenIpv4}:${this.ffiPort}` : null, ipv6: o.listenIpv6 ? `[${o.listenIpv6}]:${this.ffiPort}` : null });
  }

  /** The STUN/TURN port actually bound (useful with port 0). */
  get port(): number {
    if (this.ffi !== null) return this.ffiPort;
    return (this.listen4 ?? this.listen6)!.port;
  }

  /** Which socket layer carries the data. */
  get io(): RelayIoMode {
    return this.ffi !== null ? "ffi" : "bun";
  }

  /** ffi only: GSO and GRO use, readiness wake-ups, whether GSO is still on. */
  ffiStats(): RelayFfiStats | null {
    return this.ffi?.stats() ?? null;
  }

  /** Frees every allocation, closes every socket, cancels the timer. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.flush();
    this.server.shutdown();
    this.drainEvents();
    await Promise.allSettled([...this.opening]);
    this.drainEvents();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.listen4?.close();
    this.listen6?.close();
    await this.ffi?.close();
    log.info("relay stopped", { ...summary(this.server) });
  }

  // ---- receive paths (arrow functions: one closure, bound once) ---------------------------------

  private readonly onClient = (_socket: Sock, data: Buffer, port: number, address: string): void => {
    const server = this.server;
    const channel = server.handleClientPacket(address, port, data, this.now());
    if (channel !== null) {
      const owner = server.channelOwner;
      const rp = this.relayPorts[owner.port];
      const queue = rp === undefined ? null : channel.peerFamily === 4 ? rp.q4 : rp.q6;
      if (queue === null) {
        server.counters.drops["relay-port-not-open"]++;
        return;
      }
      const len = server.routedLength;
      const off = server.routedOffset;
      const view = this.slot(len);
      data.copy(view, 0, off, off + len);
      this.enqueue(queue, view, channel.peerPort, channel.peerIp);
      return;
    }
    this.afterControl();
  };

  /**
   * Socket errors are reported asynchronously, mostly ECONNREFUSED from an ICMP port unreachable
   * for an earlier send to a client or peer that has gone. They must never end the process.
   */
  private readonly onError = (...args: unknown[]): void => {
    this.server.counters.socketErrors++;
    // Bun passes (error) although its types say (socket, error); take whichever is the Error.
    const error = args.find((a) => a instanceof Error) as Error | undefined;
    log.debug("socket error", { error: error?.message ?? "unknown" });
  };

  private onPeer(rp: RelayPort): (socket: Sock, data: Buffer, port: number, address: string) => void {
    return (_socket, data, port, address) => {
      const server = this.server;
      const len = data.length;
      const channel = server.handlePeerPacket(rp.port, address, port, len);
      if (channel === null) return;
      const owner = server.channelOwner;
      const queue = owner.clientFamily === 4 ? this.q4 : this.q6;
      if (queue === null) {
        server.counters.drops["send-failed"]++;
        return;
      }
      const view = this.slot(len + CHANNEL_DATA_HEADER_LENGTH);
      view[0] = channel.number >> 8;
      view[1] = channel.number & 0xff;
      view[2] = len >> 8;
      view[3] = len & 0xff;
      data.copy(view, CHANNEL_DATA_HEADER_LENGTH, 0, len);
      this.enqueue(queue, view, owner.clientPort, owner.clientIp);
    };
  }

  // ---- batching ------------------------------------------------------------------------------------

  /** A view of exactly `len` bytes in the next ring slot (reused view when the length repeats). */
  private slot(len: number): Uint8Array {
    if (len > SLOT_BYTES) return new Uint8Array(len);
    if (this.ringUsed === RING_SLOTS) this.flush();
    const i = this.ringNext;
    this.ringNext = i + 1 === RING_SLOTS ? 0 : i + 1;
    this.ringUsed++;
    let view = this.ringViews[i]!;
    if (view.length !== len) {
      view = this.ring[i]!.subarray(0, len);
      this.ringViews[i] = view;
    }
    return view;
  }

  private enqueue(queue: SendQueue, view: Uint8Array, port: number, address: string): void {
    if (queue.count === 0) this.dirty.push(queue);
    queue.items.push(view, port, address);
    queue.count++;
    if (queue.count >= BATCH) {
      this.sendQueue(queue);
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const dirty = this.dirty;
    for (let i = 0; i < dirty.length; i++) {
      const q = dirty[i]!;
      if (q.count > 0) this.sendQueue(q);
    }
    dirty.length = 0;
    this.ringUsed = 0;
  };

  private sendQueue(q: SendQueue): void {
    const n = q.count;
    let sent = 0;
    try {
      sent = q.socket.closed ? 0 : q.socket.sendMany(q.items);
    } catch (e) {
      log.debug("sendMany failed", { error: String(e) });
    }
    if (sent < n) this.server.counters.drops["send-failed"] += n - sent;
    q.items.length = 0;
    q.count = 0;
  }

  // ---- control -------------------------------------------------------------------------------------

  private afterControl(): void {
    for (let t = this.server.pollTransmit(); t !== undefined; t = this.server.pollTransmit()) {
      if (this.ffi !== null) {
        if (!this.ffi.sendControl(t.bytes, t.to.ip, t.to.port)) this.server.counters.drops["send-failed"]++;
        continue;
      }
      const socket = t.to.ip.includes(":") ? this.listen6 : this.listen4;
      if (socket === null || !socket.send(t.bytes, t.to.port, t.to.ip)) this.server.counters.drops["send-failed"]++;
    }
    this.drainEvents();
    this.schedule();
  }

  private drainEvents(): void {
    for (let e = this.server.pollEvent(); e !== undefined; e = this.server.pollEvent()) {
      if (e.type === "allocation-created") this.openRelayPort(e.port, e.ipv4, e.ipv6);
      else this.closeRelayPort(e.port);
    }
  }

  private openRelayPort(port: number, ipv4: boolean, ipv6: boolean): void {
    if (this.stopped) return;
    if (this.ffi !== null) return this.openFfiRelayPort(this.ffi, port, ipv4, ipv6);
    const rp = new RelayPort(port);
    this.relayPorts[port] = rp;
    const handler = { data: this.onPeer(rp), error: this.onError };
    const open = async () => {
      try {
        if (ipv4) {
          if (!this.options.listenIpv4) throw new Error("no IPv4 listen address for an IPv4 relayed address");
          const s = await Bun.udpSocket({ hostname: this.options.listenIpv4, port, socket: handler });
          if (rp.freed) return s.close();
          rp.v4 = s;
          rp.q4 = new SendQueue(s);
        }
        if (ipv6) {
          if (!this.options.listenIpv6) throw new Error("no IPv6 listen address for an IPv6 relayed address");
          const s = await Bun.udpSocket({ hostname: this.options.listenIpv6, port, socket: handler });
          if (rp.freed) return s.close();
          rp.v6 = s;
          rp.q6 = new SendQueue(s);
        }
      } catch (e) {
        log.warn("cannot open relay port", { port, error: String(e) });
        if (!rp.freed) {
          this.server.allocationFailed(port);
          this.afterControl();
        }
        this.closeSockets(rp);
      }
    };
    const p = open();
    this.opening.add(p);
    void p.finally(() => this.opening.delete(p));
  }

  private openFfiRelayPort(ffi: FfiRelayPath, port: number, ipv4: boolean, ipv6: boolean): void {
    const o = this.options;
    try {
      if (ipv4 && !o.listenIpv4) throw new Error("no IPv4 listen address for an IPv4 relayed address");
      if (ipv6 && !o.listenIpv6) throw new Error("no IPv6 listen address for an IPv6 relayed address");
      ffi.openRelayPort(port, ipv4 ? o.listenIpv4! : null, ipv6 ? o.listenIpv6! : null);
    } catch (e) {
      log.warn("cannot open relay port", { port, error: String(e) });
      // Not from inside the event loop that announced the allocation: free it on the next turn.
      queueMicrotask(() => {
        if (this.stopped) return;
        this.server.allocationFailed(port);
        this.afterControl();
      });
    }
  }

  private closeRelayPort(port: number): void {
    if (this.ffi !== null) return this.ffi.closeRelayPort(port);
    const rp = this.relayPorts[port];
    if (rp === undefined) return;
    rp.freed = true;
    this.relayPorts[port] = undefined;
    // Anything still queued for these sockets goes out first.
    if ((rp.q4?.count ?? 0) > 0 || (rp.q6?.count ?? 0) > 0) this.flush();
    this.closeSockets(rp);
  }

  private closeSockets(rp: RelayPort): void {
    rp.v4?.close();
    rp.v6?.close();
    rp.v4 = rp.v6 = null;
    rp.q4 = rp.q6 = null;
  }

  /** Arms one timer for the server's next deadline or the next clock sync, whichever is first. */
  private schedule(): void {
    if (this.stopped) return;
    const next = this.server.pollTimeout();
    const at = Math.min(next?.at ?? Infinity, this.clockSyncedAt + CLOCK_SYNC_MS);
    if (this.timer !== null && at >= this.timerAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(0, at - this.now()));
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerAt = Infinity;
    const now = this.now();
    if (now >= this.clockSyncedAt + CLOCK_SYNC_MS) {
      this.server.setUnixTime(this.unixNow(), now);
      this.clockSyncedAt = now;
      if (++this.syncs % STATS_EVERY_SYNCS === 0) log.info("relay stats", summary(this.server));
      else log.debug("relay stats", summary(this.server));
    }
    this.server.handleTimeout(now);
    this.afterControl();
  };
}

function isBindError(e: unknown): boolean {
  return e instanceof SysError && e.context.startsWith("bind");
}

function summary(server: RelayServer): Record<string, unknown> {
  const s = server.stats();
  const c = s.counters;
  const drops: Record<string, number> = {};
  for (const [k, v] of Object.entries(c.drops)) if (v > 0) drops[k] = v;
  return {
    socket_errors: c.socketErrors,
    allocations: s.allocations,
    channels: s.boundChannels,
    client_to_peer_packets: c.clientToPeerPackets,
    client_to_peer_bytes: c.clientToPeerBytes,
    peer_to_client_packets: c.peerToClientPackets,
    peer_to_client_bytes: c.peerToClientBytes,
    drops,
  };
}
