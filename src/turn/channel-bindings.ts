/**
 * Channel numbers bound on one allocation (RFC 8656 §12), Firezone style:
 * numbers 0x4000–0x4FFF handed out round-robin; a binding is usable for sending from the moment
 * it is requested (the relay usually has it before the data arrives), and for receiving too (data
 * on it means the relay accepted the bind before its answer reached us); refreshed at half its lifetime only if data arrived on it; reusable only after
 * lifetime + 5 min of silence.
 */

import { addressKey, sameAddress, type SocketAddress } from "../stun/index.ts";
import {
  CHANNEL_LIFETIME_MS,
  CHANNEL_REBIND_TIMEOUT_MS,
  CHANNEL_REFRESH_AFTER_MS,
  FIRST_CHANNEL,
  LAST_CHANNEL,
} from "./constants.ts";

export class Channel {
  constructor(
    readonly number: number,
    readonly peer: SocketAddress,
    /** False until the relay confirmed the ChannelBind. */
    public bound: boolean,
    /** When the binding was requested or last confirmed. */
    public boundAt: number,
    public lastReceived: number,
  ) {}

  age(now: number): number {
    return now - this.boundAt;
  }

  /** Nothing was received since the binding was made or refreshed. */
  noActivity(): boolean {
    return this.lastReceived === this.boundAt;
  }

  /** Bound and alive: the relay forwards in both directions. */
  connectedTo(peer: SocketAddress, now: number): boolean {
    return this.bound && this.age(now) < CHANNEL_LIFETIME_MS && sameAddress(this.peer, peer);
  }

  /** Requested (maybe unconfirmed) and not yet expired: good enough to send on. */
  usableFor(peer: SocketAddress, now: number): boolean {
    return this.age(now) < CHANNEL_LIFETIME_MS && sameAddress(this.peer, peer);
  }

  /** The relay still reserves this number for this peer (lifetime + rebind cooldown). */
  reservedFor(peer: SocketAddress, now: number): boolean {
    return this.bound && this.age(now) < CHANNEL_LIFETIME_MS + CHANNEL_REBIND_TIMEOUT_MS && sameAddress(this.peer, peer);
  }

  canRebind(now: number): boolean {
    return this.noActivity() && this.age(now) >= CHANNEL_LIFETIME_MS + CHANNEL_REBIND_TIMEOUT_MS;
  }

  needsRefresh(now: number): boolean {
    return this.age(now) >= CHANNEL_REFRESH_AFTER_MS && !this.noActivity();
  }

  confirm(now: number): void {
    this.bound = true;
    this.boundAt = now;
    this.lastReceived = now;
  }
}

export class ChannelBindings {
  private readonly byNumber = new Map<number, Channel>();
  private nextNumber = FIRST_CHANNEL;
  /**
   * Send-path cache keyed by the caller's peer object (a Map lookup by object reference allocates
   * nothing, unlike building an "ip:port" key per packet). Cleared whenever bindings change.
   */
  private readonly sendCache = new Map<SocketAddress, Channel>();

  get size(): number {
    return this.byNumber.size;
  }

  get(number: number): Channel | undefined {
    return this.byNumber.get(number);
  }

  values(): IterableIterator<Channel> {
    return this.byNumber.values();
  }

  /** Channel to send `peer`'s data on: a confirmed one first, else one still being bound. */
  channelForSending(peer: SocketAddress, now: number): Channel | undefined {
    const cached = this.sendCache.get(peer);
    if (cached && this.byNumber.get(cached.number) === cached && cached.usableFor(peer, now)) return cached;
    let inflight: Channel | undefined;
    for (const c of this.byNumber.values()) {
      if (c.connectedTo(peer, now)) return this.remember(peer, c);
      if (!inflight && c.usableFor(peer, now)) inflight = c;
    }
    return inflight ? this.remember(peer, inflight) : undefined;
  }

  private remember(peer: SocketAddress, c: Channel): Channel {
    // Bounded: peers are connections, but a caller passing fresh objects must not grow this forever.
    if (this.sendCache.size >= 1024) this.sendCache.clear();
    this.sendCache.set(peer, c);
    return c;
  }

  connectedChannelTo(peer: SocketAddress, now: number): Channel | undefined {
    for (const c of this.byNumber.values()) if (c.connectedTo(peer, now)) return c;
    return undefined;
  }

  /** Allocates a number for `peer` (or returns the one still reserved for it); undefined if all 4096 are taken. */
  newChannelTo(peer: SocketAddress, now: number): number | undefined {
    for (const c of this.byNumber.values()) if (c.reservedFor(peer, now)) return c.number;
    const number = this.pickNumber(now);
    if (number === undefined) return undefined;
    this.nextNumber = number === LAST_CHANNEL ? FIRST_CHANNEL : number + 1;
    this.byNumber.set(number, new Channel(number, { ip: peer.ip, port: peer.port }, false, now, now));
    this.sendCache.clear();
    return number;
  }

  private pickNumber(now: number): number | undefined {
    const span = LAST_CHANNEL - FIRST_CHANNEL + 1;
    for (let i = 0; i < span; i++) {
      const n = FIRST_CHANNEL + ((this.nextNumber - FIRST_CHANNEL + i) % span);
      const c = this.byNumber.get(n);
      if (!c || c.canRebind(now)) return n;
    }
    return undefined;
  }

  confirm(number: number, now: number): boolean {
    const c = this.byNumber.get(number);
    if (!c) return false;
    c.confirm(now);
    return true;
  }

  remove(number: number): void {
    this.byNumber.delete(number);
    this.sendCache.clear();
  }

  clear(): void {
    this.byNumber.clear();
    this.sendCache.clear();
  }

  /** Earliest instant a data-carrying channel needs its refresh, if any. */
  nextRefreshAt(): number | undefined {
    let at: number | undefined;
    for (const c of this.byNumber.values()) {
      if (c.noActivity()) continue;
      const t = c.boundAt + CHANNEL_REFRESH_AFTER_MS;
      if (at === undefined || t < at) at = t;
    }
    return at;
  }

  describe(): string[] {
    return [...this.byNumber.values()].map((c) => `${c.number.toString(16)}→${addressKey(c.peer)}${c.bound ? "" : "?"}`);
  }
}
