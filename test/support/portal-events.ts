/**
 * What a test's PortalChannel heard: a recorder to wait on, and readers for the relay lists a
 * client or gateway is sent (`init.relays`, `relays_presence`).
 */
import type { ChannelEvent, PortalChannel } from "../../src/portal/channel.ts";

/** A TURN relay as the portal hands it to clients and gateways. */
export interface TurnEntry {
  id: string;
  addr: string;
  username: string;
  password: string;
}

/** Relays a client or gateway was told about in `init` or `relays_presence`. */
export function relaysIn(e: ChannelEvent): TurnEntry[] {
  if (e.type !== "message") return [];
  const p = e.payload as { relays?: TurnEntry[]; connected?: TurnEntry[] } | null;
  if (e.event === "init") return p?.relays ?? [];
  if (e.event === "relays_presence") return p?.connected ?? [];
  return [];
}

/** Relays a `relays_presence` says are gone. */
export function disconnectedIn(e: ChannelEvent): string[] {
  if (e.type !== "message" || e.event !== "relays_presence") return [];
  return (e.payload as { disconnected_ids?: string[] }).disconnected_ids ?? [];
}

/** Everything a channel heard, with a wait for the first matching entry from an index on. */
export class Recorder {
  readonly events: ChannelEvent[] = [];
  private waiters: { from: number; match: (e: ChannelEvent) => boolean; resolve: (e: ChannelEvent) => void }[] = [];

  /** `waitMs` bounds each wait, only so a broken build fails instead of hanging. */
  constructor(
    channel: PortalChannel,
    private readonly waitMs: number,
  ) {
    channel.on((e) => {
      this.events.push(e);
      const index = this.events.length - 1;
      this.waiters = this.waiters.filter((w) => !(index >= w.from && w.match(e) && (w.resolve(e), true)));
    });
  }

  /** The first event from index `from` on (earlier ones included) that matches. */
  until(match: (e: ChannelEvent) => boolean, from = 0): Promise<ChannelEvent> {
    const found = this.events.slice(from).find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching event; heard ${JSON.stringify(this.events.map((e) => (e.type === "message" ? e.event : e.type)))}`)), this.waitMs);
      this.waiters.push({ from, match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }
}
