/**
 * The data types of the snownet Node's API: what goes in (relays, connection parameters) and
 * what comes out (transmits, events, results). See node.ts for the Node itself.
 */
import type { IceCredentials } from "../ice/agent.ts";
import type { SocketAddress } from "../stun/index.ts";

export type { IceCredentials, SocketAddress };

/** A relay as the portal describes it: one address per family it listens on, TURN credentials. */
export interface RelayConfig<RId> {
  id: RId;
  v4?: SocketAddress;
  v6?: SocketAddress;
  username: string;
  password: string;
  /** Defaults to "firezone". */
  realm?: string;
}

/** Everything that makes a connection; a reused upsert must match all of it. */
export interface ConnectionParams {
  /** The peer's static X25519 public key (32 bytes). */
  remoteKey: Uint8Array;
  /** The portal's pre-shared key for this pair (32 bytes). */
  psk: Uint8Array;
  localCreds: IceCredentials;
  remoteCreds: IceCredentials;
  /** ICE role; defaults to the node's role (client = controlling, gateway = controlled). */
  controlling?: boolean;
}

/** A datagram to send. `src` is the local socket to send from; absent means "the default one". */
export interface Transmit {
  src?: SocketAddress;
  dst: SocketAddress;
  payload: Uint8Array;
}

export type ConnectionState = "connecting" | "connected" | "idle";

export type FailureReason = "no-remote-candidates" | "ice-disconnected" | "wireguard-expired";

/** How data flows to the peer: direct, or through a relay on our side and/or theirs. */
export type PathKind = "peer-to-peer" | "peer-to-relay" | "relay-to-peer" | "relay-to-relay";

export type NodeEvent<TId> =
  /** Signal this candidate (SDP attribute value) to the peer through the portal. */
  | { type: "new-ice-candidate"; connection: TId; candidate: string }
  /** Tell the peer this candidate is gone. */
  | { type: "invalidate-ice-candidate"; connection: TId; candidate: string }
  /** Handshake complete and a path nominated: data flows. */
  | { type: "connection-established"; connection: TId; path: PathKind; local: SocketAddress; remote: SocketAddress }
  /** The connection is gone (state dropped); the caller decides whether to reconnect. Caller state is its own. */
  | { type: "connection-failed"; connection: TId; reason: FailureReason }
  /** The peer said Goodbye (or the node was reset): reconnect at once if still wanted. */
  | { type: "connection-closed"; connection: TId; reason: "goodbye" | "reset" }
  /** A connection needs relay candidates and no relay has answered yet; tell the portal (`no_relays`). */
  | { type: "no-relays"; connection: TId }
  /** `reset` made a new static key: reconnect the portal with this public key. */
  | { type: "public-key-changed"; publicKey: Uint8Array };

/**
 * Result of `encapsulate`, one reused object per node (valid until the next call):
 * `transmit` → send `buf[offset, offset+length)` from `src` (absent: default socket) to `dst`.
 */
export interface EncapsulateResult {
  status: "transmit" | "still-connecting" | "dropped";
  src: SocketAddress | undefined;
  dst: SocketAddress;
  buf: Uint8Array;
  offset: number;
  length: number;
}

/**
 * Result of `handleInput` for an IP packet to write to the TUN device, one reused object per
 * node: `buf[offset, offset+length)`, from peer `connection`. Valid until the next call.
 */
export interface ReceivedPacket<TId> {
  connection: TId;
  buf: Uint8Array;
  offset: number;
  length: number;
}

export interface ConnectionInfo {
  state: ConnectionState;
  established: boolean;
  controlling: boolean;
  iceState: string;
  iceConfig: string;
  path: { kind: PathKind; local: SocketAddress; remote: SocketAddress } | undefined;
  relay: unknown;
  handshakesCompleted: number;
  initiationsSent: number;
  rollovers: number;
  buffered: number;
  remoteCandidates: number;
  localCandidates: string[];
}

export interface NodeStats {
  connections: number;
  allocations: number;
  /** Every dropped datagram or packet, by reason (`ice:`/`turn:` prefixes: counted by those parts). */
  drops: Record<string, number>;
  /** Datagrams handled, by kind (demux proof). */
  received: Record<string, number>;
}
