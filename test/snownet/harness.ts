/**
 * Nodes back to back on fake time over an in-test wire, with real relays built from the relay
 * server core (src/relay/server.ts). Candidates are signalled instantly between the two peers
 * (the portal's job), every datagram takes `latency` ms, and `blocked(from, to)` cuts links.
 */
import { expect } from "bun:test";
import { issueCredentials } from "../../src/relay/credentials.ts";
import { SeededRandom } from "../../src/relay/random-source.ts";
import { RelayServer } from "../../src/relay/server.ts";
import { Node, type NodeEvent, type RelayConfig } from "../../src/snownet/index.ts";
import { addressKey, ipFamily, sameAddress, seededRandom, type SocketAddress } from "../../src/stun/index.ts";
import { ipv4Packet } from "../support/ipv4-packet.ts";

export const SECRET = "4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab";
export const UNIX0 = 1_700_000_000_000;
export const T0 = 10_000;

export const addr = (ip: string, port: number): SocketAddress => ({ ip, port });

export interface Peer {
  name: string;
  node: Node<string, string>;
  addr: SocketAddress;
  events: NodeEvent<string>[];
  /** Decrypted IP packets delivered to this node's "TUN", with the connection they came on. */
  inbox: Array<{ connection: string; packet: Uint8Array }>;
}

export interface Relay {
  id: string;
  server: RelayServer;
  listen: SocketAddress;
  listen6?: SocketAddress;
}

interface InFlight {
  at: number;
  from: SocketAddress;
  to: SocketAddress;
  payload: Uint8Array;
}

/**
 * A symmetric NAT in front of one socket: every destination gets its own public port, and only
 * that destination may answer on it. `reboot()` forgets every mapping (a router restart).
 */
export class SymmetricNat {
  private nextPort = 40_000;
  private readonly out = new Map<string, number>();
  private readonly back = new Map<number, { dst: SocketAddress }>();

  constructor(
    readonly inside: SocketAddress,
    readonly publicIp: string,
  ) {}

  outbound(dst: SocketAddress): SocketAddress {
    const k = addressKey(dst);
    let port = this.out.get(k);
    if (port === undefined) {
      port = this.nextPort++;
      this.out.set(k, port);
      this.back.set(port, { dst });
    }
    return addr(this.publicIp, port);
  }

  inbound(publicPort: number, from: SocketAddress): SocketAddress | undefined {
    const m = this.back.get(publicPort);
    return m && sameAddress(m.dst, from) ? this.inside : undefined;
  }

  reboot(): void {
    this.out.clear();
    this.back.clear();
    this.nextPort += 1000;
  }
}

export class Wire {
  nat: SymmetricNat | undefined;
  now = T0;
  latency = 5;
  readonly peers: Peer[] = [];
  readonly relays: Relay[] = [];
  private queue: InFlight[] = [];
  blocked: (from: SocketAddress, to: SocketAddress) => boolean = () => false;
  /** Drops datagrams by content (e.g. only WireGuard). */
  dropPayload: (payload: Uint8Array) => boolean = () => false;
  /** Datagrams delivered, by a label of what they were. */
  delivered = 0;
  droppedByWire = 0;
  /** Portal signalling: connection ids on each side, and whether candidates are relayed. */
  signalling = true;
  private readonly links = new Map<string, { peer: Peer; connection: string }>();
  private seed = 1;

  addPeer(name: string, ip: string, role: "client" | "gateway"): Peer {
    const node = new Node<string, string>({ role, now: this.now, random: seededRandom(this.seed++) });
    const p: Peer = { name, node, addr: addr(ip, 52625), events: [], inbox: [] };
    this.peers.push(p);
    return p;
  }

  addRelay(id: string, ip: string, ip6?: string): Relay {
    const server = new RelayServer({ secret: SECRET, publicIpv4: ip, publicIpv6: ip6, random: new SeededRandom(this.seed++) });
    server.setUnixTime(UNIX0, this.now);
    const r: Relay = { id, server, listen: addr(ip, 3478), listen6: ip6 ? addr(ip6, 3478) : undefined };
    this.relays.push(r);
    return r;
  }

  relayConfig(r: Relay, salt = "salt" + r.id): RelayConfig<string> {
    const cred = issueCredentials(SECRET, UNIX0 / 1000 + 86_400, salt);
    return { id: r.id, v4: r.listen, ...(r.listen6 ? { v6: r.listen6 } : {}), username: cred.username, password: cred.password };
  }

  /** Says that `a`'s connection `aConn` and `b`'s connection `bConn` are each other (the portal). */
  link(a: Peer, aConn: string, b: Peer, bConn: string): void {
    this.links.set(`${a.name}/${aConn}`, { peer: b, connection: bConn });
    this.links.set(`${b.name}/${bConn}`, { peer: a, connection: aConn });
  }

  /** Sends `bytes` from a peer's socket (used for hand-made datagrams). */
  inject(from: SocketAddress, to: SocketAddress, payload: Uint8Array): void {
    this.queue.push({ at: this.now, from, to, payload });
  }

  /** Hands an `encapsulate` result to the wire (copied: the node reuses its buffer). */
  sendEncapsulated(p: Peer, r: { status: string; src?: SocketAddress; dst: SocketAddress; buf: Uint8Array; offset: number; length: number }): boolean {
    if (r.status !== "transmit") return false;
    this.send(r.src ?? p.addr, r.dst, r.buf.slice(r.offset, r.offset + r.length));
    return true;
  }

  /** Runs virtual time until `until` (inclusive), waking nodes and relays when they ask. */
  run(until: number): void {
    for (;;) {
      for (let pass = 0; pass < 1000; pass++) if (!this.step()) break;
      const next = this.nextWake();
      if (next > until) break;
      this.now = Math.max(next, this.now + 1);
    }
    this.now = Math.max(this.now, until);
    for (let pass = 0; pass < 1000; pass++) if (!this.step()) break;
  }

  runFor(ms: number): void {
    this.run(this.now + ms);
  }

  /** Runs until `cond` holds or `limit` ms pass; returns whether it held. */
  runUntil(cond: () => boolean, limit = 30_000): boolean {
    const end = this.now + limit;
    while (this.now < end) {
      if (cond()) return true;
      this.run(Math.min(end, this.now + 10));
    }
    return cond();
  }

  events(p: Peer, type: string): NodeEvent<string>[] {
    return p.events.filter((e) => e.type === type);
  }

  private nextWake(): number {
    let next = Infinity;
    for (const m of this.queue) next = Math.min(next, m.at);
    for (const p of this.peers) next = Math.min(next, p.node.pollTimeout()?.at ?? Infinity);
    for (const r of this.relays) next = Math.min(next, r.server.pollTimeout()?.at ?? Infinity);
    return next;
  }

  /** One pass: timers due now, outputs drained, datagrams due now delivered. True if anything happened. */
  private step(): boolean {
    let moved = false;
    for (const p of this.peers) {
      const t = p.node.pollTimeout();
      if (t && t.at <= this.now) {
        p.node.handleTimeout(this.now);
      }
      moved = this.drain(p) || moved;
    }
    for (const r of this.relays) {
      const t = r.server.pollTimeout();
      if (t && t.at <= this.now) r.server.handleTimeout(this.now);
      for (let x = r.server.pollTransmit(); x; x = r.server.pollTransmit()) {
        moved = true;
        this.send(listenFor(r, x.to), x.to, x.bytes.slice());
      }
      for (let e = r.server.pollEvent(); e; e = r.server.pollEvent());
    }
    const due = this.queue.filter((m) => m.at <= this.now);
    if (due.length > 0) {
      moved = true;
      this.queue = this.queue.filter((m) => m.at > this.now);
      for (const m of due) this.deliver(m);
    }
    return moved;
  }

  private drain(p: Peer): boolean {
    let moved = false;
    for (let t = p.node.pollTransmit(); t; t = p.node.pollTransmit()) {
      moved = true;
      this.send(t.src ?? p.addr, t.dst, t.payload);
    }
    for (let e = p.node.pollEvent(); e; e = p.node.pollEvent()) {
      moved = true;
      p.events.push(e);
      if (!this.signalling) continue;
      if (e.type === "new-ice-candidate" || e.type === "invalidate-ice-candidate") {
        const other = this.links.get(`${p.name}/${e.connection}`);
        if (!other) continue;
        if (e.type === "new-ice-candidate") other.peer.node.addRemoteCandidate(other.connection, e.candidate, this.now);
        else other.peer.node.removeRemoteCandidate(other.connection, e.candidate, this.now);
      }
    }
    return moved;
  }

  private send(from: SocketAddress, to: SocketAddress, payload: Uint8Array): void {
    // No datagram crosses address families; a v6-only host cannot reach a v4 address.
    if (this.blocked(from, to) || this.dropPayload(payload) || ipFamily(from.ip) !== ipFamily(to.ip)) {
      this.droppedByWire++;
      return;
    }
    if (this.nat && sameAddress(from, this.nat.inside)) from = this.nat.outbound(to);
    this.queue.push({ at: this.now + this.latency, from, to, payload });
  }

  private deliver(m: InFlight): void {
    this.delivered++;
    if (this.nat && m.to.ip === this.nat.publicIp) {
      const inside = this.nat.inbound(m.to.port, m.from);
      if (!inside) {
        this.droppedByWire++;
        return;
      }
      m = { ...m, to: inside };
    }
    const relayByListen = this.relays.find((r) => sameAddress(r.listen, m.to) || (r.listen6 !== undefined && sameAddress(r.listen6, m.to)));
    if (relayByListen) {
      const r = relayByListen;
      const ch = r.server.handleClientPacket(m.from.ip, m.from.port, m.payload, this.now);
      if (ch) {
        const owner = r.server.channelOwner;
        const data = m.payload.slice(r.server.routedOffset, r.server.routedOffset + r.server.routedLength);
        const peer = addr(ch.peerIp, ch.peerPort);
        this.send(addr(listenFor(r, peer).ip, owner.port), peer, data);
      }
      for (let x = r.server.pollTransmit(); x; x = r.server.pollTransmit()) this.send(listenFor(r, x.to), x.to, x.bytes.slice());
      return;
    }
    const relayByPort = this.relays.find((r) => r.listen.ip === m.to.ip || r.listen6?.ip === m.to.ip);
    if (relayByPort) {
      const r = relayByPort;
      const ch = r.server.handlePeerPacket(m.to.port, m.from.ip, m.from.port, m.payload.length);
      if (!ch) return;
      const owner = r.server.channelOwner;
      const frame = new Uint8Array(4 + m.payload.length);
      frame[0] = ch.number >> 8;
      frame[1] = ch.number & 0xff;
      frame[2] = m.payload.length >> 8;
      frame[3] = m.payload.length & 0xff;
      frame.set(m.payload, 4);
      const client = addr(owner.clientIp, owner.clientPort);
      this.send(listenFor(r, client), client, frame);
      return;
    }
    const p = this.peers.find((x) => sameAddress(x.addr, m.to));
    if (!p) return;
    const out = p.node.handleInput(m.from, m.to, m.payload, this.now);
    if (out) p.inbox.push({ connection: out.connection, packet: out.buf.slice(out.offset, out.offset + out.length) });
    this.drain(p);
  }
}

/** The relay's listening socket of `peer`'s family. */
function listenFor(r: Relay, peer: SocketAddress): SocketAddress {
  return ipFamily(peer.ip) === 6 && r.listen6 ? r.listen6 : r.listen;
}

export function key(a: SocketAddress): string {
  return addressKey(a);
}

/** A tiny IPv4/UDP-ish packet whose payload says `text`. */
export function ipv4(text: string, src = [100, 64, 0, 1], dst = [100, 64, 0, 2]): Uint8Array {
  return ipv4Packet(text, src, dst);
}

export function text(packet: Uint8Array): string {
  return new TextDecoder().decode(packet.subarray(20));
}

/** Sends `msg` from `from` over connection `conn` (which must be ready to transmit); returns what `to` received. */
export function roundTrip(wire: Wire, from: Peer, conn: string, to: Peer, msg: string): string[] {
  to.inbox.length = 0;
  const r = from.node.encapsulate(conn, ipv4(msg), wire.now);
  expect(r.status).toBe("transmit");
  wire.sendEncapsulated(from, r);
  wire.runFor(50);
  return to.inbox.map((x) => text(x.packet));
}

/** Like roundTrip, for polling: false when the connection cannot transmit yet or `msg` did not arrive. */
export function arrives(wire: Wire, from: Peer, conn: string, to: Peer, msg: string): boolean {
  to.inbox.length = 0;
  const r = from.node.encapsulate(conn, ipv4(msg), wire.now);
  if (r.status !== "transmit") return false;
  wire.sendEncapsulated(from, r);
  wire.runFor(50);
  return to.inbox.some((x) => text(x.packet) === msg);
}

const PSK = new Uint8Array(32).fill(7);

/**
 * The usual setup: client A and gateway B, each with relays `relayIds` known, connected to each
 * other through signalling. Returns the wire and both peers, allocations done, connections upserted.
 */
export function pair(opts: { relays?: string[]; blockDirect?: boolean; upsert?: boolean; ipv6?: boolean; natA?: boolean } = {}) {
  const wire = new Wire();
  const a = wire.addPeer("A", opts.ipv6 ? "2001:db8:a::1" : "10.0.0.1", "client");
  const b = wire.addPeer("B", opts.ipv6 ? "2001:db8:b::2" : "10.0.0.2", "gateway");
  if (opts.natA) wire.nat = new SymmetricNat(a.addr, "203.0.113.1");
  const relayIps = ["192.0.2.1", "192.0.2.2", "192.0.2.3"];
  const relays = (opts.relays ?? ["r1"]).map((id, i) => wire.addRelay(id, relayIps[i]!, `2001:db8:ff::${i + 1}`));
  if (opts.blockDirect) {
    // A sits behind a firewall that only lets it talk to relays' listening ports (3478).
    wire.blocked = (from, to) => (from.ip === a.addr.ip && to.port !== 3478) || (to.ip === a.addr.ip && from.port !== 3478);
  }
  a.node.updateRelays([], relays.map((r) => wire.relayConfig(r, "A" + r.id)), wire.now);
  b.node.updateRelays([], relays.map((r) => wire.relayConfig(r, "B" + r.id)), wire.now);
  wire.runFor(200);
  wire.link(a, "gw", b, "client");
  const params = {
    a: { remoteKey: b.node.publicKey, psk: PSK, localCreds: { ufrag: "aaaa", pass: "apassapassapassapass12" }, remoteCreds: { ufrag: "bbbb", pass: "bpassbpassbpassbpass12" } },
    b: { remoteKey: a.node.publicKey, psk: PSK, localCreds: { ufrag: "bbbb", pass: "bpassbpassbpassbpass12" }, remoteCreds: { ufrag: "aaaa", pass: "apassapassapassapass12" } },
  };
  const upsert = () => {
    const ra = a.node.upsertConnection("gw", params.a, wire.now);
    const rb = b.node.upsertConnection("client", params.b, wire.now);
    return [ra, rb];
  };
  if (opts.upsert !== false) upsert();
  return { wire, a, b, relays, params, upsert };
}

export function established(p: Peer, conn: string): boolean {
  return p.node.connection(conn)?.established === true;
}
