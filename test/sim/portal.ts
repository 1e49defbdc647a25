/**
 * A stub portal for the simulation: it hands every node Firezone-style relay credentials
 * (src/relay/credentials.ts), makes the connection parameters a real portal would (ICE
 * credentials for both sides, a pre-shared key) and passes ICE candidates between the peers
 * with a configurable control-plane delay, in the order they were signalled.
 */
import type { RelayConfig } from "../../src/snownet/types.ts";
import type { NodeHost, PeerId, RelayId } from "./node-host.ts";
import type { Prng } from "./prng.ts";
import type { RelayHost } from "./relay-host.ts";
import type { Sim } from "./sim.ts";

export interface PortalOptions {
  /** Control-plane delay for candidates, ms. */
  candidateDelay?: number;
}

export class Portal {
  readonly relays: RelayHost[] = [];
  candidateDelay: number;
  /** Candidates relayed, for assertions. */
  signalled = 0;
  readonly noRelays: Array<{ at: number; node: string }> = [];
  /** Every upsert the portal made and what the node answered. */
  onUpsert: ((node: NodeHost, peer: PeerId, result: "created" | "reused" | "invalid-params", at: number) => void) | undefined;
  private readonly random: Prng;
  private readonly peers = new Map<PeerId, NodeHost>();
  private pairCounter = 0;

  constructor(
    readonly sim: Sim,
    options: PortalOptions = {},
  ) {
    this.candidateDelay = options.candidateDelay ?? 0;
    this.random = sim.prng.fork("portal");
  }

  addRelay(relay: RelayHost): void {
    this.relays.push(relay);
  }

  /** Registers a node: it listens to its candidates and gets the current relays. */
  join(node: NodeHost, now = this.sim.now): void {
    this.peers.set(node.id, node);
    if (!node.listeners.includes(this.onEvent)) node.listeners.push(this.onEvent);
    node.node.updateRelays([], this.relayConfigs(now), now);
  }

  relayConfigs(now: number): RelayConfig<RelayId>[] {
    return this.relays.map((r) => {
      const c = r.credentials(now);
      return { id: r.id, v4: r.address, username: c.username, password: c.password };
    });
  }

  /**
   * A new relay comes online: every joined node hears of it, each with credentials of its own. A
   * shared username would make the nodes fight over one allocation: the relay keeps one per
   * username, so each ALLOCATE replaces the other node's (437s both ways, refused ChannelData).
   */
  announceRelay(relay: RelayHost, now = this.sim.now): void {
    this.relays.push(relay);
    for (const p of this.peers.values()) {
      const c = relay.credentials(now);
      p.node.updateRelays([], [{ id: relay.id, v4: relay.address, username: c.username, password: c.password }], now);
    }
  }

  /** Tells every joined node that these relays are gone (`relays_presence` in Firezone). */
  removeRelays(ids: RelayId[], now = this.sim.now): void {
    for (let i = this.relays.length - 1; i >= 0; i--) if (ids.includes(this.relays[i]!.id)) this.relays.splice(i, 1);
    for (const p of this.peers.values()) p.node.updateRelays(ids, [], now);
  }

  /**
   * Authorizes client → gateway: fresh ICE credentials and PSK, upserted on the client at `now`
   * and on the gateway `gatewayLag` ms later (the portal's two messages race).
   */
  connect(client: NodeHost, gateway: NodeHost, options: { gatewayLag?: number; params?: ConnectParams } = {}): ConnectParams {
    const params = options.params ?? this.newParams();
    const now = this.sim.now;
    const upsertClient = (t: number) => {
      const r = client.node.upsertConnection(gateway.id, { remoteKey: gateway.node.publicKey, psk: params.psk, localCreds: params.client, remoteCreds: params.gateway }, t);
      this.onUpsert?.(client, gateway.id, r, t);
    };
    const upsertGateway = (t: number) => {
      const r = gateway.node.upsertConnection(client.id, { remoteKey: client.node.publicKey, psk: params.psk, localCreds: params.gateway, remoteCreds: params.client }, t);
      this.onUpsert?.(gateway, client.id, r, t);
    };
    upsertClient(now);
    const lag = options.gatewayLag ?? 0;
    if (lag > 0) this.sim.after(lag, upsertGateway);
    else upsertGateway(now);
    return params;
  }

  newParams(): ConnectParams {
    const n = this.pairCounter++;
    const psk = new Uint8Array(32);
    this.random.fill(psk);
    const cred = (side: string) => ({ ufrag: `${side}${n}${this.random.u32().toString(36)}`, pass: `pw${this.random.u32().toString(36)}${this.random.u32().toString(36)}xxxxxxxxxx` });
    return { psk, client: cred("c"), gateway: cred("g") };
  }

  private readonly onEvent = (from: NodeHost, e: Parameters<NodeHost["listeners"][number]>[1], now: number): void => {
    if (e.type === "no-relays") this.noRelays.push({ at: now, node: from.id });
    if (e.type !== "new-ice-candidate" && e.type !== "invalidate-ice-candidate") return;
    const to = this.peers.get(e.connection);
    if (!to) return;
    const sender = from.id;
    const deliver = (t: number) => {
      if (e.type === "new-ice-candidate") to.node.addRemoteCandidate(sender, e.candidate, t);
      else to.node.removeRemoteCandidate(sender, e.candidate, t);
    };
    this.signalled++;
    this.sim.after(this.candidateDelay, deliver);
  };
}

export interface ConnectParams {
  psk: Uint8Array;
  client: { ufrag: string; pass: string };
  gateway: { ufrag: string; pass: string };
}
