import { logger } from "../log/index.ts";
import {
  ATTR_CHANNEL_NUMBER,
  ATTR_ERROR_CODE,
  ATTR_EVEN_PORT,
  ATTR_LIFETIME,
  ATTR_MESSAGE_INTEGRITY,
  ATTR_NONCE,
  ATTR_REALM,
  ATTR_REQUESTED_ADDRESS_FAMILY,
  ATTR_REQUESTED_TRANSPORT,
  ATTR_USERNAME,
  ATTR_XOR_PEER_ADDRESS,
  ATTR_XOR_MAPPED_ADDRESS,
  ATTR_XOR_RELAYED_ADDRESS,
  ERR_ADDRESS_FAMILY_NOT_SUPPORTED,
  ERR_ALLOCATION_MISMATCH,
  ERR_ALLOCATION_QUOTA_REACHED,
  ERR_BAD_REQUEST,
  ERR_INSUFFICIENT_CAPACITY,
  ERR_PEER_ADDRESS_FAMILY_MISMATCH,
  ERR_STALE_NONCE,
  ERR_UNAUTHENTICATED,
  ERR_UNKNOWN_ATTRIBUTE,
  ERR_UNSUPPORTED_TRANSPORT_PROTOCOL,
  METHOD_ALLOCATE,
  METHOD_BINDING,
  METHOD_CHANNEL_BIND,
  METHOD_CREATE_PERMISSION,
  METHOD_REFRESH,
  MessageBuilder,
  TRANSPORT_UDP,
  getAdditionalAddressFamily,
  getChannelNumber,
  getLifetime,
  getNonce,
  getRealm,
  getRequestedAddressFamily,
  getRequestedTransport,
  getUsername,
  getXorPeerAddress,
  ipFamily,
  isMalformed,
  parseMessage,
  transactionKey,
  verifyIntegrity,
  type SocketAddress,
  type StunMessage,
} from "../stun/index.ts";
import { Allocation } from "./allocation.ts";
import { AllocationTable } from "./allocation-table.ts";
import type { Channel } from "./channel-table.ts";
import {
  CHANNEL_DATA_HEADER_LENGTH,
  CHANNEL_NUMBER_MAX,
  CHANNEL_NUMBER_MIN,
  DEFAULT_ALLOCATION_LIFETIME_MS,
  DEFAULT_MAX_ALLOCATIONS_PER_IP,
  DEFAULT_MAX_PORT,
  DEFAULT_MIN_PORT,
  MAX_ALLOCATION_LIFETIME_MS,
  REALM,
  SOFTWARE,
} from "./constants.ts";
import { RelayCounters, type DropReason } from "./counters.ts";
import { checkUsername } from "./credentials.ts";
import { NonceStore } from "./nonce-store.ts";
import { PortAllocator } from "./port-allocator.ts";
import { CryptoRandom, type RandomSource } from "./random-source.ts";

export interface RelayServerConfig {
  /** The shared secret credentials are derived from (see credentials.ts). */
  secret: string;
  /** Addresses put in XOR-RELAYED-ADDRESS; at least one. A family without one is not offered. */
  publicIpv4?: string;
  publicIpv6?: string;
  minPort?: number;
  maxPort?: number;
  maxAllocationsPerIp?: number;
  random?: RandomSource;
  software?: string;
}

/** What the driver must do besides sending `pollTransmit()` datagrams. */
export type RelayEvent =
  | { type: "allocation-created"; port: number; ipv4: boolean; ipv6: boolean; client: SocketAddress }
  | { type: "allocation-freed"; port: number; ipv4: boolean; ipv6: boolean };

export interface RelayTransmit {
  /** The client to answer, from the relay's listening socket of the same family. */
  to: SocketAddress;
  bytes: Uint8Array;
}

export interface RelayTimeout {
  at: number;
  reason: "allocation-or-channel-expiry";
}

export interface RelayStats {
  allocations: number;
  channels: number;
  boundChannels: number;
  nonces: number;
  portsInUse: number;
  portCapacity: number;
  counters: RelayCounters;
}

const log = logger("relay::server");

/**
 * Comprehension-required attributes a request to us may carry: those Firezone's relay decodes
 * (its `define_attribute_enums!` list in rust/relay/proto/src/server.rs), plus EVEN-PORT, which we
 * honour without reservations (turnutils_uclient adds it at random; Firezone answers it with 420).
 * Anything else below 0x8000 (RESERVATION-TOKEN, DONT-FRAGMENT, MESSAGE-INTEGRITY-SHA256, ...) is
 * a feature we do not offer, and RFC 8489 §7.3.1 says to refuse it with 420.
 */
const RELAY_KNOWN_ATTRIBUTES: ReadonlySet<number> = new Set([
  ATTR_MESSAGE_INTEGRITY,
  ATTR_XOR_MAPPED_ADDRESS,
  ATTR_ERROR_CODE,
  ATTR_REQUESTED_TRANSPORT,
  ATTR_XOR_RELAYED_ADDRESS,
  ATTR_LIFETIME,
  ATTR_CHANNEL_NUMBER,
  ATTR_XOR_PEER_ADDRESS,
  ATTR_NONCE,
  ATTR_REALM,
  ATTR_USERNAME,
  ATTR_REQUESTED_ADDRESS_FAMILY,
  ATTR_EVEN_PORT,
]);

const METHOD_NAMES: Record<number, string> = {
  [METHOD_BINDING]: "binding",
  [METHOD_ALLOCATE]: "allocate",
  [METHOD_REFRESH]: "refresh",
  [METHOD_CHANNEL_BIND]: "channel-bind",
  [METHOD_CREATE_PERMISSION]: "create-permission",
};

const REASON_PHRASES: Record<number, string> = {
  [ERR_BAD_REQUEST]: "Bad Request",
  [ERR_UNAUTHENTICATED]: "Unauthenticated",
  [ERR_UNKNOWN_ATTRIBUTE]: "Unknown Attribute",
  [ERR_ALLOCATION_MISMATCH]: "Allocation Mismatch",
  [ERR_STALE_NONCE]: "Stale Nonce",
  [ERR_ADDRESS_FAMILY_NOT_SUPPORTED]: "Address Family not Supported",
  [ERR_UNSUPPORTED_TRANSPORT_PROTOCOL]: "Unsupported Transport Protocol",
  [ERR_PEER_ADDRESS_FAMILY_MISMATCH]: "Peer Address Family Mismatch",
  [ERR_ALLOCATION_QUOTA_REACHED]: "Allocation Quota Reached",
  [ERR_INSUFFICIENT_CAPACITY]: "Insufficient Capacity",
};

/** A refused request: the error code, and whether the answer may be signed (we know the user's key). */
class Refusal {
  constructor(
    readonly code: number,
    readonly why: string,
    readonly key: Uint8Array | null = null,
  ) {}
}

interface Authenticated {
  username: string;
  key: Uint8Array;
}

/**
 * A sans-IO STUN/TURN server in the manner of Firezone's relay (rust/relay/proto/src/server.rs):
 * BINDING, ALLOCATE, REFRESH, CHANNEL-BIND, CREATE-PERMISSION (accepted, no effect) and ChannelData
 * over UDP; data moves only over bound channels, so the relay is never an open proxy.
 *
 * The driver feeds datagrams from the listening socket to `handleClientPacket` and datagrams that
 * arrive on allocation ports to `handlePeerPacket`; for data both return the `Channel` to forward
 * on (payload length in `routedLength`), or null after counting the drop. Control answers come out
 * of `pollTransmit`, socket work (open/close an allocation port) out of `pollEvent`.
 *
 * Time is `now` in milliseconds from a monotonic clock; credential expiry needs wall-clock time,
 * which the driver provides through `setUnixTime`.
 */
export class RelayServer {
  readonly counters = new RelayCounters();
  /** Payload length of the datagram the last handle*Packet call routed. */
  routedLength = 0;
  /** Offset of that payload in the datagram (4 for ChannelData from a client, 0 from a peer). */
  routedOffset = 0;

  private readonly allocations = new AllocationTable();
  private readonly ports: PortAllocator;
  private readonly nonces: NonceStore;
  private readonly transmits: RelayTransmit[] = [];
  private readonly events: RelayEvent[] = [];
  private readonly secret: string;
  private readonly publicIpv4: string | undefined;
  private readonly publicIpv6: string | undefined;
  private readonly maxPerIp: number;
  private readonly software: string;
  /** unix ms minus monotonic ms. */
  private unixOffset = 0;
  /** Earliest instant anything may expire; may be early (a refresh moved it on), never late. */
  private nextDeadline = Infinity;

  constructor(config: RelayServerConfig) {
    if (!config.publicIpv4 && !config.publicIpv6) throw new RangeError("the relay needs a public IPv4 or IPv6 address");
    if (config.publicIpv4 && ipFamily(config.publicIpv4) !== 4) throw new RangeError(`not an IPv4 address: ${config.publicIpv4}`);
    if (config.publicIpv6 && ipFamily(config.publicIpv6) !== 6) throw new RangeError(`not an IPv6 address: ${config.publicIpv6}`);
    if (!config.secret) throw new RangeError("the relay secret must not be empty");
    const random = config.random ?? new CryptoRandom();
    this.secret = config.secret;
    this.publicIpv4 = config.publicIpv4;
    this.publicIpv6 = config.publicIpv6;
    this.ports = new PortAllocator(config.minPort ?? DEFAULT_MIN_PORT, config.maxPort ?? DEFAULT_MAX_PORT, random);
    this.nonces = new NonceStore(random);
    this.maxPerIp = config.maxAllocationsPerIp ?? DEFAULT_MAX_ALLOCATIONS_PER_IP;
    this.software = config.software ?? SOFTWARE;
  }

  /** Ties the monotonic `now` to wall-clock time, for credential expiry. Call at start and now and then. */
  setUnixTime(unixMs: number, now: number): void {
    this.unixOffset = unixMs - now;
  }

  /**
   * A datagram from a client to the listening port. ChannelData on a bound channel returns the
   * channel to forward `data[routedOffset, routedOffset + routedLength)` to; everything else returns
   * null (STUN is answered through pollTransmit; junk is counted as dropped).
   */
  handleClientPacket(ip: string, port: number, data: Uint8Array, now: number): Channel | null {
    const first = data.length > 0 ? data[0]! : 0xff;
    // ChannelData: first byte 0x40–0x7F, the channel numbers we bind (see CHANNEL_NUMBER_MAX).
    if (first >= 0x40 && first <= 0x7f) return this.routeChannelData(ip, port, data, now);
    if (port === 0) return this.drop("source-port-zero");
    if (first <= 3) {
      this.handleStun(ip, port, data, now);
      return null;
    }
    return this.drop("unknown-packet");
  }

  /**
   * A datagram from a peer to allocation port `allocationPort`. Returns the channel whose client
   * gets it as ChannelData (channel.number, allocation in `channelOwner`), or null (counted drop).
   */
  handlePeerPacket(allocationPort: number, ip: string, port: number, length: number): Channel | null {
    const allocation = this.allocations.forPort(allocationPort);
    if (allocation === undefined) return this.drop("peer-data-no-allocation");
    const channel = allocation.channels.byPeer.get(ip, port);
    if (channel === undefined || !channel.bound) return this.drop("peer-data-no-channel");
    this.routedOffset = 0;
    this.routedLength = length;
    this.lastOwner = allocation;
    this.counters.peerToClientPackets++;
    this.counters.peerToClientBytes += length;
    return channel;
  }

  /** The allocation the channel last returned by handle*Packet belongs to. */
  get channelOwner(): Allocation {
    return this.lastOwner!;
  }
  private lastOwner: Allocation | null = null;

  /** The driver could not open the allocation's port: free it so the client re-allocates (437 on refresh). */
  allocationFailed(port: number): void {
    const allocation = this.allocations.forPort(port);
    if (allocation !== undefined) {
      log.warn("could not open allocation port; freeing the allocation", { port });
      this.deleteAllocation(allocation, "port-unavailable");
    }
    this.ports.markRefused(port);
  }

  handleTimeout(now: number): void {
    if (now < this.nextDeadline) return;
    let next = Infinity;
    for (const allocation of [...this.allocations.values()]) {
      if (allocation.expiresAt <= now) {
        this.deleteAllocation(allocation, "expired");
        continue;
      }
      next = Math.min(next, allocation.expiresAt);
      const channels = allocation.channels.expire(now, (channel, deleted) =>
        log.debug(deleted ? "channel forgotten after the rebind cooldown" : "channel binding expired", {
          port: allocation.port,
          channel: channel.number,
          peer: `${channel.peerIp}:${channel.peerPort}`,
        }),
      );
      next = Math.min(next, channels);
    }
    this.nextDeadline = next;
  }

  pollTimeout(): RelayTimeout | null {
    return this.nextDeadline === Infinity ? null : { at: this.nextDeadline, reason: "allocation-or-channel-expiry" };
  }

  pollTransmit(): RelayTransmit | undefined {
    return this.transmits.shift();
  }

  pollEvent(): RelayEvent | undefined {
    return this.events.shift();
  }

  /** Frees every allocation (the driver closes their ports); for shutdown. */
  shutdown(): void {
    for (const allocation of [...this.allocations.values()]) this.deleteAllocation(allocation, "shutdown");
  }

  stats(): RelayStats {
    let channels = 0;
    let bound = 0;
    for (const a of this.allocations.values()) {
      channels += a.channels.size;
      bound += a.channels.bound;
    }
    return {
      allocations: this.allocations.size,
      channels,
      boundChannels: bound,
      nonces: this.nonces.size,
      portsInUse: this.ports.inUse,
      portCapacity: this.ports.capacity,
      counters: this.counters,
    };
  }

  allocationFor(ip: string, port: number): Allocation | undefined {
    return this.allocations.forClient(ip, port);
  }

  // ---- data path -------------------------------------------------------------------------------

  private routeChannelData(ip: string, port: number, data: Uint8Array, _now: number): Channel | null {
    if (data.length < CHANNEL_DATA_HEADER_LENGTH) return this.drop("malformed-channel-data");
    const number = (data[0]! << 8) | data[1]!;
    const length = (data[2]! << 8) | data[3]!;
    // Firezone accepts trailing bytes past `length` (UDP padding), so do we.
    if (data.length - CHANNEL_DATA_HEADER_LENGTH < length) return this.drop("malformed-channel-data");
    const allocation = this.allocations.forClient(ip, port);
    if (allocation === undefined) return this.drop("channel-data-no-allocation");
    const channel = allocation.channels.byNumber.get(number);
    if (channel === undefined) return this.drop("channel-data-no-channel");
    if (!channel.bound) return this.drop("channel-data-unbound");
    this.routedOffset = CHANNEL_DATA_HEADER_LENGTH;
    this.routedLength = length;
    this.lastOwner = allocation;
    this.counters.clientToPeerPackets++;
    this.counters.clientToPeerBytes += length;
    return channel;
  }

  private drop(reason: DropReason): null {
    this.counters.drops[reason]++;
    return null;
  }

  // ---- control path ----------------------------------------------------------------------------

  private handleStun(ip: string, port: number, data: Uint8Array, now: number): void {
    const parsed = parseMessage(data);
    if (!parsed.ok) {
      log.debug("dropping malformed STUN", { from: `${ip}:${port}`, reason: parsed.reason });
      this.drop("malformed-stun");
      return;
    }
    const msg = parsed.message;
    if (msg.cls !== "request") {
      // Responses are never for us, and we offer no Send indications (data goes over channels).
      this.drop("not-a-request");
      return;
    }
    const from: SocketAddress = { ip, port };
    const method = METHOD_NAMES[msg.method];
    this.counters.requests[method ?? "other"] = (this.counters.requests[method ?? "other"] ?? 0) + 1;
    const unknown = msg.unknownComprehensionRequired(RELAY_KNOWN_ATTRIBUTES);
    if (unknown.length > 0) {
      const types = unknown.map((t) => `0x${t.toString(16).padStart(4, "0")}`).join(",");
      this.respondError(msg, from, new Refusal(ERR_UNKNOWN_ATTRIBUTE, `unknown comprehension-required attributes ${types}`), unknown);
      return;
    }
    let outcome: Refusal | null;
    switch (msg.method) {
      case METHOD_BINDING:
        outcome = this.handleBinding(msg, from);
        break;
      case METHOD_ALLOCATE:
        outcome = this.handleAllocate(msg, from, now);
        break;
      case METHOD_REFRESH:
        outcome = this.handleRefresh(msg, from, now);
        break;
      case METHOD_CHANNEL_BIND:
        outcome = this.handleChannelBind(msg, from, now);
        break;
      case METHOD_CREATE_PERMISSION:
        outcome = this.handleCreatePermission(msg, from, now);
        break;
      default:
        outcome = new Refusal(ERR_BAD_REQUEST, `method 0x${msg.method.toString(16)} is not served`);
    }
    if (outcome !== null) this.respondError(msg, from, outcome);
  }

  private handleBinding(msg: StunMessage, from: SocketAddress): null {
    const b = new MessageBuilder(METHOD_BINDING, "success", msg.transactionId);
    b.addXorAddress(ATTR_XOR_MAPPED_ADDRESS, from).addSoftware(this.software);
    this.send(from, b);
    return null;
  }

  private handleAllocate(msg: StunMessage, from: SocketAddress, now: number): Refusal | null {
    const auth = this.authenticate(msg, from, now);
    if (auth instanceof Refusal) return auth;
    const existing = this.allocations.forClient(from.ip, from.port);
    if (existing !== undefined) {
      // A retransmitted Allocate whose success got lost: answer it again (RFC 8656 §7.2 step 2).
      if (existing.allocateTransaction === msg.transactionKey() && existing.allocateResponse !== null) {
        this.transmits.push({ to: from, bytes: existing.allocateResponse });
        return null;
      }
      return new Refusal(ERR_ALLOCATION_MISMATCH, "this 5-tuple already has an allocation", auth.key);
    }
    const transport = getRequestedTransport(msg);
    if (transport === undefined || isMalformed(transport)) return new Refusal(ERR_BAD_REQUEST, "REQUESTED-TRANSPORT missing or malformed", auth.key);
    if (transport !== TRANSPORT_UDP) return new Refusal(ERR_UNSUPPORTED_TRANSPORT_PROTOCOL, `transport ${transport} is not UDP`, auth.key);
    const families = this.relayFamilies(msg, auth.key);
    if (families instanceof Refusal) return families;
    const lifetime = getLifetime(msg);
    if (isMalformed(lifetime)) return new Refusal(ERR_BAD_REQUEST, "LIFETIME malformed", auth.key);
    if (this.allocations.countForIp(from.ip) >= this.maxPerIp) {
      return new Refusal(ERR_ALLOCATION_QUOTA_REACHED, `client host holds ${this.maxPerIp} allocations already`, auth.key);
    }
    // One allocation per username: a client that roamed (new 5-tuple) leaves its old one behind.
    const previous = this.allocations.forUsername(auth.username);
    if (previous !== undefined) this.deleteAllocation(previous, "replaced by a new allocation for the same username");
    const evenPort = msg.value(ATTR_EVEN_PORT);
    if (evenPort !== undefined && evenPort.length !== 1) return new Refusal(ERR_BAD_REQUEST, "EVEN-PORT malformed", auth.key);
    // RFC 8656 §7.2: an R bit asks us to reserve the next port too; we keep no reservations, so we
    // cannot satisfy it (508). Without it, EVEN-PORT only asks for an even port, which we give.
    if (evenPort !== undefined && (evenPort[0]! & 0x80) !== 0) {
      return new Refusal(ERR_INSUFFICIENT_CAPACITY, "EVEN-PORT with a reservation is not offered", auth.key);
    }
    const port = this.ports.take(evenPort !== undefined);
    if (port === null) return new Refusal(ERR_INSUFFICIENT_CAPACITY, "no relay port left", auth.key);

    const lifetimeMs = effectiveLifetime(lifetime);
    const allocation = new Allocation(port, from.ip, from.port, ipFamily(from.ip), auth.username, families.v4, families.v6, now + lifetimeMs);
    this.allocations.add(allocation);
    this.counters.allocationsCreated++;
    this.deadline(allocation.expiresAt);

    const b = new MessageBuilder(METHOD_ALLOCATE, "success", msg.transactionId);
    if (families.v4) b.addXorAddress(ATTR_XOR_RELAYED_ADDRESS, { ip: this.publicIpv4!, port });
    if (families.v6) b.addXorAddress(ATTR_XOR_RELAYED_ADDRESS, { ip: this.publicIpv6!, port });
    b.addXorAddress(ATTR_XOR_MAPPED_ADDRESS, from).addLifetime(lifetimeMs / 1000);
    const bytes = this.send(from, b, auth.key);
    allocation.allocateTransaction = msg.transactionKey();
    allocation.allocateResponse = bytes;
    this.events.push({ type: "allocation-created", port, ipv4: families.v4, ipv6: families.v6, client: from });
    log.info("created allocation", {
      client: fmt(from),
      port,
      ipv4: families.v4,
      ipv6: families.v6,
      lifetime_s: lifetimeMs / 1000,
      username: auth.username,
    });
    return null;
  }

  /**
   * Which relayed addresses an Allocate gets (Firezone's `derive_relay_addresses`): IPv4 by default,
   * REQUESTED-ADDRESS-FAMILY picks one family, ADDITIONAL-ADDRESS-FAMILY=IPv6 adds IPv6 on the same
   * port. A dual request on a single-stack relay is partly fulfilled, as Firezone does.
   */
  private relayFamilies(msg: StunMessage, key: Uint8Array): { v4: boolean; v6: boolean } | Refusal {
    const requested = getRequestedAddressFamily(msg);
    const additional = getAdditionalAddressFamily(msg) ?? draftAdditionalFamily(msg);
    if (isMalformed(requested) || isMalformed(additional)) return new Refusal(ERR_BAD_REQUEST, "address family attribute malformed", key);
    if (requested !== undefined && additional !== undefined) {
      return new Refusal(ERR_BAD_REQUEST, "REQUESTED- and ADDITIONAL-ADDRESS-FAMILY together", key);
    }
    if (additional === 4) return new Refusal(ERR_BAD_REQUEST, "ADDITIONAL-ADDRESS-FAMILY must be IPv6", key);
    const has4 = this.publicIpv4 !== undefined;
    const has6 = this.publicIpv6 !== undefined;
    if (additional === 6) {
      if (has4) return { v4: true, v6: has6 };
      return { v4: false, v6: true };
    }
    if (requested === 6) return has6 ? { v4: false, v6: true } : new Refusal(ERR_ADDRESS_FAMILY_NOT_SUPPORTED, "no IPv6 relay address", key);
    return has4 ? { v4: true, v6: false } : new Refusal(ERR_ADDRESS_FAMILY_NOT_SUPPORTED, "no IPv4 relay address", key);
  }

  private handleRefresh(msg: StunMessage, from: SocketAddress, now: number): Refusal | null {
    const auth = this.authenticate(msg, from, now);
    if (auth instanceof Refusal) return auth;
    const allocation = this.allocations.forClient(from.ip, from.port);
    if (allocation === undefined) return new Refusal(ERR_ALLOCATION_MISMATCH, "no allocation to refresh", auth.key);
    const lifetime = getLifetime(msg);
    if (isMalformed(lifetime)) return new Refusal(ERR_BAD_REQUEST, "LIFETIME malformed", auth.key);
    const b = new MessageBuilder(METHOD_REFRESH, "success", msg.transactionId);
    if (lifetime === 0) {
      this.deleteAllocation(allocation, "deleted by the client");
      b.addLifetime(0);
    } else {
      const lifetimeMs = effectiveLifetime(lifetime);
      allocation.expiresAt = now + lifetimeMs;
      this.deadline(allocation.expiresAt);
      b.addLifetime(lifetimeMs / 1000);
      log.debug("refreshed allocation", { client: fmt(from), port: allocation.port, lifetime_s: lifetimeMs / 1000 });
    }
    this.send(from, b, auth.key);
    return null;
  }

  private handleChannelBind(msg: StunMessage, from: SocketAddress, now: number): Refusal | null {
    const auth = this.authenticate(msg, from, now);
    if (auth instanceof Refusal) return auth;
    const allocation = this.allocations.forClient(from.ip, from.port);
    if (allocation === undefined) return new Refusal(ERR_ALLOCATION_MISMATCH, "no allocation for a channel", auth.key);
    const number = getChannelNumber(msg);
    if (number === undefined || isMalformed(number)) return new Refusal(ERR_BAD_REQUEST, "CHANNEL-NUMBER missing or malformed", auth.key);
    if (number < CHANNEL_NUMBER_MIN || number > CHANNEL_NUMBER_MAX) {
      return new Refusal(ERR_BAD_REQUEST, `channel 0x${number.toString(16)} out of range`, auth.key);
    }
    const peer = getXorPeerAddress(msg);
    if (peer === undefined || isMalformed(peer)) return new Refusal(ERR_BAD_REQUEST, "XOR-PEER-ADDRESS missing or malformed", auth.key);
    const family = ipFamily(peer.ip);
    if (!allocation.canRelayTo(family)) {
      return new Refusal(ERR_PEER_ADDRESS_FAMILY_MISMATCH, `allocation has no IPv${family} relayed address`, auth.key);
    }
    const { outcome } = allocation.channels.bind(number, peer.ip, peer.port, family, now);
    if (outcome === "number-in-use") return new Refusal(ERR_BAD_REQUEST, "channel is bound to another peer", auth.key);
    if (outcome === "peer-in-use") return new Refusal(ERR_BAD_REQUEST, "peer is bound to another channel", auth.key);
    this.deadline(allocation.channels.byNumber.get(number)!.expiresAt);
    log.debug(outcome === "created" ? "bound channel" : "refreshed channel", {
      client: fmt(from),
      port: allocation.port,
      channel: number,
      peer: fmt(peer),
    });
    this.send(from, new MessageBuilder(METHOD_CHANNEL_BIND, "success", msg.transactionId), auth.key);
    return null;
  }

  /** Firezone's relay accepts CreatePermission and does nothing: data only moves over channels. */
  private handleCreatePermission(msg: StunMessage, from: SocketAddress, now: number): Refusal | null {
    const auth = this.authenticate(msg, from, now);
    if (auth instanceof Refusal) return auth;
    this.send(from, new MessageBuilder(METHOD_CREATE_PERMISSION, "success", msg.transactionId), auth.key);
    return null;
  }

  /**
   * Long-term credentials in Firezone's order: MESSAGE-INTEGRITY and USERNAME present (401), a
   * NONCE we issued to this socket with uses left (438), then the username's expiry and the HMAC
   * (401). A REALM other than ours is refused up front (its key could never match).
   */
  private authenticate(msg: StunMessage, from: SocketAddress, now: number): Authenticated | Refusal {
    if (!msg.has(ATTR_MESSAGE_INTEGRITY)) return new Refusal(ERR_UNAUTHENTICATED, "no MESSAGE-INTEGRITY");
    const username = getUsername(msg);
    if (username === undefined || isMalformed(username)) return new Refusal(ERR_UNAUTHENTICATED, "USERNAME missing or malformed");
    // Errors are signed with the user's key when the username yields one, like Firezone's relay;
    // an expired username still has a key, so the client can trust our 401.
    const check = checkUsername(this.secret, username, Number.NEGATIVE_INFINITY);
    const key = check.ok ? check.key : null;
    const realm = getRealm(msg);
    if (realm !== undefined && realm !== REALM) return new Refusal(ERR_UNAUTHENTICATED, "unknown realm", key);
    const nonce = getNonce(msg);
    if (nonce === undefined || isMalformed(nonce)) return new Refusal(ERR_UNAUTHENTICATED, "NONCE missing or malformed", key);
    const used = this.nonces.use(clientKey(from), nonce);
    if (used !== "ok") return new Refusal(ERR_STALE_NONCE, `nonce ${used}`, key);
    const valid = checkUsername(this.secret, username, (now + this.unixOffset) / 1000);
    if (!valid.ok) return new Refusal(ERR_UNAUTHENTICATED, valid.error === "Expired" ? "credentials expired" : "username is not <expiry>:<salt>", key);
    if (!verifyIntegrity(msg, valid.key)) return new Refusal(ERR_UNAUTHENTICATED, "MESSAGE-INTEGRITY does not match", key);
    return { username, key: valid.key };
  }

  private respondError(msg: StunMessage, from: SocketAddress, refusal: Refusal, unknown?: number[]): void {
    const code = String(refusal.code);
    this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1;
    log.debug("refused request", {
      client: fmt(from),
      method: METHOD_NAMES[msg.method] ?? msg.method,
      code: refusal.code,
      why: refusal.why,
    });
    const b = new MessageBuilder(msg.method, "error", msg.transactionId);
    b.addErrorCode(refusal.code, REASON_PHRASES[refusal.code] ?? "Error");
    if (unknown) b.addUnknownAttributes(unknown);
    // RFC 8489 §9.2.4: 401 and 438 carry the realm and a nonce to use next.
    if (refusal.code === ERR_UNAUTHENTICATED || refusal.code === ERR_STALE_NONCE) {
      b.addRealm(REALM).addNonce(this.nonces.issue(clientKey(from)));
    }
    this.send(from, b, refusal.key);
  }

  private send(to: SocketAddress, b: MessageBuilder, key: Uint8Array | null = null): Uint8Array | null {
    b.addSoftware(this.software);
    if (key !== null) b.addMessageIntegrity(key);
    const built = b.finish();
    if (!built.ok) {
      // Every response we build fits in the 1280-byte default buffer; this would be our own bug.
      log.error("could not build a STUN response", { reason: built.reason, to: fmt(to) });
      return null;
    }
    this.transmits.push({ to, bytes: built.bytes });
    return built.bytes;
  }

  private deleteAllocation(allocation: Allocation, why: string): void {
    this.allocations.remove(allocation);
    this.ports.release(allocation.port);
    this.counters.allocationsDeleted++;
    this.events.push({ type: "allocation-freed", port: allocation.port, ipv4: allocation.relayV4, ipv6: allocation.relayV6 });
    log.info("deleted allocation", {
      port: allocation.port,
      client: fmt({ ip: allocation.clientIp, port: allocation.clientPort }),
      channels: allocation.channels.size,
      why,
    });
  }

  private deadline(at: number): void {
    if (at < this.nextDeadline) this.nextDeadline = at;
  }
}

/**
 * RFC 8656 §7.2: min(requested, maximum), but never below the default; absent → default.
 * (A Refresh with 0 deletes and never gets here.)
 */
function effectiveLifetime(requestedSeconds: number | undefined): number {
  if (requestedSeconds === undefined) return DEFAULT_ALLOCATION_LIFETIME_MS;
  const ms = Math.min(requestedSeconds * 1000, MAX_ALLOCATION_LIFETIME_MS);
  return Math.max(ms, DEFAULT_ALLOCATION_LIFETIME_MS);
}

/**
 * coturn up to 4.6 (turnutils_uclient -Z) sends ADDITIONAL-ADDRESS-FAMILY under the draft code
 * point 0x8032 instead of RFC 8656's 0x8000. We read it only when 0x8000 is absent, only in an
 * Allocate, and only with the exact IPv6 value, so nothing else that may use 0x8032 is misread.
 */
const ATTR_ADDITIONAL_ADDRESS_FAMILY_DRAFT = 0x8032;

function draftAdditionalFamily(msg: StunMessage): 6 | undefined {
  const v = msg.value(ATTR_ADDITIONAL_ADDRESS_FAMILY_DRAFT);
  return v !== undefined && v.length === 4 && v[0] === 0x02 && v[1] === 0 && v[2] === 0 && v[3] === 0 ? 6 : undefined;
}

function clientKey(a: SocketAddress): string {
  return `${a.ip}|${a.port}`;
}

function fmt(a: SocketAddress): string {
  return a.ip.includes(":") ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}
