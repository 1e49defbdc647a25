import type { Server, ServerWebSocket } from "bun";
import { logger } from "../log/index.ts";
import { ADMIN_PREFIX, handleAdmin } from "./admin-api.ts";
import { admit, isSocketPath, problemBody, type Identity } from "./admission.ts";
import type { PortalSettings } from "./config.ts";
import { Portal, type Session } from "./portal.ts";
import type { Store } from "./store/store.ts";

const log = logger("portal::server");

/** Largest WebSocket frame accepted; bigger ones close the socket (1009). */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;
/** A socket silent this long is closed (heartbeats come every 10 s). */
export const IDLE_TIMEOUT_SECONDS = 60;
/** How often expiries (authorizations, tokens) are checked. */
export const SWEEP_INTERVAL_MS = 1000;

export interface PortalServerOptions {
  store: Store;
  settings?: PortalSettings;
  hostname?: string;
  /** 0 picks a free port. */
  port?: number;
  authorizationTimeoutMs?: number;
  maxFrameBytes?: number;
  /** The clock (ms); tests pass a fake one and call `tick()`. */
  now?: () => number;
  /** Run the expiry sweep on a timer (default true; tests with a fake clock turn it off). */
  sweep?: boolean;
}

interface SocketData {
  identity: Identity;
  session?: Session;
}

/**
 * The portal's driver: Bun's HTTP server with WebSockets at Firezone's paths, the admin API,
 * and the timers that the sans-IO `Portal` asks for.
 */
export class PortalServer {
  readonly portal: Portal;
  private readonly server: Server<SocketData>;
  private readonly now: () => number;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  private armedAt = Infinity;
  private readonly baseUrl: string;

  constructor(options: PortalServerOptions) {
    this.now = options.now ?? Date.now;
    const hostname = options.hostname ?? "127.0.0.1";
    const maxFrame = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.portal = new Portal({
      store: options.store,
      settings: options.settings,
      publicUrl: "",
      authorizationTimeoutMs: options.authorizationTimeoutMs,
    });
    this.server = Bun.serve<SocketData>({
      hostname,
      port: options.port ?? 0,
      fetch: (req, server) => this.fetch(req, server),
      websocket: {
        maxPayloadLength: maxFrame,
        idleTimeout: IDLE_TIMEOUT_SECONDS,
        // Our own heartbeat protocol keeps sockets alive; protocol pings would only add traffic.
        sendPings: false,
        perMessageDeflate: false,
        open: (ws) => this.onOpen(ws),
        message: (ws, data) => this.onMessage(ws, data),
        close: (ws, code, reason) => this.onClose(ws, code, reason),
      },
      error: (error) => {
        log.error("request failed", { error: String(error) });
        return new Response("internal error", { status: 500 });
      },
    });
    // A wildcard address is reachable on loopback; name that in URLs.
    const host = hostname === "0.0.0.0" ? "127.0.0.1" : hostname === "::" ? "::1" : hostname;
    const publicUrl = `http://${host.includes(":") ? `[${host}]` : host}:${this.server.port}`;
    this.baseUrl = publicUrl;
    this.portal.setPublicUrl(publicUrl);
    if (options.sweep !== false) this.sweepTimer = setInterval(() => this.tick(), SWEEP_INTERVAL_MS);
    log.info("portal listening", { url: publicUrl });
  }

  get port(): number {
    return this.server.port!;
  }

  /** `http://host:port` of this server, for the admin API and tests. */
  get url(): string {
    return this.baseUrl;
  }

  /** Handles timeouts and expiries as of the clock now. */
  tick(): void {
    try {
      this.portal.handleTimeout(this.now());
    } catch (error) {
      log.error("timeout handling failed", { error: String(error) });
    }
    this.rearm();
  }

  /** Tells the portal the model changed outside the admin API (e.g. a test editing the store). */
  modelChanged(): void {
    this.portal.modelChanged(this.now());
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    clearTimeout(this.deadlineTimer);
    await this.server.stop(true);
  }

  private async fetch(req: Request, server: Server<SocketData>): Promise<Response | undefined> {
    const url = new URL(req.url);
    if (url.pathname.startsWith(ADMIN_PREFIX)) return handleAdmin(req, this.portal, this.now);
    if (url.pathname === "/healthz") return new Response("ok\n");
    if (!isSocketPath(url.pathname)) return new Response("not found\n", { status: 404 });
    let admission;
    try {
      admission = admit(this.portal.store, url.pathname, req.headers.get("x-authorization"), url.searchParams, this.now());
    } catch (error) {
      log.warn("admission failed", { path: url.pathname, error: String(error) });
      return new Response("bad request\n", { status: 400 });
    }
    if (!admission.ok) {
      log.info("refused socket", { path: url.pathname, status: admission.status, code: admission.code });
      return new Response(problemBody(admission), {
        status: admission.status,
        headers: { "content-type": "application/problem+json; charset=utf-8" },
      });
    }
    if (server.upgrade(req, { data: { identity: admission.identity } })) return undefined;
    return new Response("expected a WebSocket upgrade\n", { status: 400 });
  }

  private onOpen(ws: ServerWebSocket<SocketData>): void {
    ws.data.session = this.portal.open(ws.data.identity, {
      send: (text) => {
        ws.send(text);
      },
      close: (code, reason) => ws.close(code, reason),
    });
  }

  private onMessage(ws: ServerWebSocket<SocketData>, data: string | Buffer): void {
    const session = ws.data.session;
    if (!session) return;
    try {
      this.portal.handleFrame(session, typeof data === "string" ? data : "\u0000binary", this.now());
    } catch (error) {
      // A bug must cost one socket, never the portal.
      log.error("frame handling failed", { kind: session.kind, error: String(error) });
      ws.close(1011, "internal error");
    }
    this.rearm();
  }

  private onClose(ws: ServerWebSocket<SocketData>, code: number, reason: string): void {
    const session = ws.data.session;
    if (!session) return;
    log.debug("socket closed", { kind: session.kind, code, reason });
    try {
      this.portal.close(session, this.now());
    } catch (error) {
      log.error("close handling failed", { error: String(error) });
    }
  }

  /** Keeps one timer armed at the portal's next deadline. */
  private rearm(): void {
    const next = this.portal.pollTimeout();
    if (!next || next.at >= this.armedAt) return;
    clearTimeout(this.deadlineTimer);
    this.armedAt = next.at;
    this.deadlineTimer = setTimeout(() => {
      this.armedAt = Infinity;
      this.tick();
    }, Math.max(0, next.at - this.now()));
  }
}
