/**
 * Our relay core (src/relay/server.ts, sans-IO) on a simulated public host: the listening socket
 * at :3478, one socket per allocation port (opened and closed as the core says), ChannelData
 * framing towards clients. Forwarded datagrams keep their `origin`, so a loss after the relay is
 * still charged to the network.
 */
import { issueCredentials, type RelayCredentials } from "../../src/relay/credentials.ts";
import { RelayServer } from "../../src/relay/server.ts";
import type { Datagram, SimHost, SocketAddress } from "./network.ts";
import type { Sim, SimComponent } from "./sim.ts";

export const RELAY_PORT = 3478;
/** Wall-clock at virtual t=0; credential expiry is checked against it. */
export const UNIX_EPOCH_MS = 1_750_000_000_000;

export class RelayHost implements SimComponent {
  readonly server: RelayServer;
  readonly address: SocketAddress;
  private readonly allocationPorts = new Set<number>();
  private saltCounter = 0;
  forwarded = 0;

  constructor(
    readonly sim: Sim,
    readonly host: SimHost,
    readonly id: string,
    readonly secret = `sim-secret-${id}`,
  ) {
    this.address = { ip: host.ip, port: RELAY_PORT };
    this.server = new RelayServer({ secret, publicIpv4: host.ip, random: sim.prng.fork(`relay-${id}`).asU32() });
    this.server.setUnixTime(UNIX_EPOCH_MS, 0);
    host.bind(this.address, (d, now) => this.fromClient(d, now));
  }

  get name(): string {
    return `relay ${this.id}`;
  }

  /** Firezone-style credentials valid for a day of virtual time (the portal hands these out). */
  credentials(now: number): RelayCredentials {
    const expires = Math.floor((UNIX_EPOCH_MS + now) / 1000) + 86_400;
    return issueCredentials(this.secret, expires, `salt${this.id}${this.saltCounter++}`);
  }

  pollTimeout(): { at: number; reason: string } | undefined {
    return this.server.pollTimeout() ?? undefined;
  }

  handleTimeout(now: number): void {
    this.server.handleTimeout(now);
  }

  flush(_now: number): void {
    for (let t = this.server.pollTransmit(); t; t = this.server.pollTransmit()) this.host.send(this.address, t.to, t.bytes);
    for (let e = this.server.pollEvent(); e; e = this.server.pollEvent()) {
      const addr = { ip: this.host.ip, port: e.port };
      if (e.type === "allocation-created") {
        this.allocationPorts.add(e.port);
        this.host.bind(addr, (d, now) => this.fromPeer(e.port, d, now));
      } else {
        this.allocationPorts.delete(e.port);
        this.host.unbind(addr);
      }
    }
  }

  /** The relay process dies: every allocation is gone (the driver closes the ports). */
  crash(): void {
    this.server.shutdown();
    this.flush(0);
  }

  private fromClient(d: Datagram, now: number): void {
    const channel = this.server.handleClientPacket(d.src.ip, d.src.port, d.payload, now);
    if (!channel) {
      // Data the relay will not forward (no allocation for this 5-tuple, no channel) is lost in the network.
      if (d.payload.length > 0 && d.payload[0]! >= 0x40 && d.payload[0]! <= 0x7f) this.sim.net.markLost(d, "relay-refused");
      return;
    }
    const off = this.server.routedOffset;
    const payload = d.payload.slice(off, off + this.server.routedLength);
    const from = { ip: this.host.ip, port: this.server.channelOwner.port };
    this.forwarded++;
    this.host.send(from, { ip: channel.peerIp, port: channel.peerPort }, payload, d.origin);
  }

  private fromPeer(port: number, d: Datagram, _now: number): void {
    const channel = this.server.handlePeerPacket(port, d.src.ip, d.src.port, d.payload.length);
    if (!channel) {
      this.sim.net.markLost(d, "relay-refused");
      return;
    }
    const owner = this.server.channelOwner;
    const frame = new Uint8Array(4 + d.payload.length);
    frame[0] = channel.number >> 8;
    frame[1] = channel.number & 0xff;
    frame[2] = d.payload.length >> 8;
    frame[3] = d.payload.length & 0xff;
    frame.set(d.payload, 4);
    this.forwarded++;
    this.host.send(this.address, { ip: owner.clientIp, port: owner.clientPort }, frame, d.origin);
  }
}
