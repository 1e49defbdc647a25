import { DROP_REASON_COUNT, DropReason } from "./result.ts";

/** Counters of one tunnel (or of a device's unmatched traffic), cheap to bump on the data path. */
export class TunnelStats {
  /** Wire bytes of every datagram we produced: handshakes, cookie replies, data, keepalives. */
  txBytes = 0;
  /** Wire bytes of every datagram that authenticated: transport messages and accepted handshakes. */
  rxBytes = 0;
  /** IP packets encapsulated (keepalives excluded). */
  txPackets = 0;
  /** IP packets decapsulated (keepalives excluded). */
  rxPackets = 0;
  keepalivesSent = 0;
  keepalivesReceived = 0;
  initiationsSent = 0;
  handshakesCompleted = 0;
  cookieRepliesSent = 0;
  cookiesReceived = 0;
  /** Monotonic ms of the last completed handshake, -1 before the first. */
  lastHandshakeAt = -1;
  /** Wall-clock ms of the last completed handshake (what `wg show` calls latest handshake), -1 before. */
  lastHandshakeWallMs = -1;
  readonly drops = new Float64Array(DROP_REASON_COUNT);

  drop(reason: DropReason): void {
    this.drops[reason]++;
  }

  get dropsTotal(): number {
    let sum = 0;
    for (let i = 0; i < this.drops.length; i++) sum += this.drops[i];
    return sum;
  }

  /** Non-zero drop counters by reason name, for status output and logs. */
  dropsByReason(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 1; i < this.drops.length; i++) if (this.drops[i] > 0) out[DropReason[i]] = this.drops[i];
    return out;
  }
}
