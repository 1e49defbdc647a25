/**
 * A simulated IP network for sans-IO components: hosts with interfaces, NAT routers between
 * realms (private LANs and the public internet), links with latency, jitter (hence reordering),
 * loss, and an up/down switch, plus drop rules for partitions. Datagrams move hop by hop in
 * virtual time, so a NAT decides about a packet at the instant the packet reaches it — the
 * simultaneous-open races of hole punching happen as they would on a wire.
 *
 * Every datagram ends delivered or dropped with a reason; drops are remembered by `origin` (the
 * first datagram of a chain that a relay forwarded), so tests can prove a packet was "lost by the
 * network" rather than by the code under test.
 */
import type { SocketAddress } from "../../src/stun/index.ts";
import { TimeHeap } from "./heap.ts";
import { Prng } from "./prng.ts";

export type { SocketAddress };

/**
 * RFC 4787 behaviours, by their folk names:
 * full-cone = endpoint-independent mapping and filtering; restricted = EIM with address-dependent
 * filtering; port-restricted = EIM with address-and-port-dependent filtering; symmetric =
 * address-and-port-dependent mapping and filtering.
 */
export type NatKind = "full-cone" | "restricted" | "port-restricted" | "symmetric";

export interface LinkConfig {
  /** One-way delay of this attachment, ms. A hop costs the sum of both ends' latencies. */
  latency: number;
  /** Extra uniform random delay in [0, jitter) ms per hop; jitter reorders datagrams. */
  jitter: number;
  /** Probability a datagram crossing this attachment is lost (each direction, each crossing). */
  loss: number;
  up: boolean;
}

export interface Datagram {
  readonly id: number;
  /** The datagram that started this chain (itself, unless a relay forwarded it). */
  readonly origin: number;
  src: SocketAddress;
  dst: SocketAddress;
  readonly payload: Uint8Array;
  readonly sentAt: number;
}

export type SocketHandler = (d: Datagram, now: number) => void;

export type NetDropReason = "loss" | "link-down" | "nat-no-mapping" | "nat-filtered" | "no-route" | "no-socket" | "no-interface" | "rule" | "relay-refused";

export class Realm {
  readonly nodes = new Map<string, Interface | NatRouter>();
  constructor(
    readonly name: string,
    /** The router this realm reaches the outside through; undefined for the internet. */
    readonly upstream: NatRouter | undefined,
  ) {}
}

export class Interface {
  constructor(
    readonly host: SimHost,
    public ip: string,
    public realm: Realm,
    readonly link: LinkConfig,
  ) {}
}

export class SimHost {
  readonly interfaces: Interface[] = [];
  private readonly sockets = new Map<string, SocketHandler>();

  constructor(
    readonly net: SimNetwork,
    readonly name: string,
  ) {}

  /** The first interface's address: what a one-interface host is known by. */
  get ip(): string {
    return this.interfaces[0]!.ip;
  }

  get link(): LinkConfig {
    return this.interfaces[0]!.link;
  }

  bind(addr: SocketAddress, handler: SocketHandler): void {
    const key = `${addr.ip}|${addr.port}`;
    if (this.sockets.has(key)) throw new Error(`${this.name}: ${addr.ip}:${addr.port} already bound`);
    this.sockets.set(key, handler);
  }

  unbind(addr: SocketAddress): void {
    this.sockets.delete(`${addr.ip}|${addr.port}`);
  }

  /** Sends from `src` (one of this host's addresses); returns the datagram id. */
  send(src: SocketAddress, dst: SocketAddress, payload: Uint8Array, origin?: number): number {
    return this.net.send(this, src, dst, payload, origin);
  }

  /** @internal */
  socketFor(addr: SocketAddress): SocketHandler | undefined {
    return this.sockets.get(`${addr.ip}|${addr.port}`);
  }

  /** Moves an interface to another network (roaming): new address, new realm; sockets follow. */
  move(iface: Interface, realm: Realm, ip: string): void {
    const rebound: Array<[number, SocketHandler]> = [];
    for (const [key, h] of this.sockets) {
      const [sip, sport] = key.split("|") as [string, string];
      if (sip === iface.ip) rebound.push([Number(sport), h]);
    }
    for (const [port] of rebound) this.sockets.delete(`${iface.ip}|${port}`);
    iface.realm.nodes.delete(iface.ip);
    if (realm.nodes.has(ip)) throw new Error(`${ip} already in use in ${realm.name}`);
    iface.ip = ip;
    iface.realm = realm;
    realm.nodes.set(ip, iface);
    for (const [port, h] of rebound) this.sockets.set(`${ip}|${port}`, h);
  }
}

interface Mapping {
  internal: SocketAddress;
  externalPort: number;
  key: string;
  /** Remote ip (restricted) or ip:port (port-restricted, symmetric) → last outbound instant. */
  permits: Map<string, number>;
  lastOutbound: number;
}

export interface NatOptions {
  link?: Partial<LinkConfig>;
  /** Delay between the router and hosts on its LAN, ms. */
  lanLatency?: number;
  /** A mapping unused outbound for this long is forgotten (RFC 4787 REQ-5: ≥ 120 s). */
  mappingTimeout?: number;
}

export class NatRouter {
  readonly inside: Realm;
  readonly link: LinkConfig;
  readonly lanLatency: number;
  readonly mappingTimeout: number;
  private readonly byKey = new Map<string, Mapping>();
  private readonly byPort = new Map<number, Mapping>();
  readonly counters = { mappingsCreated: 0, filtered: 0, noMapping: 0 };

  constructor(
    readonly name: string,
    readonly kind: NatKind,
    readonly ip: string,
    readonly realm: Realm,
    private readonly random: Prng,
    options: NatOptions,
  ) {
    this.inside = new Realm(`${name}-lan`, this);
    this.link = { ...DEFAULT_LINK, ...options.link };
    this.lanLatency = options.lanLatency ?? 1;
    this.mappingTimeout = options.mappingTimeout ?? 120_000;
  }

  get mappings(): number {
    return this.byKey.size;
  }

  /** Forgets every mapping (a router reboot). */
  reset(): void {
    this.byKey.clear();
    this.byPort.clear();
  }

  /** @internal Translates an outbound source; creates or refreshes the mapping. */
  outbound(src: SocketAddress, dst: SocketAddress, now: number): SocketAddress {
    const key = this.kind === "symmetric" ? `${src.ip}:${src.port}>${dst.ip}:${dst.port}` : `${src.ip}:${src.port}`;
    let m = this.byKey.get(key);
    if (m && now - m.lastOutbound > this.mappingTimeout) {
      this.forget(m);
      m = undefined;
    }
    if (!m) {
      let port = 0;
      do port = 1024 + this.random.below(65536 - 1024);
      while (this.byPort.has(port));
      m = { internal: { ip: src.ip, port: src.port }, externalPort: port, key, permits: new Map(), lastOutbound: now };
      this.byKey.set(key, m);
      this.byPort.set(port, m);
      this.counters.mappingsCreated++;
    }
    m.lastOutbound = now;
    if (this.kind === "restricted") m.permits.set(dst.ip, now);
    else if (this.kind !== "full-cone") m.permits.set(`${dst.ip}:${dst.port}`, now);
    return { ip: this.ip, port: m.externalPort };
  }

  /** @internal The internal destination of an inbound datagram, or why it is refused. */
  inbound(src: SocketAddress, dstPort: number, now: number): SocketAddress | "nat-no-mapping" | "nat-filtered" {
    const m = this.byPort.get(dstPort);
    if (!m || now - m.lastOutbound > this.mappingTimeout) {
      if (m) this.forget(m);
      this.counters.noMapping++;
      return "nat-no-mapping";
    }
    if (this.kind !== "full-cone") {
      const pk = this.kind === "restricted" ? src.ip : `${src.ip}:${src.port}`;
      const at = m.permits.get(pk);
      if (at === undefined || now - at > this.mappingTimeout) {
        this.counters.filtered++;
        return "nat-filtered";
      }
    }
    return m.internal;
  }

  private forget(m: Mapping): void {
    this.byKey.delete(m.key);
    this.byPort.delete(m.externalPort);
  }
}

export const DEFAULT_LINK: LinkConfig = { latency: 5, jitter: 0, loss: 0, up: true };

interface Hop {
  at: number;
  seq: number;
  d: Datagram;
  node: Interface | NatRouter;
  from: Interface | NatRouter;
  /** The realm the datagram travelled through to reach `node`. */
  via: Realm;
}

export interface NetStats {
  sent: number;
  delivered: number;
  dropped: Record<NetDropReason, number>;
}

export type DropRule = (d: Datagram, from: Interface | NatRouter, to: Interface | NatRouter) => boolean;

export class SimNetwork {
  readonly internet = new Realm("internet", undefined);
  readonly hosts = new Map<string, SimHost>();
  readonly nats = new Map<string, NatRouter>();
  readonly stats: NetStats = {
    sent: 0,
    delivered: 0,
    dropped: { loss: 0, "link-down": 0, "nat-no-mapping": 0, "nat-filtered": 0, "no-route": 0, "no-socket": 0, "no-interface": 0, rule: 0, "relay-refused": 0 },
  };
  /** Chains the network lost, by origin id, with why. */
  readonly lost = new Map<number, NetDropReason>();
  /** Called for every drop; tests use it to debug. */
  onDrop: ((d: Datagram, reason: NetDropReason) => void) | undefined;

  private readonly inFlight = new TimeHeap<Hop>();
  private readonly rules = new Map<string, DropRule>();
  private nextId = 1;
  private seq = 0;
  private readonly random: Prng;

  constructor(
    prng: Prng,
    private readonly clock: () => number,
  ) {
    this.random = prng.fork("network");
    this.natRandom = prng.fork("nat-ports");
  }
  private readonly natRandom: Prng;

  /** A host with one interface at `ip` in `realm` (the internet by default). */
  addHost(name: string, ip: string, options: { realm?: Realm; link?: Partial<LinkConfig> } = {}): SimHost {
    if (this.hosts.has(name)) throw new Error(`host ${name} exists`);
    const host = new SimHost(this, name);
    this.hosts.set(name, host);
    this.addInterface(host, ip, options);
    return host;
  }

  addInterface(host: SimHost, ip: string, options: { realm?: Realm; link?: Partial<LinkConfig> } = {}): Interface {
    const realm = options.realm ?? this.internet;
    if (realm.nodes.has(ip)) throw new Error(`${ip} already in use in ${realm.name}`);
    const iface = new Interface(host, ip, realm, { ...DEFAULT_LINK, ...options.link });
    realm.nodes.set(ip, iface);
    host.interfaces.push(iface);
    return iface;
  }

  /** A NAT router with public address `ip` in `realm` (the internet by default); hosts go in `.inside`. */
  addNat(name: string, kind: NatKind, ip: string, options: NatOptions & { realm?: Realm } = {}): NatRouter {
    const realm = options.realm ?? this.internet;
    if (realm.nodes.has(ip)) throw new Error(`${ip} already in use in ${realm.name}`);
    const nat = new NatRouter(name, kind, ip, realm, this.natRandom.fork(name), options);
    realm.nodes.set(ip, nat);
    this.nats.set(name, nat);
    return nat;
  }

  /** Drops every datagram `rule` matches, counted as "rule", until `removeRule(name)`. */
  addRule(name: string, rule: DropRule): void {
    this.rules.set(name, rule);
  }

  removeRule(name: string): void {
    this.rules.delete(name);
  }

  /**
   * Takes an attachment down (or up again). Going down also loses what is on the wire to or
   * from it, so a dead host's last datagrams do not arrive after its death.
   */
  setLink(node: Interface | NatRouter, up: boolean): void {
    node.link.up = up;
    if (up) return;
    for (const h of this.inFlight.removeWhere((x) => x.node === node || x.from === node)) this.drop(h.d, "link-down");
  }

  /** Cuts both directions between the two sets of hosts (by public or private address of their interfaces). */
  partition(name: string, a: SimHost[], b: SimHost[]): void {
    const inA = new Set(a.flatMap((h) => h.interfaces));
    const inB = new Set(b.flatMap((h) => h.interfaces));
    const origins = new Map<number, Interface>();
    this.addRule(name, (d, from, to) => {
      if (from instanceof Interface) origins.set(d.id, from);
      const src = origins.get(d.id);
      if (to instanceof Interface) origins.delete(d.id);
      if (!src || !(to instanceof Interface)) return false;
      return (inA.has(src) && inB.has(to)) || (inB.has(src) && inA.has(to));
    });
  }

  send(host: SimHost, src: SocketAddress, dst: SocketAddress, payload: Uint8Array, origin?: number): number {
    const id = this.nextId++;
    const d: Datagram = { id, origin: origin ?? id, src: { ip: src.ip, port: src.port }, dst: { ip: dst.ip, port: dst.port }, payload, sentAt: this.clock() };
    this.stats.sent++;
    const iface = host.interfaces.find((i) => i.ip === src.ip);
    if (!iface) {
      this.drop(d, "no-interface");
      return id;
    }
    this.forward(d, iface, iface.realm, this.clock());
    return id;
  }

  /** When the next hop completes, if anything is in flight. */
  nextAt(): number | undefined {
    return this.inFlight.peek()?.at;
  }

  get datagramsInFlight(): number {
    return this.inFlight.size;
  }

  /** Completes every hop due at or before `now`; hosts' socket handlers run inside. */
  deliverDue(now: number): number {
    let n = 0;
    for (let h = this.inFlight.peek(); h && h.at <= now; h = this.inFlight.peek()) {
      this.inFlight.pop();
      this.arrive(h, now);
      n++;
    }
    return n;
  }

  private arrive(h: Hop, now: number): void {
    const { d, node } = h;
    if (node instanceof Interface) {
      const handler = node.host.socketFor(d.dst);
      if (!handler) return this.drop(d, "no-socket");
      this.stats.delivered++;
      handler(d, now);
      return;
    }
    if (h.via === node.inside) {
      d.src = node.outbound(d.src, d.dst, now);
      // Hairpinning (RFC 4787 REQ-9): to our own public address, turn straight back in.
      if (d.dst.ip !== node.ip) return this.forward(d, node, node.realm, now);
    }
    const internal = node.inbound(d.src, d.dst.port, now);
    if (typeof internal === "string") return this.drop(d, internal);
    d.dst = { ip: internal.ip, port: internal.port };
    this.forward(d, node, node.inside, now);
  }

  /** One hop: from `from` across `realm` to the node owning the destination (or the way out). */
  private forward(d: Datagram, from: Interface | NatRouter, realm: Realm, now: number): void {
    let to: Interface | NatRouter | undefined = realm.nodes.get(d.dst.ip);
    if (to === from && from instanceof Interface) {
      // To its own address (a relay relaying to its own allocation): loopback, no wire.
      this.inFlight.push({ at: now, seq: this.seq++, d, node: to, from, via: realm });
      return;
    }
    if (to === from) to = undefined;
    if (!to) to = realm.upstream;
    if (!to || to === from) return this.drop(d, "no-route");
    const out = attachment(from, realm);
    const inn = attachment(to, realm);
    if (!out.up || !inn.up) return this.drop(d, "link-down");
    for (const rule of this.rules.values()) if (rule(d, from, to)) return this.drop(d, "rule");
    if (this.random.chance(out.loss) || this.random.chance(inn.loss)) return this.drop(d, "loss");
    const jitter = out.jitter + inn.jitter;
    const delay = out.latency + inn.latency + (jitter > 0 ? this.random.next() * jitter : 0);
    this.inFlight.push({ at: now + delay, seq: this.seq++, d, node: to, from, via: realm });
  }

  /** A middlebox on a host (a relay) refused a datagram: the network lost it. */
  markLost(d: Datagram, reason: NetDropReason): void {
    this.drop(d, reason);
  }

  private drop(d: Datagram, reason: NetDropReason): void {
    this.stats.dropped[reason]++;
    this.lost.set(d.origin, reason);
    this.onDrop?.(d, reason);
  }
}

const LAN_LINK = { latency: 0, jitter: 0, loss: 0, up: true };

function attachment(node: Interface | NatRouter, realm: Realm): LinkConfig {
  if (node instanceof NatRouter && realm === node.inside) return { ...LAN_LINK, latency: node.lanLatency };
  return node.link;
}
