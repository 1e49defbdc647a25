import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyConfig, validateConfig, type PortalSettings, DEFAULT_SETTINGS } from "../../src/portal/config.ts";
import { encodeMessage } from "../../src/portal/phoenix.ts";
import { PortalServer } from "../../src/portal/server.ts";
import { SqliteStore } from "../../src/portal/store/sqlite-store.ts";
import { issueToken } from "../../src/portal/tokens.ts";

export { FIXTURES } from "../support/fixtures.ts";

export interface Frame {
  topic: string;
  event: string;
  payload: any;
  ref: any;
}

/** How long a test waits for an expected frame before failing with a message (not a timing check). */
const WAIT_MS = 10_000;

/**
 * A raw WebSocket peer for tests: sends exact text, records every frame, and waits for the next
 * frame matching a predicate.
 */
export class TestSocket {
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];
  private cursor = 0;
  private ref = 0;

  private constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (e) => {
      const text = String(e.data);
      this.raw.push(text);
      const frame = JSON.parse(text) as Frame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
      for (const w of this.closeWaiters.splice(0)) w(this.closed);
    });
  }

  static async open(url: string, token: string | null): Promise<TestSocket> {
    const headers: Record<string, string> = token ? { "X-Authorization": `Bearer ${token}` } : {};
    const ws = new WebSocket(url, { headers } as unknown as string[]);
    const socket = new TestSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve());
      ws.addEventListener("error", (e) => reject(new Error((e as ErrorEvent).message ?? "WebSocket error")));
    });
    return socket;
  }

  sendText(text: string): void {
    this.ws.send(text);
  }

  push(topic: string, event: string, payload: unknown): number {
    const ref = this.ref++;
    this.ws.send(encodeMessage(topic, event, payload, ref));
    return ref;
  }

  async join(topic: string, payload: unknown = null): Promise<Frame> {
    const ref = this.push(topic, "phx_join", payload);
    return this.next((f) => f.event === "phx_reply" && f.ref === ref);
  }

  /** The next frame (after those already taken) that matches; earlier ones are skipped. */
  next(match: ((f: Frame) => boolean) | string): Promise<Frame> {
    const m = typeof match === "string" ? (f: Frame) => f.event === match : match;
    for (; this.cursor < this.frames.length; this.cursor++) {
      const f = this.frames[this.cursor]!;
      if (m(f)) {
        this.cursor++;
        return Promise.resolve(f);
      }
    }
    this.cursor = this.frames.length;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame; got ${JSON.stringify(this.frames.map((f) => f.event))}`)), WAIT_MS);
      this.waiters.push({
        match: m,
        resolve: (f) => {
          clearTimeout(timer);
          this.cursor = this.frames.length;
          resolve(f);
        },
      });
    });
  }

  waitClosed(): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  close(): void {
    if (!this.closed) this.ws.close();
  }
}

export const KEY_A = "S6REkbStSNMfn8hpLkVxibjR+zz3RO/Gq40TprHJE2U=";
export const KEY_B = "uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY=";
export const KEY_C = "fiAjSBWDgQfD1CFJkTwOf4zg+1QhH0eTT+oLaVIMpH8=";

/** A fresh portal on loopback with one site, resources, a group and tokens for every role. */
export async function startTestPortal(options: { path?: string; settings?: Partial<PortalSettings>; authorizationTimeoutMs?: number; now?: () => number; sweep?: boolean; maxFrameBytes?: number } = {}) {
  const store = new SqliteStore(options.path ?? ":memory:");
  const config = validateConfig({
    actors: [{ name: "alice", email: "alice@corp.example" }, { name: "bob" }],
    groups: [{ name: "eng", members: ["alice"] }],
    sites: [{ name: "hq" }, { name: "lab" }],
    resources: [
      { name: "gitlab", type: "dns", address: "gitlab.corp.example", ip_stack: "ipv4_only", filters: [{ protocol: "tcp", port_range_start: 443, port_range_end: 443 }], sites: ["hq"] },
      { name: "lan", type: "cidr", address: "10.20.0.0/16", sites: ["hq"] },
      { name: "labnet", type: "cidr", address: "10.30.0.0/16", sites: ["lab"] },
      { name: "secret", type: "cidr", address: "10.99.0.0/16", sites: ["hq"] },
    ],
    policies: [
      { group: "eng", resource: "gitlab" },
      { group: "eng", resource: "lan" },
      { group: "eng", resource: "labnet" },
    ],
  });
  applyConfig(store, config, Date.now());
  const now = options.now ?? Date.now;
  const tokens = {
    alice: issueToken(store, { kind: "client", name: "alice-laptop", actorId: store.findActor("alice")!.id }, now()).secret,
    bob: issueToken(store, { kind: "client", name: "bob-laptop", actorId: store.findActor("bob")!.id }, now()).secret,
    hq: issueToken(store, { kind: "gateway", name: "hq-gw", siteId: store.findSite("hq")!.id }, now()).secret,
    lab: issueToken(store, { kind: "gateway", name: "lab-gw", siteId: store.findSite("lab")!.id }, now()).secret,
    relay: issueToken(store, { kind: "relay", name: "relay" }, now()).secret,
    admin: issueToken(store, { kind: "admin", name: "admin" }, now()).secret,
  };
  const server = new PortalServer({
    store,
    settings: { ...DEFAULT_SETTINGS, ...options.settings },
    authorizationTimeoutMs: options.authorizationTimeoutMs,
    now: options.now,
    sweep: options.sweep,
    maxFrameBytes: options.maxFrameBytes,
  });
  const ws = `ws://127.0.0.1:${server.port}`;
  return {
    store,
    server,
    tokens,
    clientUrl: (externalId = "device-1", key = KEY_A) => `${ws}/client/v2/websocket?external_id=${externalId}&name=laptop&public_key=${encodeURIComponent(key)}`,
    gatewayUrl: (externalId = "gw-1", key = KEY_B) => `${ws}/gateway/v2/websocket?external_id=${externalId}&name=gw&public_key=${encodeURIComponent(key)}`,
    relayUrl: (name = "relay-1") => `${ws}/relay/websocket?name=${name}&port=3478&ipv4=192.0.2.10&ipv6=2001:db8::10`,
    async stop() {
      await server.stop();
      store.close();
    },
  };
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
