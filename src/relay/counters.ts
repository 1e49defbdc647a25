/**
 * Why the relay dropped a packet. Every drop is counted under exactly one reason; the counts are
 * in `RelayServer.stats()` and the relay's debug logs.
 */
export const DROP_REASONS = [
  /** Empty datagram or one whose first byte is neither STUN (0–3) nor ChannelData (64–79). */
  "unknown-packet",
  /** From UDP source port 0: no reply is possible (crafted traffic). */
  "source-port-zero",
  /** STUN framing broken (length, cookie, attribute bounds, fingerprint). */
  "malformed-stun",
  /** A STUN response or indication sent to the relay (we only serve requests; no Send indications). */
  "not-a-request",
  /** ChannelData shorter than its header or its length field. */
  "malformed-channel-data",
  /** ChannelData from a 5-tuple that has no allocation. */
  "channel-data-no-allocation",
  /** ChannelData on a channel number this client never bound (or that was deleted). */
  "channel-data-no-channel",
  /** ChannelData on a binding that expired and was not refreshed. */
  "channel-data-unbound",
  /** Peer data on a relay port with no allocation (freed, or in the middle of being freed). */
  "peer-data-no-allocation",
  /** Peer data from an address with no (bound) channel: the relay is not an open proxy. */
  "peer-data-no-channel",
  /** Data for an allocation whose relay port is still being opened (or failed to open). */
  "relay-port-not-open",
  /** The socket would not take the datagram (kernel buffer full, or an error). */
  "send-failed",
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

/** Plain numeric fields so the packet path only does `+=`, no map lookups or allocation. */
export class RelayCounters {
  /**
   * ChannelData payloads the core routed from clients to peers (and below, peer datagrams routed
   * to clients). A route the driver then cannot send is also counted under `relay-port-not-open`
   * or `send-failed`.
   */
  clientToPeerPackets = 0;
  clientToPeerBytes = 0;
  /** Peer datagrams forwarded to clients as ChannelData (payload bytes). */
  peerToClientPackets = 0;
  peerToClientBytes = 0;
  /** STUN requests answered, by method name, and error responses by code. */
  readonly requests: Record<string, number> = {};
  readonly errors: Record<string, number> = {};
  readonly drops: Record<DropReason, number> = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  /** Errors the sockets reported, mostly ICMP unreachable from a client or peer that went away. */
  socketErrors = 0;
  allocationsCreated = 0;
  allocationsDeleted = 0;

  drop(reason: DropReason): void {
    this.drops[reason]++;
  }

  get totalDrops(): number {
    let n = 0;
    for (const r of DROP_REASONS) n += this.drops[r];
    return n;
  }
}
