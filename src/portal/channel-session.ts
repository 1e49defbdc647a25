import { ExponentialBackoff } from "./backoff.ts";
import {
  EVENT_CLOSE,
  EVENT_DISCONNECT,
  EVENT_HEARTBEAT,
  EVENT_JOIN,
  EVENT_REPLY,
  PHOENIX_TOPIC,
  decodeMessage,
  encodeMessage,
  parseReply,
  type ReplyPayload,
} from "./phoenix.ts";
import { blamesToken, parseProblemDetails } from "./problem-details.ts";
import { parseRetryAfterMs } from "./retry-after.ts";

/** Timing from Firezone's phoenix-channel (reference §5). */
export const HEARTBEAT_INTERVAL_MS = 10_000;
/** A fourth heartbeat that finds three unanswered ones reconnects instead. */
export const MAX_UNANSWERED_HEARTBEATS = 3;
export const JOIN_TIMEOUT_MS = 5_000;
export const CONNECT_TIMEOUT_MS = 15_000;
/** Before the first successful join, retry every second for 15 s, then give up. */
export const FIRST_CONNECT_RETRY_MS = 1_000;
export const FIRST_CONNECT_BUDGET_MS = 15_000;

export type ChannelErrorKind = "invalid_token" | "authentication_failed" | "token_expired" | "unreachable";

export class ChannelError extends Error {
  constructor(readonly kind: ChannelErrorKind, message: string) {
    super(message);
  }
}

export type ChannelEvent =
  | { type: "joined"; response: unknown }
  | { type: "message"; event: string; payload: unknown }
  | { type: "reply"; ref: number; reply: ReplyPayload }
  | { type: "hiccup"; reason: string; retryInMs: number }
  | { type: "fatal"; error: ChannelError };

/** What the driver must do with the socket. */
export type ChannelAction = { type: "open" } | { type: "send"; text: string } | { type: "close"; code: number; reason: string };

/** Why a connection attempt failed before it became a WebSocket. */
export interface UpgradeFailure {
  status?: number;
  retryAfter?: string | null;
  contentType?: string | null;
  body?: string;
}

export interface ChannelSessionOptions {
  topic: string;
  /** `null` for clients and gateways (Firezone's unit join payload), `{stamp_secret}` for relays. */
  joinPayload?: unknown;
  /** Give up reconnecting after this long without a join (undefined: never; Firezone's gateway: 24 h). */
  maxPartitionMs?: number;
  random?: () => number;
}

type State = "idle" | "connecting" | "joining" | "joined" | "waiting" | "stopped" | "failed";

/**
 * The client side of a Phoenix channel, sans-IO: it decides when to open, join, heartbeat,
 * reconnect or give up; the driver (`channel.ts`) owns the socket and the timer.
 *
 * Messages sent before the join reply are held and go out right after it; a reconnect drops
 * them, because whatever they asked for may be stale by then (the caller resends on `joined`).
 */
export class ChannelSession {
  private state: State = "idle";
  private readonly actions: ChannelAction[] = [];
  private readonly events: ChannelEvent[] = [];
  private readonly backoff: ExponentialBackoff;
  private held: { key: string; event: string; payload: unknown }[] = [];
  private nextRef = 0;
  private joinRef = -1;
  private heartbeats = new Set<number>();
  private deadline = Infinity;
  private nextHeartbeat = Infinity;
  private everJoined = false;
  private firstAttemptAt: number | undefined;
  /** Messages dropped because no connection could carry them. */
  dropped = 0;

  constructor(private readonly options: ChannelSessionOptions) {
    this.backoff = new ExponentialBackoff(options.maxPartitionMs, options.random);
  }

  get topic(): string {
    return this.options.topic;
  }

  get isJoined(): boolean {
    return this.state === "joined";
  }

  get isFinished(): boolean {
    return this.state === "stopped" || this.state === "failed";
  }

  // ---- inputs

  connect(now: number): void {
    if (this.state !== "idle" && this.state !== "waiting") return;
    this.firstAttemptAt ??= now;
    this.state = "connecting";
    this.deadline = now + CONNECT_TIMEOUT_MS;
    this.actions.push({ type: "open" });
  }

  handleOpen(now: number): void {
    if (this.state !== "connecting") return;
    this.state = "joining";
    this.nextRef = 0;
    this.heartbeats.clear();
    this.joinRef = this.nextRef++;
    this.actions.push({ type: "send", text: encodeMessage(this.topic, EVENT_JOIN, this.options.joinPayload ?? null, this.joinRef) });
    this.deadline = now + JOIN_TIMEOUT_MS;
    this.nextHeartbeat = now + HEARTBEAT_INTERVAL_MS;
  }

  handleText(text: string, now: number): void {
    if (this.state !== "joining" && this.state !== "joined") return;
    const decoded = decodeMessage(text);
    if (!decoded.ok) return;
    const msg = decoded.message;
    if (msg.event === EVENT_REPLY) {
      const reply = parseReply(msg.payload);
      if (!reply || msg.ref === null) return;
      if (msg.topic === PHOENIX_TOPIC) {
        this.heartbeats.delete(msg.ref);
        return;
      }
      if (msg.topic === this.topic && msg.ref === this.joinRef && this.state === "joining") {
        if (reply.status === "error") return this.hiccup(`join refused: ${reply.reason}`, now);
        this.state = "joined";
        this.everJoined = true;
        this.deadline = Infinity;
        this.backoff.reset();
        this.events.push({ type: "joined", response: reply.response });
        const held = this.held;
        this.held = [];
        for (const m of held) this.send(m.event, m.payload);
        return;
      }
      this.events.push({ type: "reply", ref: msg.ref, reply });
      return;
    }
    if (msg.topic !== this.topic) return;
    if (msg.event === EVENT_CLOSE) return this.hiccup("the portal closed the channel", now);
    if (msg.event === EVENT_DISCONNECT) {
      const reason = (msg.payload as { reason?: unknown } | null)?.reason;
      if (reason === "token_expired") return this.fail("token_expired", "the portal says the token expired; sign in again");
      return this.hiccup(`disconnected: ${String(reason)}`, now);
    }
    this.events.push({ type: "message", event: msg.event, payload: msg.payload });
  }

  /** The socket closed (or errored) after it had opened. */
  handleClosed(now: number): void {
    if (this.state === "connecting" || this.state === "joining" || this.state === "joined") this.hiccup("connection lost", now, undefined, false);
  }

  /** The attempt never became a WebSocket: HTTP status, or none for a network error. */
  handleUpgradeFailed(failure: UpgradeFailure, now: number): void {
    if (this.state !== "connecting") return;
    if (failure.status === 401) {
      const problem = parseProblemDetails(failure.contentType ?? null, failure.body ?? "");
      if (blamesToken(problem)) return this.fail("invalid_token", "the portal refused the token; sign in again");
      return this.fail("authentication_failed", `failed to authenticate with the portal: ${problem?.detail ?? "401 Unauthorized"}`);
    }
    const retryAfter = failure.status === 429 || failure.status === 503 ? parseRetryAfterMs(failure.retryAfter, now) : undefined;
    this.hiccup(failure.status ? `HTTP ${failure.status}` : "could not connect", now, retryAfter, false);
  }

  handleTimeout(now: number): void {
    if (this.state === "waiting" && now >= this.deadline) return this.connect(now);
    if (this.state === "connecting" && now >= this.deadline) return this.hiccup("connect timed out", now);
    if (this.state === "joining" && now >= this.deadline) return this.hiccup("join was not acknowledged", now);
    if ((this.state === "joining" || this.state === "joined") && now >= this.nextHeartbeat) {
      if (this.heartbeats.size >= MAX_UNANSWERED_HEARTBEATS) return this.hiccup("too many heartbeats were unanswered", now);
      const ref = this.nextRef++;
      this.heartbeats.add(ref);
      this.actions.push({ type: "send", text: encodeMessage(PHOENIX_TOPIC, EVENT_HEARTBEAT, {}, ref) });
      this.nextHeartbeat = now + HEARTBEAT_INTERVAL_MS;
    }
  }

  /**
   * Sends an application message (`payload` undefined: a unit message without payload key).
   * Returns false when it was dropped because there is no connection to carry it. Identical
   * messages held before the join go out once (Firezone deduplicates them too).
   */
  send(event: string, payload?: unknown): boolean {
    if (this.state === "joined") {
      this.actions.push({ type: "send", text: encodeMessage(this.topic, event, payload, this.nextRef++) });
      return true;
    }
    if (this.state === "connecting" || this.state === "joining") {
      const key = JSON.stringify([event, payload]);
      if (!this.held.some((m) => m.key === key)) this.held.push({ key, event, payload });
      return true;
    }
    this.dropped++;
    return false;
  }

  stop(): void {
    if (this.isFinished) return;
    const hadSocket = this.state === "connecting" || this.state === "joining" || this.state === "joined";
    this.state = "stopped";
    this.deadline = this.nextHeartbeat = Infinity;
    if (hadSocket) this.actions.push({ type: "close", code: 1000, reason: "stopped" });
  }

  // ---- outputs

  pollAction(): ChannelAction | undefined {
    return this.actions.shift();
  }

  pollEvent(): ChannelEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): { at: number; reason: string } | undefined {
    switch (this.state) {
      case "waiting":
        return { at: this.deadline, reason: "reconnect" };
      case "connecting":
        return { at: this.deadline, reason: "connect_timeout" };
      case "joining":
        return this.deadline <= this.nextHeartbeat ? { at: this.deadline, reason: "join_timeout" } : { at: this.nextHeartbeat, reason: "heartbeat" };
      case "joined":
        return { at: this.nextHeartbeat, reason: "heartbeat" };
      default:
        return undefined;
    }
  }

  // ---- internals

  private hiccup(reason: string, now: number, waitMs?: number, closeSocket = true): void {
    if (closeSocket) this.actions.push({ type: "close", code: 1000, reason });
    this.held = [];
    this.heartbeats.clear();
    this.nextHeartbeat = Infinity;
    let wait = waitMs;
    if (wait === undefined) {
      if (this.everJoined) wait = this.backoff.next(now);
      else if (now - (this.firstAttemptAt ?? now) < FIRST_CONNECT_BUDGET_MS) wait = FIRST_CONNECT_RETRY_MS;
    }
    if (wait === undefined) {
      const since = this.everJoined ? this.backoff.since : this.firstAttemptAt;
      return this.fail("unreachable", `gave up reaching the portal after ${Math.round((now - (since ?? now)) / 1000)} s (last: ${reason})`);
    }
    this.state = "waiting";
    this.deadline = now + wait;
    this.events.push({ type: "hiccup", reason, retryInMs: wait });
  }

  private fail(kind: ChannelErrorKind, message: string): void {
    if (this.state === "joining" || this.state === "joined" || this.state === "connecting") this.actions.push({ type: "close", code: 1000, reason: kind });
    this.state = "failed";
    this.held = [];
    this.deadline = this.nextHeartbeat = Infinity;
    this.events.push({ type: "fatal", error: new ChannelError(kind, message) });
  }
}
