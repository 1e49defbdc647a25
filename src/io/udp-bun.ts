/**
 * The UdpTransport over Bun's own `Bun.udpSocket`: a connected `sendMany` becomes one
 * `sendmmsg`, and Bun receives with `recvmmsg` and calls back per datagram on the event loop.
 *
 * Bun gives no fd, so SO_MARK and poll() need the socket's fd found another way: the candidate
 * fds in /proc/self/fd whose `getsockname()` is this socket's bound port and family (unique per
 * process). With that fd, `setsockopt(SO_MARK)` works on Bun's socket, and the packet loop can
 * `poll()` it to sleep until either the TUN or the socket is readable.
 *
 * Receive costs a copy from Bun's buffer into a pending batch and another into the caller's
 * batch; bench/tun.ts compares it with FfiUdpSocket, which copies nothing.
 */
import { readdirSync, readlinkSync } from "node:fs";
import { AF_INET, AF_INET6, libc, pinned, SO_MARK, SOL_SOCKET, errno, sysError } from "../../ffi/libc.ts";
import { ACTION_TO_NET, PacketBatch, SOCKADDR_SLOT } from "./packet-batch.ts";
import { decodeSockaddr, encodeSockaddr, type Endpoint } from "./sockaddr.ts";
import type { UdpCounters, UdpTransport } from "./udp-transport.ts";

/** The part of Bun's connected and unconnected UDP socket types this transport uses. */
interface BunSocket {
  readonly port: number;
  readonly address: { family: string };
  sendMany(packets: readonly unknown[]): number;
  close(): void;
}

const SO_TYPE = 3;
const SOCK_DGRAM = 2;

export interface BunUdpOptions {
  bind: Endpoint;
  /** A connected socket sends with `sendMany([buf…])` (fastest in bun-lab §4); others to any peer. */
  connect?: Endpoint;
  fwmark?: number;
  /** Datagrams held between event-loop turns before further ones are dropped (counted). */
  pendingCapacity?: number;
}

export class BunUdpTransport implements UdpTransport, UdpCounters {
  readonly kind = "bun" as const;
  readonly family: number;
  rxPackets = 0;
  txPackets = 0;
  txGsoSegments = 0;
  txDrops = 0;
  rxDrops = 0;
  /** Asynchronous socket errors Bun reported (ECONNREFUSED from ICMP unreachable, …). */
  socketErrors = 0;
  private readonly pending: PacketBatch;
  private readonly sendList: (Uint8Array | number | string)[] = [];
  /** Encoded sockaddr (port 0) per source address text: sources repeat, parsing per packet would allocate. */
  private readonly addrCache = new Map<string, Uint8Array>();

  private constructor(
    private readonly socket: BunSocket,
    readonly pollFd: number,
    private readonly connected: boolean,
    pendingCapacity: number,
  ) {
    this.family = socket.address.family === "IPv6" ? AF_INET6 : AF_INET;
    this.pending = new PacketBatch(pendingCapacity);
  }

  static async open(opts: BunUdpOptions): Promise<BunUdpTransport> {
    let self: BunUdpTransport | null = null;
    const onData = (_s: unknown, data: Uint8Array, port: number, address: string) => self?.onDatagram(data, port, address);
    // Without an error handler, an ICMP port-unreachable on a connected socket (the peer not
    // listening yet) surfaces as an uncaught error that ends the Worker.
    const onError = () => self?.onSocketError();
    const base = { hostname: opts.bind.ip, port: opts.bind.port, socket: { data: onData, error: onError } };
    const socket = (
      opts.connect
        ? await Bun.udpSocket({ ...base, connect: { hostname: opts.connect.ip, port: opts.connect.port } })
        : await Bun.udpSocket(base)
    ) as unknown as BunSocket;
    const family = opts.bind.ip.includes(":") ? AF_INET6 : AF_INET;
    const fd = findSocketFd(socket.port, family, (socket as unknown as { fd?: number }).fd);
    self = new BunUdpTransport(socket, fd, opts.connect !== undefined, opts.pendingCapacity ?? 256);
    try {
      if (opts.fwmark !== undefined) self.setMark(opts.fwmark);
    } catch (e) {
      socket.close();
      throw e;
    }
    return self;
  }

  get localPort(): number {
    return this.socket.port;
  }

  setMark(mark: number): void {
    if (this.pollFd < 0) throw sysError(95, "SO_MARK: the fd of Bun's UDP socket was not found");
    const v = pinned(4);
    new DataView(v.buffer).setUint32(0, mark >>> 0, true);
    if (libc.setsockopt(this.pollFd, SOL_SOCKET, SO_MARK, v, 4) !== 0) {
      throw sysError(errno(), `setsockopt SO_MARK 0x${(mark >>> 0).toString(16)} on Bun's UDP socket`);
    }
  }

  encodeAddress(ep: Endpoint, out: Uint8Array, off: number): number {
    return encodeSockaddr(ep, this.family, out, off);
  }

  sendBatch(batch: PacketBatch, action: number = ACTION_TO_NET): number {
    const list = this.sendList;
    list.length = 0;
    let n = 0;
    for (let i = 0; i < batch.count; i++) {
      if (batch.action[i] !== action) continue;
      const s = batch.start(i);
      list.push(batch.data.subarray(s, s + batch.len[i]!));
      if (!this.connected) {
        const ep = decodeSockaddr(batch.addr, i * SOCKADDR_SLOT);
        if (!ep) {
          list.pop();
          this.txDrops++;
          continue;
        }
        list.push(ep.port, ep.ip);
      }
      n++;
    }
    if (n === 0) return 0;
    const sent = this.socket.sendMany(list as never);
    const ok = typeof sent === "number" ? sent : n;
    this.txPackets += ok;
    this.txDrops += n - ok;
    return ok;
  }

  recvBatch(batch: PacketBatch): number {
    const p = this.pending;
    let n = 0;
    while (n < p.count && batch.count < batch.capacity) {
      const i = batch.count++;
      const len = p.len[n]!;
      batch.off[i] = batch.headroom;
      batch.len[i] = len;
      batch.action[i] = 0;
      const src = p.start(n);
      batch.slots[i]!.set(p.data.subarray(src, src + len), batch.headroom);
      batch.addr.set(p.addr.subarray(n * SOCKADDR_SLOT, (n + 1) * SOCKADDR_SLOT), i * SOCKADDR_SLOT);
      n++;
    }
    if (n === p.count) p.count = 0;
    else {
      // Keep the rest in order for the next call.
      for (let k = n; k < p.count; k++) {
        const to = k - n;
        p.slots[to]!.set(p.slots[k]!);
        p.len[to] = p.len[k]!;
        p.off[to] = p.off[k]!;
        p.addr.copyWithin(to * SOCKADDR_SLOT, k * SOCKADDR_SLOT, (k + 1) * SOCKADDR_SLOT);
      }
      p.count -= n;
    }
    return n;
  }

  /** Datagrams waiting for `recvBatch` (the loop checks this before sleeping). */
  get pendingCount(): number {
    return this.pending.count;
  }

  close(): void {
    this.socket.close();
  }

  private onSocketError(): void {
    this.socketErrors++;
  }

  private onDatagram(data: Uint8Array, port: number, address: string): void {
    const p = this.pending;
    if (p.count >= p.capacity || data.length > p.payloadRoom) {
      this.rxDrops++;
      return;
    }
    const i = p.count++;
    p.off[i] = p.headroom;
    p.len[i] = data.length;
    p.slots[i]!.set(data, p.headroom);
    let sa = this.addrCache.get(address);
    if (sa === undefined) {
      if (this.addrCache.size > 1024) this.addrCache.clear();
      sa = new Uint8Array(SOCKADDR_SLOT);
      encodeSockaddr({ ip: address, port: 0 }, this.family, sa, 0);
      this.addrCache.set(address, sa);
    }
    const o = i * SOCKADDR_SLOT;
    p.addr.set(sa, o);
    p.addr[o + 2] = port >> 8;
    p.addr[o + 3] = port & 0xff;
    this.rxPackets++;
  }
}

/**
 * The fd of a UDP socket this process bound to `port` (family `family`), or -1. `hint` is tried
 * first (Bun happens to carry one), always verified with getsockname.
 */
export function findSocketFd(port: number, family: number, hint?: number): number {
  const sa = pinned(SOCKADDR_SLOT);
  const len = pinned(4);
  const ty = pinned(4);
  const matches = (fd: number) => {
    new DataView(len.buffer).setUint32(0, SOCKADDR_SLOT, true);
    if (libc.getsockname(fd, sa, len) !== 0) return false;
    new DataView(len.buffer).setUint32(0, 4, true);
    if (libc.getsockopt(fd, SOL_SOCKET, SO_TYPE, ty, len) !== 0) return false;
    const ep = decodeSockaddr(sa);
    return ep !== null && ep.port === port && new DataView(sa.buffer).getUint16(0, true) === family && new DataView(ty.buffer).getInt32(0, true) === SOCK_DGRAM;
  };
  if (typeof hint === "number" && hint >= 0 && matches(hint)) return hint;
  for (const name of readdirSync("/proc/self/fd")) {
    const fd = Number(name);
    try {
      if (!readlinkSync(`/proc/self/fd/${name}`).startsWith("socket:")) continue;
    } catch {
      continue;
    }
    if (matches(fd)) return fd;
  }
  return -1;
}
