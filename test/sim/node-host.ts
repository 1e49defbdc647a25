/**
 * A snownet Node (src/snownet) on a simulated host: its one UDP socket, its event log with
 * virtual timestamps, and a tiny "TUN" that hands decrypted IP packets to test applications by
 * UDP destination port. Restart = the process dies and comes back with nothing (new Node).
 */
import { PacketView } from "../../src/ip/index.ts";
import { Node } from "../../src/snownet/node.ts";
import type { EncapsulateResult, NodeEvent } from "../../src/snownet/types.ts";
import type { Datagram, SimHost, SocketAddress } from "./network.ts";
import type { Prng } from "./prng.ts";
import type { Sim, SimComponent } from "./sim.ts";

export type PeerId = string;
export type RelayId = string;

export interface LoggedEvent {
  at: number;
  event: NodeEvent<PeerId>;
}

/** An application behind the TUN: gets the UDP payload of packets to its port. */
export type AppHandler = (from: PeerId, payload: Uint8Array, now: number) => void;

export interface SendOutcome {
  status: EncapsulateResult["status"];
  /** The datagram id when sent (its origin for loss accounting). */
  datagram: number | undefined;
  /** Whether the connection was established when the packet was handed over. */
  established: boolean;
}

export class NodeHost implements SimComponent {
  node: Node<PeerId, RelayId>;
  readonly socket: SocketAddress;
  readonly events: LoggedEvent[] = [];
  /** Listeners for node events (the portal stub). */
  readonly listeners: Array<(host: NodeHost, e: NodeEvent<PeerId>, now: number) => void> = [];
  readonly apps = new Map<number, AppHandler>();
  restarts = 0;
  /** Datagrams the node refused to turn into anything (counted per reason by the node itself). */
  private readonly view = new PacketView();
  private readonly random: Prng;

  constructor(
    readonly sim: Sim,
    readonly host: SimHost,
    readonly role: "client" | "gateway",
    readonly tunIp: string,
    port = 52625,
  ) {
    this.socket = { ip: host.ip, port };
    this.random = sim.prng.fork(`node-${host.name}`);
    this.node = this.makeNode(sim.now);
    host.bind(this.socket, (d, now) => this.receive(d, now));
  }

  get name(): string {
    return this.host.name;
  }

  /** The id the peer knows us by. */
  get id(): PeerId {
    return this.host.name;
  }

  pollTimeout(): { at: number; reason: string } | undefined {
    return this.node.pollTimeout();
  }

  handleTimeout(now: number): void {
    this.node.handleTimeout(now);
  }

  flush(now: number): void {
    for (let t = this.node.pollTransmit(); t; t = this.node.pollTransmit()) this.host.send(t.src ?? this.localAddress, t.dst, t.payload);
    for (let e = this.node.pollEvent(); e; e = this.node.pollEvent()) {
      this.events.push({ at: now, event: e });
      for (const l of this.listeners) l(this, e, now);
    }
  }

  /** Encrypts and sends an IP packet to `peer`, as the TUN read path would. */
  send(peer: PeerId, packet: Uint8Array, now: number): SendOutcome {
    const established = this.node.connection(peer)?.established ?? false;
    const r = this.node.encapsulate(peer, packet, now);
    if (r.status !== "transmit") return { status: r.status, datagram: undefined, established };
    const bytes = r.buf.slice(r.offset, r.offset + r.length);
    const id = this.host.send(r.src ?? this.localAddress, r.dst, bytes);
    return { status: "transmit", datagram: id, established };
  }

  /** The process dies and starts again: a new Node with a new key and nothing else. */
  restart(now: number): void {
    this.node = this.makeNode(now);
    this.restarts++;
  }

  /** The socket now lives at the host's current address (after `SimHost.move`). */
  get localAddress(): SocketAddress {
    return { ip: this.host.ip, port: this.socket.port };
  }

  eventsOf<T extends NodeEvent<PeerId>["type"]>(type: T, since = 0): Array<{ at: number; event: Extract<NodeEvent<PeerId>, { type: T }> }> {
    return this.events.filter((e) => e.at >= since && e.event.type === type) as Array<{ at: number; event: Extract<NodeEvent<PeerId>, { type: T }> }>;
  }

  private receive(d: Datagram, now: number): void {
    const r = this.node.handleInput(d.src, d.dst, d.payload, now);
    if (!r) return;
    if (this.view.parse(r.buf, r.offset, r.length) !== "ok") return;
    const app = this.apps.get(this.view.dstPort);
    if (!app) return;
    app(r.connection, r.buf.subarray(this.view.payloadOff, this.view.payloadOff + this.view.payloadLen), now);
  }

  private makeNode(now: number): Node<PeerId, RelayId> {
    const privateKey = new Uint8Array(32);
    this.random.fill(privateKey);
    return new Node<PeerId, RelayId>({ role: this.role, now, privateKey, random: this.random.fork(`rng${this.restarts}`).asFill() });
  }
}
