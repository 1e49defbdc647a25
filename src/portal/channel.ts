import { logger } from "../log/index.ts";
import { ChannelError, ChannelSession, type ChannelEvent, type UpgradeFailure } from "./channel-session.ts";
import { authorizationHeader } from "./login-url.ts";

export { ChannelError } from "./channel-session.ts";
export type { ChannelEvent } from "./channel-session.ts";

const log = logger("portal::channel_client");

/** The driver's clock and timer, injectable so tests can run it on fake time. */
export interface ChannelClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const SYSTEM_CLOCK: ChannelClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface PortalChannelOptions {
  /** The full WebSocket URL, e.g. from `loginUrl()`. */
  url: string | URL;
  token: string | null;
  /** `client`, `gateway` or `relay`. */
  topic: string;
  joinPayload?: unknown;
  maxPartitionMs?: number;
  userAgent?: string;
  /** Every event of the session: joined, message, reply, hiccup, fatal. */
  onEvent?: (event: ChannelEvent) => void;
  clock?: ChannelClock;
  random?: () => number;
}

/**
 * A Phoenix channel to the portal over Bun's WebSocket, for `connect`, `gateway` and `relay`.
 * It joins, heartbeats, reconnects with back-off (honouring Retry-After), and stops for good on a
 * refused token (HTTP 401) or `disconnect{token_expired}`, reporting a `ChannelError`.
 *
 *   const ch = new PortalChannel({ url: loginUrl(api, "client", {...}), token, topic: "client", onEvent });
 *   ch.start(); ch.send("request_authorization", {...}); ch.stop();
 *
 * On every `joined` event the caller sends what a fresh portal session needs (connlib sends
 * `set_snownet_capabilities` after each connect) and re-asks for anything still pending: messages
 * are never replayed from before a reconnect. Incoming payloads are read with
 * `parseClientMessage` / `parseGatewayMessage` (messages/*-ingress.ts).
 */
export class PortalChannel {
  private readonly session: ChannelSession;
  private readonly clock: ChannelClock;
  private socket: WebSocket | undefined;
  private attempt = 0;
  private timer: unknown;
  private timerAt = Infinity;
  private readonly listeners = new Set<(e: ChannelEvent) => void>();
  private finished: Promise<ChannelError | undefined>;
  private resolveFinished!: (e: ChannelError | undefined) => void;

  constructor(private readonly options: PortalChannelOptions) {
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.session = new ChannelSession({
      topic: options.topic,
      joinPayload: options.joinPayload,
      maxPartitionMs: options.maxPartitionMs,
      random: options.random,
    });
    if (options.onEvent) this.listeners.add(options.onEvent);
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  get joined(): boolean {
    return this.session.isJoined;
  }

  start(): void {
    this.session.connect(this.clock.now());
    this.pump();
  }

  /** False when there was no connection to carry it (see ChannelSession.send). */
  send(event: string, payload?: unknown): boolean {
    const sent = this.session.send(event, payload);
    this.pump();
    return sent;
  }

  stop(): void {
    this.session.stop();
    this.pump();
  }

  /** Resolves when the channel ends: undefined after `stop()`, the error after a fatal failure. */
  done(): Promise<ChannelError | undefined> {
    return this.finished;
  }

  /** Subscribes to events; returns the unsubscribe function. */
  on(listener: (e: ChannelEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The next event of a type (e.g. "joined"), for callers that await steps. */
  next<T extends ChannelEvent["type"]>(type: T, match: (e: Extract<ChannelEvent, { type: T }>) => boolean = () => true): Promise<Extract<ChannelEvent, { type: T }>> {
    return new Promise((resolve) => {
      const off = this.on((e) => {
        if (e.type === type && match(e as Extract<ChannelEvent, { type: T }>)) {
          off();
          resolve(e as Extract<ChannelEvent, { type: T }>);
        }
      });
    });
  }

  // ---- driving the session

  private pump(): void {
    for (let a = this.session.pollAction(); a; a = this.session.pollAction()) {
      if (a.type === "open") this.open();
      else if (a.type === "send") this.socket?.send(a.text);
      else {
        const s = this.socket;
        this.socket = undefined;
        this.attempt++;
        try {
          s?.close(a.code, a.reason);
        } catch {
          // Closing a socket that never opened throws in some states; it is gone either way.
        }
      }
    }
    for (let e = this.session.pollEvent(); e; e = this.session.pollEvent()) {
      if (e.type === "hiccup") log.info("portal connection interrupted", { reason: e.reason, retry_in_ms: e.retryInMs });
      if (e.type === "fatal") log.warn("portal connection failed for good", { kind: e.error.kind, error: e.error.message });
      for (const l of [...this.listeners]) {
        try {
          l(e);
        } catch (error) {
          log.error("channel listener threw", { error: String(error) });
        }
      }
      if (e.type === "fatal") this.resolveFinished(e.error);
    }
    if (this.session.isFinished) {
      this.clock.clearTimeout(this.timer);
      this.timerAt = Infinity;
      if (!this.session.isJoined) this.resolveFinished(undefined);
      return;
    }
    this.arm();
  }

  private arm(): void {
    const next = this.session.pollTimeout();
    const at = next?.at ?? Infinity;
    if (at === this.timerAt) return;
    this.clock.clearTimeout(this.timer);
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = this.clock.setTimeout(() => {
      this.timerAt = Infinity;
      this.session.handleTimeout(this.clock.now());
      this.pump();
    }, Math.max(0, at - this.clock.now()));
  }

  private open(): void {
    const attempt = ++this.attempt;
    const headers: Record<string, string> = {};
    const auth = authorizationHeader(this.options.token);
    if (auth) headers["X-Authorization"] = auth;
    if (this.options.userAgent) headers["User-Agent"] = this.options.userAgent;
    let ws: WebSocket;
    try {
      ws = new WebSocket(String(this.options.url), { headers } as unknown as string[]);
    } catch (error) {
      this.session.handleUpgradeFailed({}, this.clock.now());
      return this.pump();
    }
    this.socket = ws;
    let opened = false;
    let failed = false;
    const current = () => attempt === this.attempt;
    ws.addEventListener("open", () => {
      if (!current()) return ws.close();
      opened = true;
      this.session.handleOpen(this.clock.now());
      this.pump();
    });
    ws.addEventListener("message", (e) => {
      if (!current()) return;
      this.session.handleText(typeof e.data === "string" ? e.data : "", this.clock.now());
      this.pump();
    });
    ws.addEventListener("error", (e) => {
      if (!current() || opened || failed) return;
      failed = true;
      const status = /status code: (\d{3})/.exec((e as ErrorEvent).message ?? "")?.[1];
      void this.upgradeFailure(status ? Number(status) : undefined).then((failure) => {
        if (!current()) return;
        this.session.handleUpgradeFailed(failure, this.clock.now());
        this.pump();
      });
    });
    ws.addEventListener("close", () => {
      if (!current() || failed) return;
      if (opened) this.session.handleClosed(this.clock.now());
      else this.session.handleUpgradeFailed({}, this.clock.now());
      this.pump();
    });
  }

  /**
   * Bun's WebSocket reports a refused upgrade only by its status code; the headers and body that
   * matter (Retry-After, the problem code) are fetched again with a plain request.
   */
  private async upgradeFailure(status: number | undefined): Promise<UpgradeFailure> {
    if (status !== 401 && status !== 429 && status !== 503) return { status };
    try {
      const url = new URL(String(this.options.url));
      url.protocol = url.protocol === "wss:" ? "https:" : "http:";
      const auth = authorizationHeader(this.options.token);
      const res = await fetch(url, { headers: auth ? { "X-Authorization": auth } : {} });
      const body = (await res.text()).slice(0, 4096);
      return { status, retryAfter: res.headers.get("retry-after"), contentType: res.headers.get("content-type"), body };
    } catch {
      return { status };
    }
  }
}
