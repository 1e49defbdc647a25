import { AddressMap } from "./address-map.ts";
import { CHANNEL_BINDING_DURATION_MS, CHANNEL_REBIND_TIMEOUT_MS } from "./constants.ts";

/** One channel binding of an allocation: channel number ⇄ peer transport address. */
export class Channel {
  /** Data flows only while bound; an expired binding stays (unbound) through the rebind cooldown. */
  bound = true;

  constructor(
    readonly number: number,
    readonly peerIp: string,
    readonly peerPort: number,
    readonly peerFamily: 4 | 6,
    /** Instant (ms) the binding stops carrying data unless refreshed. */
    public expiresAt: number,
  ) {}

  /** When the entry may be forgotten and its number and peer reused. */
  get deletableAt(): number {
    return this.expiresAt + CHANNEL_REBIND_TIMEOUT_MS;
  }
}

export type BindOutcome = "created" | "refreshed" | "number-in-use" | "peer-in-use";

/**
 * The channel bindings of one allocation (RFC 8656 §12), indexed both ways: by number for data from
 * the client, by peer address for data from peers. The RFC's rules: a number maps to one peer and a
 * peer to one number, for the binding's lifetime plus 5 minutes after it expires; binding the same
 * pair again refreshes it (and revives it during the cooldown, as Firezone's relay does).
 */
export class ChannelTable {
  readonly byNumber = new Map<number, Channel>();
  readonly byPeer = new AddressMap<Channel>();
  private boundCount = 0;

  get size(): number {
    return this.byNumber.size;
  }

  get bound(): number {
    return this.boundCount;
  }

  bind(number: number, peerIp: string, peerPort: number, peerFamily: 4 | 6, now: number): { outcome: BindOutcome; channel?: Channel } {
    const existing = this.byNumber.get(number);
    const forPeer = this.byPeer.get(peerIp, peerPort);
    if (forPeer !== undefined && forPeer.number !== number) return { outcome: "peer-in-use" };
    if (existing !== undefined) {
      if (existing.peerIp !== peerIp || existing.peerPort !== peerPort) return { outcome: "number-in-use" };
      if (!existing.bound) this.boundCount++;
      existing.bound = true;
      existing.expiresAt = now + CHANNEL_BINDING_DURATION_MS;
      return { outcome: "refreshed", channel: existing };
    }
    const channel = new Channel(number, peerIp, peerPort, peerFamily, now + CHANNEL_BINDING_DURATION_MS);
    this.byNumber.set(number, channel);
    this.byPeer.set(peerIp, peerPort, channel);
    this.boundCount++;
    return { outcome: "created", channel };
  }

  /**
   * Unbinds bindings whose lifetime ended and forgets those past the cooldown.
   * Returns the earliest instant at which something here changes next (Infinity if nothing will).
   */
  expire(now: number, onChange?: (channel: Channel, deleted: boolean) => void): number {
    let next = Infinity;
    for (const channel of this.byNumber.values()) {
      if (channel.bound && channel.expiresAt <= now) {
        channel.bound = false;
        this.boundCount--;
        onChange?.(channel, false);
      }
      if (!channel.bound && channel.deletableAt <= now) {
        this.byNumber.delete(channel.number);
        this.byPeer.delete(channel.peerIp, channel.peerPort);
        onChange?.(channel, true);
        continue;
      }
      const at = channel.bound ? channel.expiresAt : channel.deletableAt;
      if (at < next) next = at;
    }
    return next;
  }
}
