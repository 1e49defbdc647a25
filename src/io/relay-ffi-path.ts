/**
 * The relay's data path over libc sockets (FIREZONE_RELAY_IO=ffi): `recvmmsg` up to 64 datagrams
 * into one pinned PacketBatch, route each through the sans-IO RelayServer in place, and send the
 * batch on with `sendmmsg`, where runs to one peer of one size become UDP GSO super-datagrams
 * (FfiUdpSocket; it falls back to plain datagrams when the kernel refuses GSO). The sockets ask for
 * UDP GRO: a burst from one client or peer can arrive as one buffer of same-size datagrams, which
 * is split (one memmove per datagram inside the pinned batch) and routed datagram by datagram.
 *
 * Nothing is copied and nothing is allocated per packet in steady state:
 * - client → peer: the payload stays where it landed; the slot's offset moves past the 4-byte
 *   ChannelData header and its address becomes the peer's (cached sockaddr per Channel);
 * - peer → client: the datagram lands behind headroom; the ChannelData header is written in front;
 * - source addresses become the IP strings the core keys on through a cache (per IPv4 address,
 *   per IPv6 address with a hash and a byte check);
 * - ChannelData is handed to the core as a view of the whole slot once the driver has checked that
 *   the datagram holds the length it declares (the core only reads the header of a data packet).
 *
 * Readiness comes from relay-readiness.ts; between drain rounds the event loop runs (setImmediate),
 * so timers and control traffic are served while data flows.
 */
import { AF_INET, AF_INET6 } from "../../ffi/libc.ts";
import { logger } from "../log/index.ts";
import { CHANNEL_DATA_HEADER_LENGTH } from "../relay/constants.ts";
import type { RelayServer } from "../relay/server.ts";
import { formatIp } from "../ip/index.ts";
import { ACTION_DROP, PacketBatch, SOCKADDR_SLOT } from "./packet-batch.ts";
import { Readiness } from "./relay-readiness.ts";
import { encodeSockaddr } from "./sockaddr.ts";
import { FfiUdpSocket } from "./udp-ffi.ts";

const log = logger("relay::ffi");

/** Datagrams per recvmmsg (and per routed batch). */
const BATCH = 64;
/** Headroom in front of each datagram: room for the ChannelData header of peer → client data. */
const HEADROOM = 32;
/** Any UDP payload fits behind the headroom, so nothing is ever truncated. */
const SLOT = HEADROOM + 65536;
/** Batches drained from one socket before the others (and the event loop) get a turn. */
const ROUNDS_PER_TURN = 4;
/** Socket buffers (SO_RCVBUFFORCE as root, else capped at rmem_max/wmem_max). */
const SOCKET_BUFFER = 4 << 20;
/** Entries kept in the source-address caches before they start over. */
const ADDRESS_CACHE_MAX = 16384;

/** One socket and what arrives on it. */
class Endpoint {
  /** Send bookkeeping for the batch being routed: action id and datagrams routed to it. */
  epoch = -1;
  action = 0;
  routed = 0;
  constructor(
    readonly socket: FfiUdpSocket,
    /** 0 for the listening socket, else the allocation's relay port. */
    readonly relayPort: number,
  ) {}
}

class RelayPortSockets {
  v4: Endpoint | null = null;
  v6: Endpoint | null = null;
}

export interface RelayFfiStats {
  /** Datagrams sent inside GSO super-datagrams. */
  gsoSegments: number;
  /** Datagrams received inside GRO buffers. */
  groDatagrams: number;
  /** Times the readiness Worker woke this thread. */
  wakeups: number;
  /** Whether any socket still uses GSO (false after the kernel refused it). */
  gsoEnabled: boolean;
}

export interface FfiRelayPathOptions {
  server: RelayServer;
  now: () => number;
  /** Called after a datagram that was not data (STUN) went through the core. */
  afterControl: () => void;
  /** Try UDP GSO (default true); tests turn it off to cover the plain sendmmsg path. */
  gso?: boolean;
  /** Ask for UDP GRO (default true): coalesced same-flow datagrams arrive in one buffer. */
  gro?: boolean;
}

export class FfiRelayPath {
  private readonly server: RelayServer;
  private readonly now: () => number;
  private readonly afterControl: () => void;
  private readonly gso: boolean;
  private readonly gro: boolean;
  private listen4: Endpoint | null = null;
  private listen6: Endpoint | null = null;
  private readonly byFd: (Endpoint | undefined)[] = [];
  private readonly relayPorts: (RelayPortSockets | undefined)[] = new Array(65536).fill(undefined);
  private readonly readiness: Readiness;
  /** Sockets with (maybe) more to read; drained round-robin. */
  private readonly active: Endpoint[] = [];
  private readonly activeNext: Endpoint[] = [];
  private pumpScheduled = false;
  private closed = false;

  /** Slots [0, BATCH) receive; [BATCH, 2·BATCH) hold the datagrams split out of GRO buffers. */
  private readonly rx = new PacketBatch(2 * BATCH, SLOT, HEADROOM);
  private readonly control = new PacketBatch(1, 2048, 0);
  /** Per slot: a view from the datagram's first byte to the slot's end, handed to the core. */
  private readonly slotViews: Uint8Array[] = [];
  /** Endpoints a routed batch goes out on (action id = index + 1). */
  private readonly targets: Endpoint[] = [];
  private epoch = 0;
  private sawControl = false;
  /** Datagrams that arrived inside a GRO buffer. */
  private groDatagrams = 0;

  private readonly sockaddrOf = new WeakMap<object, Uint8Array>();
  private readonly ipv4Names = new Map<number, string>();
  private readonly ipv6Names = new Map<number, { bytes: Uint8Array; ip: string }>();

  constructor(options: FfiRelayPathOptions) {
    this.server = options.server;
    this.now = options.now;
    this.afterControl = options.afterControl;
    this.gso = options.gso ?? true;
    this.gro = options.gro ?? true;
    for (let i = 0; i < 2 * BATCH; i++) this.slotViews.push(this.rx.data.subarray(i * SLOT + HEADROOM, (i + 1) * SLOT));
    this.readiness = new Readiness(this.onReady);
  }

  /** Binds the listening socket of one family; returns the bound port. Throws with the OS reason. */
  listen(ip: string, port: number): number {
    const ep = this.open(ip, port, 0);
    if (ep.socket.family === AF_INET) this.listen4 = ep;
    else this.listen6 = ep;
    this.readiness.arm();
    return ep.socket.localPort;
  }

  /** Opens an allocation's relay sockets; throws (after closing what it opened) if the OS refuses. */
  openRelayPort(port: number, ipv4: string | null, ipv6: string | null): void {
    const rp = new RelayPortSockets();
    try {
      if (ipv4 !== null) rp.v4 = this.open(ipv4, port, port);
      if (ipv6 !== null) rp.v6 = this.open(ipv6, port, port);
    } catch (e) {
      this.closeEndpoint(rp.v4);
      throw e;
    }
    this.relayPorts[port] = rp;
  }

  closeRelayPort(port: number): void {
    const rp = this.relayPorts[port];
    if (rp === undefined) return;
    this.relayPorts[port] = undefined;
    this.closeEndpoint(rp.v4);
    this.closeEndpoint(rp.v6);
  }

  /** A control answer (STUN) from the listening socket of the destination's family. */
  sendControl(bytes: Uint8Array, ip: string, port: number): boolean {
    const ep = ip.includes(":") ? this.listen6 : (this.listen4 ?? this.listen6);
    if (ep === null) return false;
    const b = this.control;
    b.count = 0;
    if (b.push(bytes, 1) < 0) return false;
    try {
      ep.socket.encodeAddress({ ip, port }, b.addr, 0);
    } catch {
      return false;
    }
    return ep.socket.sendBatch(b, 1) === 1;
  }

  /** GSO and GRO use, readiness wake-ups (for logs, tests and the bench). */
  stats(): RelayFfiStats {
    let gsoSegments = 0;
    let gsoEnabled = false;
    for (const ep of this.byFd) {
      if (ep === undefined) continue;
      gsoSegments += ep.socket.txGsoSegments;
      gsoEnabled ||= ep.socket.gsoEnabled;
    }
    return { gsoSegments, groDatagrams: this.groDatagrams, wakeups: this.readiness.wakeups, gsoEnabled };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.readiness.close();
    for (let port = 0; port < this.relayPorts.length; port++) if (this.relayPorts[port] !== undefined) this.closeRelayPort(port);
    this.closeEndpoint(this.listen4);
    this.closeEndpoint(this.listen6);
    this.listen4 = this.listen6 = null;
  }

  // ---- sockets -------------------------------------------------------------------------------------

  private open(ip: string, port: number, relayPort: number): Endpoint {
    const socket = new FfiUdpSocket({ bind: { ip, port }, gso: this.gso, gro: this.gro, bufferBytes: SOCKET_BUFFER });
    const ep = new Endpoint(socket, relayPort);
    try {
      this.readiness.add(socket.pollFd);
    } catch (e) {
      socket.close();
      throw e;
    }
    this.byFd[socket.pollFd] = ep;
    return ep;
  }

  private closeEndpoint(ep: Endpoint | null): void {
    if (ep === null) return;
    const fd = ep.socket.pollFd;
    if (fd < 0) return;
    this.readiness.remove(fd);
    if (this.byFd[fd] === ep) this.byFd[fd] = undefined;
    ep.socket.close();
  }

  // ---- draining ------------------------------------------------------------------------------------

  private readonly onReady = (fds: Int32Array, from: number, count: number): void => {
    for (let k = from; k < from + count; k++) {
      const ep = this.byFd[fds[k]!];
      if (ep !== undefined && !this.active.includes(ep)) this.active.push(ep);
    }
    if (!this.pumpScheduled) this.pump();
  };

  /** One turn: every active socket gets up to ROUNDS_PER_TURN batches; dry ones leave the list. */
  private readonly pump = (): void => {
    this.pumpScheduled = false;
    if (this.closed) return;
    const active = this.active;
    const next = this.activeNext;
    for (let i = 0; i < active.length; i++) {
      const ep = active[i]!;
      let more = false;
      for (let r = 0; r < ROUNDS_PER_TURN; r++) {
        if (ep.socket.pollFd < 0) break;
        const n = this.drainOnce(ep);
        if (n < BATCH) break;
        more = r === ROUNDS_PER_TURN - 1;
      }
      if (more) next.push(ep);
    }
    active.length = 0;
    for (let i = 0; i < next.length; i++) active.push(next[i]!);
    next.length = 0;
    if (active.length > 0) {
      this.pumpScheduled = true;
      setImmediate(this.pump);
    } else {
      this.readiness.arm();
    }
  };

  /** Reads one batch from `ep`, routes it, sends it on; returns the messages read. */
  private drainOnce(ep: Endpoint): number {
    const b = this.rx;
    b.count = 0;
    const n = ep.socket.recvBatch(b);
    if (n === 0) return 0;
    const now = this.now();
    const seg = ep.socket.rxSegSize;
    let coalesced = false;
    for (let i = 0; i < n && !coalesced; i++) coalesced = seg[i]! < b.len[i]!;
    this.sawControl = false;
    this.beginRoute();
    if (!coalesced) {
      // Zero copy: every datagram is routed and sent from where it landed.
      for (let i = 0; i < n; i++) this.route(ep, i, now);
      this.sendRouted();
    } else {
      // UDP GRO handed over buffers of several datagrams: each one is copied (memmove inside the
      // pinned batch, in arrival order) into the second half of the slots and routed from there.
      b.action.fill(ACTION_DROP, 0, BATCH);
      let t = BATCH;
      for (let i = 0; i < n; i++) {
        const len = b.len[i]!;
        const size = seg[i]!;
        for (let o = 0; o < len; o += size) {
          if (t === 2 * BATCH) {
            b.count = t;
            this.sendRouted();
            this.beginRoute();
            t = BATCH;
          }
          const from = i * SLOT + HEADROOM + o;
          b.data.copyWithin(t * SLOT + HEADROOM, from, from + Math.min(size, len - o));
          b.addr.copyWithin(t * SOCKADDR_SLOT, i * SOCKADDR_SLOT, (i + 1) * SOCKADDR_SLOT);
          b.off[t] = HEADROOM;
          b.len[t] = Math.min(size, len - o);
          this.groDatagrams++;
          this.route(ep, t, now);
          t++;
        }
      }
      b.count = t;
      this.sendRouted();
    }
    if (this.sawControl) this.afterControl();
    return n;
  }

  private beginRoute(): void {
    this.epoch++;
    this.targets.length = 0;
  }

  /** Routes the datagram in slot i (received on `ep`) through the core and marks where it goes. */
  private route(ep: Endpoint, i: number, now: number): void {
    const b = this.rx;
    const server = this.server;
    const a = i * SOCKADDR_SLOT;
    const ip = this.sourceIp(b.addr, a);
    const port = (b.addr[a + 2]! << 8) | b.addr[a + 3]!;
    const len = b.len[i]!;
    b.action[i] = ACTION_DROP;
    let out: Endpoint | null;
    let dest: Uint8Array;
    if (ep.relayPort === 0) {
      const start = i * SLOT + HEADROOM;
      const d = b.data;
      const isData = len > 0 && d[start]! >= 0x40 && d[start]! <= 0x7f;
      // The core reads only the header of ChannelData; a whole-slot view saves a view per packet
      // once the datagram is known to carry what the header claims (else: exact view, counted drop).
      const wellFormed = isData && len >= CHANNEL_DATA_HEADER_LENGTH && len - CHANNEL_DATA_HEADER_LENGTH >= ((d[start + 2]! << 8) | d[start + 3]!);
      const view = wellFormed ? this.slotViews[i]! : b.packet(i).slice();
      const channel = server.handleClientPacket(ip, port, view, now);
      if (channel === null) {
        if (!isData) this.sawControl = true;
        return;
      }
      const rp = this.relayPorts[server.channelOwner.port];
      out = rp === undefined ? null : channel.peerFamily === 4 ? rp.v4 : rp.v6;
      if (out === null) {
        server.counters.drops["relay-port-not-open"]++;
        return;
      }
      dest = this.sockaddrFor(channel, channel.peerIp, channel.peerPort, out);
      b.off[i] = HEADROOM + server.routedOffset;
      b.len[i] = server.routedLength;
    } else {
      const channel = server.handlePeerPacket(ep.relayPort, ip, port, len);
      if (channel === null) return;
      const owner = server.channelOwner;
      out = owner.clientFamily === 4 ? (this.listen4 ?? this.listen6) : this.listen6;
      if (out === null) {
        server.counters.drops["send-failed"]++;
        return;
      }
      dest = this.sockaddrFor(owner, owner.clientIp, owner.clientPort, out);
      const h = i * SLOT + HEADROOM - CHANNEL_DATA_HEADER_LENGTH;
      const d = b.data;
      d[h] = channel.number >> 8;
      d[h + 1] = channel.number & 0xff;
      d[h + 2] = len >> 8;
      d[h + 3] = len & 0xff;
      b.off[i] = HEADROOM - CHANNEL_DATA_HEADER_LENGTH;
      b.len[i] = len + CHANNEL_DATA_HEADER_LENGTH;
    }
    b.addr.set(dest, a);
    if (out.epoch !== this.epoch) {
      out.epoch = this.epoch;
      out.routed = 0;
      this.targets.push(out);
      out.action = this.targets.length;
    }
    out.routed++;
    b.action[i] = out.action;
  }

  /** One sendBatch per socket the routed slots go out on; what the kernel refuses is counted. */
  private sendRouted(): void {
    const targets = this.targets;
    for (let t = 0; t < targets.length; t++) {
      const out = targets[t]!;
      const sent = out.socket.pollFd < 0 ? 0 : out.socket.sendBatch(this.rx, out.action);
      if (sent < out.routed) this.server.counters.drops["send-failed"] += out.routed - sent;
    }
  }

  // ---- address caches ------------------------------------------------------------------------------

  /** The destination sockaddr for `key` (a Channel or an Allocation) on `out`'s family, cached. */
  private sockaddrFor(key: object, ip: string, port: number, out: Endpoint): Uint8Array {
    let sa = this.sockaddrOf.get(key);
    const family = out.socket.family;
    if (sa === undefined || (sa[0]! | (sa[1]! << 8)) !== family) {
      sa = new Uint8Array(SOCKADDR_SLOT);
      encodeSockaddr({ ip, port }, family, sa);
      this.sockaddrOf.set(key, sa);
    }
    return sa;
  }

  /** The source IP as text, as the core keys on it (v4-mapped IPv6 as plain IPv4). */
  private sourceIp(addr: Uint8Array, a: number): string {
    const family = addr[a]! | (addr[a + 1]! << 8);
    if (family === AF_INET) return this.ipv4Name(addr, a + 4);
    if (family !== AF_INET6) return "";
    const o = a + 8;
    let mapped = addr[o + 10] === 0xff && addr[o + 11] === 0xff;
    for (let k = 0; k < 10 && mapped; k++) if (addr[o + k] !== 0) mapped = false;
    if (mapped) return this.ipv4Name(addr, o + 12);
    let h = 0x811c9dc5;
    for (let k = 0; k < 16; k++) h = Math.imul(h ^ addr[o + k]!, 0x01000193);
    const hit = this.ipv6Names.get(h);
    if (hit !== undefined) {
      let same = true;
      for (let k = 0; k < 16 && same; k++) if (hit.bytes[k] !== addr[o + k]) same = false;
      if (same) return hit.ip;
    }
    const bytes = addr.slice(o, o + 16);
    const ip = formatIp(bytes);
    if (this.ipv6Names.size >= ADDRESS_CACHE_MAX) this.ipv6Names.clear();
    this.ipv6Names.set(h, { bytes, ip });
    return ip;
  }

  private ipv4Name(addr: Uint8Array, o: number): string {
    const key = ((addr[o]! << 24) | (addr[o + 1]! << 16) | (addr[o + 2]! << 8) | addr[o + 3]!) >>> 0;
    let ip = this.ipv4Names.get(key);
    if (ip === undefined) {
      ip = formatIp(addr.subarray(o, o + 4));
      if (this.ipv4Names.size >= ADDRESS_CACHE_MAX) this.ipv4Names.clear();
      this.ipv4Names.set(key, ip);
      log.trace("new source address", { ip });
    }
    return ip;
  }
}
