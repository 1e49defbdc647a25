import { RECENT_REMOTE_REQUEST_MS, resendDelay, type IceConfig } from "./config.ts";

export type PairState = "waiting" | "in-progress" | "succeeded";
export type Nomination = "none" | "nominating" | "nominated";

interface Attempt {
  key: string;
  sentAt: number;
  answeredAt: number;
  controlling: boolean;
  useCandidate: boolean;
}

/** Attempts remembered per pair: enough to match late responses and count unanswered sends. */
const MAX_ATTEMPTS = 64;

/**
 * One local×remote candidate pair and its check history. Failure is not a state: a pair that
 * can no longer succeed is pruned by the agent (`isStillPossible`), as str0m does.
 */
export class CandidatePair {
  state: PairState = "waiting";
  nomination: Nomination = "none";
  private attempts: Attempt[] = [];
  private nextAt: number | undefined;
  lastRemoteRequestAt: number | undefined;
  /** Round-trip time of the latest answered check, ms. */
  rtt: number | undefined;
  /** Our address as the peer saw it in the latest success (XOR-MAPPED-ADDRESS). */
  mapped: { ip: string; port: number } | undefined;

  constructor(
    readonly id: number,
    readonly localIndex: number,
    readonly remoteIndex: number,
    public priority: bigint,
  ) {}

  /** RFC 8445 §6.1.2.3: G is the controlling agent's candidate priority, D the controlled one's. */
  static priority(controlling: boolean, localPriority: number, remotePriority: number): bigint {
    const g = BigInt(controlling ? localPriority : remotePriority);
    const d = BigInt(controlling ? remotePriority : localPriority);
    const min = g < d ? g : d;
    const max = g < d ? d : g;
    return (min << 32n) + 2n * max + (g > d ? 1n : 0n);
  }

  recordAttempt(key: string, now: number, controlling: boolean, useCandidate: boolean): void {
    this.attempts.push({ key, sentAt: now, answeredAt: -1, controlling, useCandidate });
    if (this.attempts.length > MAX_ATTEMPTS) this.attempts.shift();
    if (this.state === "waiting") this.state = "in-progress";
    this.nextAt = undefined;
  }

  findAttempt(key: string): { controlling: boolean; useCandidate: boolean; sentAt: number } | undefined {
    for (let i = this.attempts.length - 1; i >= 0; i--) if (this.attempts[i]!.key === key) return this.attempts[i];
    return undefined;
  }

  /** Marks the attempt answered; returns false for an unknown or already answered transaction. */
  recordResponse(key: string, now: number): boolean {
    for (let i = this.attempts.length - 1; i >= 0; i--) {
      const a = this.attempts[i]!;
      if (a.key !== key) continue;
      if (a.answeredAt >= 0) return false;
      a.answeredAt = now;
      this.rtt = now - a.sentAt;
      this.state = "succeeded";
      if (a.useCandidate && this.nomination === "nominating") this.nomination = "nominated";
      this.nextAt = undefined;
      return true;
    }
    return false;
  }

  remoteRequest(now: number): void {
    this.lastRemoteRequestAt = now;
  }

  get isNominated(): boolean {
    return this.nomination !== "none";
  }

  /** How many checks in a row, counting back from the latest, went unanswered. */
  unansweredCount(): number {
    return this.unanswered().count;
  }

  /** Consecutive unanswered attempts at the end of the history, and when the first of them went. */
  private unanswered(): { count: number; since: number } {
    let count = 0;
    let since = 0;
    for (let i = this.attempts.length - 1; i >= 0 && this.attempts[i]!.answeredAt < 0; i--) {
      count++;
      since = this.attempts[i]!.sentAt;
    }
    return { count, since };
  }

  private lastSentAt(): number | undefined {
    return this.attempts.length ? this.attempts[this.attempts.length - 1]!.sentAt : undefined;
  }

  /**
   * When this pair wants its next check. A pair being nominated jumps the queue until its first
   * USE-CANDIDATE check is out; after that (and otherwise) the retransmission schedule, so that
   * established pairs settle at one check per `maxRto` and an unanswered nomination backs off and
   * is pruned like any other check instead of going out every Ta for ever.
   */
  nextAttempt(now: number, config: IceConfig): number {
    if (this.nomination === "nominating" && !this.attempts[this.attempts.length - 1]?.useCandidate) return now;
    if (this.nextAt !== undefined) return this.nextAt;
    const last = this.lastSentAt();
    let next: number;
    if (last === undefined) next = now;
    else {
      const { count, since } = this.unanswered();
      const sendCount = count > 0 && now - since > config.maxRto / 2 ? count : this.attempts.length;
      next = last + resendDelay(config, sendCount);
    }
    this.nextAt = Math.min(next, now + config.maxRto);
    return this.nextAt;
  }

  /** Forget the cached schedule (the timing config changed). */
  resetSchedule(): void {
    this.nextAt = undefined;
  }

  /** False once every retransmission went unanswered and the last one timed out. */
  isStillPossible(now: number, config: IceConfig): boolean {
    if (this.lastRemoteRequestAt !== undefined && now - this.lastRemoteRequestAt < RECENT_REMOTE_REQUEST_MS) return true;
    const { count } = this.unanswered();
    if (this.attempts.length < config.maxRetransmits || count < config.maxRetransmits) return true;
    const last = this.lastSentAt()!;
    return now < last + resendDelay(config, config.maxRetransmits);
  }
}
