/**
 * A scripted TURN server for the client's fake-time tests: answers like a Firezone relay (401
 * challenge, nonce checks, MESSAGE-INTEGRITY on every authenticated answer) unless a test
 * overrides a method's answer. Built on our codec so it is cheap; the coturn interop test covers
 * an independent server.
 */
import {
  ATTR_XOR_MAPPED_ADDRESS,
  ATTR_XOR_RELAYED_ADDRESS,
  getChannelNumber,
  getLifetime,
  getNonce,
  getUsername,
  getXorPeerAddress,
  isMalformed,
  longTermKey,
  MessageBuilder,
  METHOD_ALLOCATE,
  METHOD_BINDING,
  METHOD_CHANNEL_BIND,
  METHOD_REFRESH,
  parseMessage,
  verifyIntegrity,
  type SocketAddress,
  type StunMessage,
} from "../../src/stun/index.ts";
import type { Allocation } from "../../src/turn/index.ts";

export type Answer = Uint8Array | null | "default";

export class FakeRelay {
  addr: SocketAddress = { ip: "192.0.2.1", port: 3478 };
  realm = "firezone";
  nonce = "nonce-1";
  lifetime = 600;
  relayed4: SocketAddress | undefined = { ip: "192.0.2.1", port: 50000 };
  relayed6: SocketAddress | undefined = { ip: "2001:db8::1", port: 50000 };
  /** Address the relay reports back as XOR-MAPPED-ADDRESS (a NAT in front of the client). */
  mapped: SocketAddress | undefined;
  /** Per-method override: return bytes to answer with, null to stay silent, "default" to behave normally. */
  override: Partial<Record<number, (m: StunMessage) => Answer>> = {};
  silent = false;
  readonly received: StunMessage[] = [];
  readonly key: Uint8Array;

  constructor(
    readonly username: string,
    readonly password: string,
  ) {
    this.key = longTermKey(username, this.realm, password);
  }

  /** Answers one datagram; null when silent. */
  handle(from: SocketAddress, bytes: Uint8Array): Uint8Array | null {
    const r = parseMessage(bytes);
    if (!r.ok) return null;
    const m = r.message;
    this.received.push(m);
    if (this.silent) return null;
    const o = this.override[m.method];
    if (o) {
      const a = o(m);
      if (a !== "default") return a;
    }
    if (m.method === METHOD_BINDING)
      return this.reply(m, "success", (b) => b.addXorAddress(ATTR_XOR_MAPPED_ADDRESS, this.mapped ?? from), false);
    if (m.integrityOffset < 0 || getNonce(m) === undefined) return this.error(m, 401, "Unauthorized", false);
    if (getNonce(m) !== this.nonce) return this.error(m, 438, "Stale Nonce", false);
    if (getUsername(m) !== this.username || !verifyIntegrity(m, this.key)) return this.error(m, 401, "Unauthorized", false);
    switch (m.method) {
      case METHOD_ALLOCATE:
        return this.reply(m, "success", (b) => {
          if (this.relayed4) b.addXorAddress(ATTR_XOR_RELAYED_ADDRESS, this.relayed4);
          if (this.relayed6) b.addXorAddress(ATTR_XOR_RELAYED_ADDRESS, this.relayed6);
          b.addXorAddress(ATTR_XOR_MAPPED_ADDRESS, this.mapped ?? from).addLifetime(this.lifetime);
        });
      case METHOD_REFRESH: {
        const asked = getLifetime(m);
        const lifetime = typeof asked === "number" ? Math.min(asked, 3600) : this.lifetime;
        return this.reply(m, "success", (b) => b.addLifetime(lifetime));
      }
      case METHOD_CHANNEL_BIND: {
        const peer = getXorPeerAddress(m);
        const ch = getChannelNumber(m);
        if (!peer || isMalformed(peer) || typeof ch !== "number") return this.error(m, 400, "Bad Request");
        return this.reply(m, "success", () => {});
      }
    }
    return this.error(m, 400, "Bad Request");
  }

  reply(m: StunMessage, cls: "success" | "error", f: (b: MessageBuilder) => void, sign = true): Uint8Array {
    const b = new MessageBuilder(m.method, cls, m.transactionId);
    f(b);
    b.addSoftware("fake-relay");
    if (sign) b.addMessageIntegrity(this.key);
    const r = b.addFingerprint().finish();
    if (!r.ok) throw new Error(r.reason);
    return new Uint8Array(r.bytes);
  }

  error(m: StunMessage, code: number, reason: string, sign = true): Uint8Array {
    return this.reply(
      m,
      "error",
      (b) => {
        b.addErrorCode(code, reason);
        if (code === 401 || code === 438) b.addRealm(this.realm).addNonce(this.nonce);
      },
      sign,
    );
  }

  lastOf(method: number): StunMessage | undefined {
    for (let i = this.received.length - 1; i >= 0; i--) if (this.received[i].method === method) return this.received[i];
    return undefined;
  }

  countOf(method: number): number {
    return this.received.filter((m) => m.method === method).length;
  }
}

/** Moves every queued transmit to the relay and every answer back, until quiet. */
export function pump(a: Allocation, relay: FakeRelay, local: SocketAddress, now: number): void {
  for (let guard = 0; guard < 100; guard++) {
    const t = a.pollTransmit();
    if (!t) return;
    if (t.dst.ip !== relay.addr.ip || t.dst.port !== relay.addr.port) continue;
    const answer = relay.handle(local, t.payload);
    if (answer) a.handleInput(relay.addr, local, answer, now);
  }
}

export function drainEvents(a: Allocation) {
  const out = [];
  for (let e = a.pollEvent(); e; e = a.pollEvent()) out.push(e);
  return out;
}

export function drainTransmits(a: Allocation) {
  const out = [];
  for (let t = a.pollTransmit(); t; t = a.pollTransmit()) out.push(t);
  return out;
}
