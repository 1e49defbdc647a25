import type { IceAgent } from "../ice/agent.ts";
import type { Candidate } from "../ice/candidate.ts";
import type { IceConfig } from "../ice/config.ts";
import type { SocketAddress } from "../stun/index.ts";
import type { Allocation } from "../turn/index.ts";
import type { Tunnel } from "../wireguard/index.ts";
import { CANDIDATE_TIMEOUT, DISCONNECT_TIMEOUT, MAX_IDLE, RESPONDER_CONFIRMATION_GRACE } from "./constants.ts";
import { PacketBuffer } from "./packet-buffer.ts";
import type { ConnectionParams, ConnectionState, FailureReason, PathKind } from "./types.ts";

/** The nominated path; `allocation` is set when our end is a relayed address (send as ChannelData). */
export interface Path {
  kind: PathKind;
  local: SocketAddress;
  remote: SocketAddress;
  allocation: Allocation | undefined;
}

/**
 * One peer: its ICE agent, its WireGuard tunnel (owned by the node's Device) and the bookkeeping
 * of Firezone's `connection_state.rs`. The node drives it; this class answers "what is due".
 */
export class Connection<TId, RId> {
  state: ConnectionState = "connecting";
  /** Handshake done and a path nominated; ConnectionEstablished was emitted. */
  established = false;
  path: Path | undefined;
  /** When the current path was first nominated (after having none). */
  pathSince = -Infinity;
  /** The relay whose relayed candidates this connection uses (sampled by RTT). */
  relay: RId | undefined;
  /** Remote candidates as signalled, for re-binding channels when the relay changes. */
  readonly remoteCandidates: Candidate[] = [];
  readonly buffer = new PacketBuffer();
  disconnectedSince: number | undefined;
  lastActivity: number;
  /** When we last sent a WireGuard initiation by choice (first one, roll-overs). */
  lastInitiationAt = -Infinity;
  rollovers = 0;
  /** Where the peer's last datagram came from and arrived on: a way back before nomination. */
  lastInbound: { local: SocketAddress; remote: SocketAddress } | undefined;
  noRelaysSignalled = false;
  /** The nominated pair stopped answering checks (relays were probed when it started). */
  pathStalled = false;
  /** Our address as the peer saw it on the nominated path (`local`→`remote`), to spot a NAT rebinding. */
  seenAs: { local: SocketAddress; remote: SocketAddress; mapped: SocketAddress } | undefined;

  constructor(
    readonly id: TId,
    readonly params: ConnectionParams & { controlling: boolean },
    readonly agent: IceAgent,
    readonly tunnel: Tunnel,
    readonly createdAt: number,
    readonly defaultConfig: IceConfig,
    readonly idleConfig: IceConfig,
  ) {
    this.lastActivity = createdAt;
  }

  /**
   * Whether packets go to WireGuard now rather than into the connecting buffer: once a path is
   * nominated on the controlling side (its tunnel queues them behind its initiation), and on the
   * controlled side once established or when the client's handshake stayed unconfirmed too long.
   */
  sendsToTunnel(now: number): boolean {
    if (this.path === undefined) return false;
    return this.established || this.params.controlling || now >= this.pathSince + RESPONDER_CONFIRMATION_GRACE;
  }

  /** Same keys, credentials and role: an upsert keeps this connection. */
  matches(p: ConnectionParams & { controlling: boolean }): boolean {
    const q = this.params;
    return (
      q.controlling === p.controlling &&
      bytesEqual(q.remoteKey, p.remoteKey) &&
      bytesEqual(q.psk, p.psk) &&
      q.localCreds.ufrag === p.localCreds.ufrag &&
      q.localCreds.pass === p.localCreds.pass &&
      q.remoteCreds.ufrag === p.remoteCreds.ufrag &&
      q.remoteCreds.pass === p.remoteCreds.pass
    );
  }

  /** Traffic, a candidate or an upsert: back to the busy ICE schedule. */
  resume(now: number): void {
    this.lastActivity = now;
    if (this.state === "idle") {
      this.state = "connected";
      this.agent.setConfig(this.defaultConfig);
    }
  }

  /** Why this connection must fail at `now`, if it must. */
  failure(now: number): FailureReason | undefined {
    if (this.remoteCandidates.length === 0 && !this.established && now >= this.createdAt + CANDIDATE_TIMEOUT) return "no-remote-candidates";
    if (this.disconnectedSince !== undefined && now >= this.disconnectedSince + DISCONNECT_TIMEOUT) return "ice-disconnected";
    return undefined;
  }

  /** The connection's own next deadline (failure or idling), with its reason. */
  nextDeadline(): { at: number; reason: string } | undefined {
    let best: { at: number; reason: string } | undefined;
    const consider = (at: number, reason: string) => {
      if (!best || at < best.at) best = { at, reason };
    };
    if (this.remoteCandidates.length === 0 && !this.established) consider(this.createdAt + CANDIDATE_TIMEOUT, "no remote candidate yet");
    if (this.disconnectedSince !== undefined) consider(this.disconnectedSince + DISCONNECT_TIMEOUT, "ICE disconnected");
    if (this.state === "connected") consider(this.lastActivity + MAX_IDLE, "connection idle");
    if (this.path && !this.established && !this.params.controlling && this.buffer.length > 0) {
      consider(this.pathSince + RESPONDER_CONFIRMATION_GRACE, "handshake unconfirmed, hand buffer to WireGuard");
    }
    return best;
  }

  /** Idle after MAX_IDLE without traffic: the ICE agent switches to its idle preset. */
  maybeIdle(now: number): boolean {
    if (this.state !== "connected" || now < this.lastActivity + MAX_IDLE) return false;
    this.state = "idle";
    this.agent.setConfig(this.idleConfig);
    return true;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
