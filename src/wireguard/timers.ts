/**
 * The per-peer timers of the WireGuard paper (§6), as deadlines rather than OS timers: the tunnel
 * arms and disarms them on events (named after wireguard-go's timers.go hooks) and its caller
 * asks `next()` when to call `handleTimeout`. A fired timer is disarmed before its handler runs,
 * so every `handleTimeout(now >= at)` makes progress and no deadline repeats by itself.
 */
export enum Timer {
  /** No response to our initiation within REKEY_TIMEOUT + jitter: send a new one. */
  RetransmitHandshake = 0,
  /** The handshake has been tried for REKEY_ATTEMPT_TIME: give up, the connection expired. */
  RekeyAttemptExpired,
  /** We received data and sent nothing for KEEPALIVE_TIMEOUT: send a keepalive. */
  SendKeepalive,
  /** We sent data and heard nothing for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT: handshake again. */
  NewHandshake,
  /** No new session for 3 × REJECT_AFTER_TIME: wipe every key. */
  ZeroKeyMaterial,
  /** Nothing sent for the persistent keepalive interval: send a keepalive. */
  PersistentKeepalive,
  /** A handshake message, keepalive or queued packet is waiting: handleTimeout/pollTransmit sends it. */
  SendPending,
}

const TIMER_COUNT = Timer.SendPending + 1;

export const TIMER_REASONS: readonly string[] = [
  "retransmit handshake",
  "rekey attempt expired",
  "passive keepalive",
  "new handshake after unanswered data",
  "zero key material",
  "persistent keepalive",
  "send pending",
];

export class Timers {
  private readonly deadlines = new Float64Array(TIMER_COUNT).fill(Infinity);

  set(timer: Timer, at: number): void {
    this.deadlines[timer] = at;
  }

  clear(timer: Timer): void {
    this.deadlines[timer] = Infinity;
  }

  pending(timer: Timer): boolean {
    return this.deadlines[timer] !== Infinity;
  }

  at(timer: Timer): number {
    return this.deadlines[timer];
  }

  clearAll(): void {
    this.deadlines.fill(Infinity);
  }

  /** The timer with the earliest deadline, or -1 when none is armed. */
  next(): Timer | -1 {
    let best = -1;
    let bestAt = Infinity;
    for (let i = 0; i < TIMER_COUNT; i++) {
      if (this.deadlines[i] < bestAt) {
        bestAt = this.deadlines[i];
        best = i;
      }
    }
    return best;
  }

  /** Disarms and returns the earliest timer due at `now`, or -1. Called in a loop by handleTimeout. */
  takeExpired(now: number): Timer | -1 {
    const t = this.next();
    if (t === -1 || this.deadlines[t] > now) return -1;
    this.deadlines[t] = Infinity;
    return t;
  }
}
