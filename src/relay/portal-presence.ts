import { logger } from "../log/index.ts";
import { PortalChannel, type ChannelClock, type ChannelError, type ChannelEvent } from "../portal/channel.ts";
import { loginUrl } from "../portal/login-url.ts";
import { EVENT_LEAVE } from "../portal/phoenix.ts";
import { RELAY_TOPIC } from "../portal/messages/relay.ts";

/**
 * The relay's presence at the portal (Firezone's `rust/relay/server/src/main.rs`): one Phoenix
 * channel to `<api>/relay/websocket?name&ipv4&ipv6&port`, joined with `{stamp_secret}` so the
 * portal can derive TURN credentials for this relay, and kept up by `PortalChannel` (heartbeats,
 * reconnects with back-off). While it is joined the portal lists the relay to clients and gateways;
 * when the socket goes, the portal tells them `relays_presence{disconnected_ids}`.
 *
 *   const p = new PortalPresence({ apiUrl, token, name, port, publicIpv4, secret });
 *   p.start();  ...  await p.leave();  // phx_leave, then the socket closes
 *   const error = await p.done();      // a ChannelError if the portal refused us for good
 *
 * The presence never touches the relay's sockets: the relay serves TURN whatever the portal's
 * state, and without a portal no one holds credentials for it anyway.
 */
export interface PortalPresenceOptions {
  /** The portal's API URL (http, https, ws or wss); the path is replaced by `/relay/websocket`. */
  apiUrl: string;
  token: string;
  /** Shown in the portal; Firezone uses FIREZONE_NAME or the host name. */
  name: string;
  /** The STUN/TURN port the relay actually listens on. */
  port: number;
  publicIpv4?: string;
  publicIpv6?: string;
  /** The relay's credential secret, sent once per join as `stamp_secret`; never logged. */
  secret: string;
  /** Give up after this long without a join (Firezone's relay: 24 h). */
  maxPartitionMs?: number;
  userAgent?: string;
  clock?: ChannelClock;
  random?: () => number;
}

/** Firezone's relay gives up on the portal after 24 hours without a connection. */
export const RELAY_MAX_PARTITION_MS = 24 * 60 * 60 * 1000;

export type PresenceState = "idle" | "connecting" | "online" | "offline" | "left" | "failed";

const log = logger("relay::portal");

export class PortalPresence {
  private readonly channel: PortalChannel;
  private readonly url: URL;
  private current: PresenceState = "idle";
  private joins = 0;
  private leaving: (() => void) | undefined;

  constructor(options: PortalPresenceOptions) {
    if (!options.publicIpv4 && !options.publicIpv6) throw new RangeError("a relay needs a public IPv4 or IPv6 address to announce");
    this.url = loginUrl(options.apiUrl, "relay", {
      name: options.name,
      ipv4: options.publicIpv4,
      ipv6: options.publicIpv6,
      port: options.port,
    });
    this.channel = new PortalChannel({
      url: this.url,
      token: options.token,
      topic: RELAY_TOPIC,
      joinPayload: { stamp_secret: options.secret },
      maxPartitionMs: options.maxPartitionMs ?? RELAY_MAX_PARTITION_MS,
      userAgent: options.userAgent,
      clock: options.clock,
      random: options.random,
      onEvent: (e) => this.onEvent(e),
    });
  }

  get state(): PresenceState {
    return this.current;
  }

  /** How many times the channel has joined (a rejoin after a portal restart counts again). */
  get joinCount(): number {
    return this.joins;
  }

  /** The WebSocket URL without the token (the token travels in a header). */
  get socketUrl(): string {
    return this.url.href;
  }

  start(): void {
    if (this.current !== "idle") return;
    this.setState("connecting", {});
    this.channel.start();
  }

  /**
   * Leaves the channel: `phx_leave` when joined, so the portal drops the relay at once, then the
   * socket closes. Resolves once the portal answered or the connection went; callers bound the
   * wait with their own timer and call `stop()` after it in any case.
   */
  leave(): Promise<void> {
    if (this.current !== "online") {
      this.stop();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.leaving = () => {
        this.leaving = undefined;
        this.stop();
        resolve();
      };
      if (!this.channel.send(EVENT_LEAVE, {})) this.leaving();
    });
  }

  /** Closes the socket (if any) and stops reconnecting. */
  stop(): void {
    if (this.current === "left" || this.current === "failed") return;
    this.setState("left", {});
    this.channel.stop();
  }

  /** Resolves when the presence ends: undefined after `leave()`/`stop()`, the error on a fatal refusal. */
  done(): Promise<ChannelError | undefined> {
    return this.channel.done();
  }

  private onEvent(e: ChannelEvent): void {
    switch (e.type) {
      case "joined":
        this.joins++;
        this.setState("online", { joins: this.joins });
        return;
      case "message":
        if (e.event === "init") log.debug("portal sent init");
        else log.debug("ignored portal message", { event: e.event });
        return;
      case "reply":
        // Nothing but phx_leave expects a reply on the relay channel.
        this.leaving?.();
        return;
      case "hiccup":
        if (this.leaving) return this.leaving();
        this.setState("offline", { reason: e.reason, retry_in_ms: e.retryInMs });
        return;
      case "fatal":
        this.leaving?.();
        this.setState("failed", { kind: e.error.kind });
        return;
    }
  }

  private setState(next: PresenceState, fields: Record<string, string | number>): void {
    if (next === this.current) return;
    const previous = this.current;
    this.current = next;
    const level = next === "offline" || next === "failed" ? "warn" : "info";
    log[level]("portal presence changed", { from: previous, to: next, ...fields });
  }
}
