import { x25519GenerateKeyPair } from "../../src/crypto/index.ts";
import { TunnAction, type TunnResult } from "../../src/wireguard/result.ts";
import { Tunnel, type TunnelConfig } from "../../src/wireguard/tunnel.ts";
import { ipv4Packet as minimalIpv4Packet } from "../support/ipv4-packet.ts";
import { xorshift32 } from "../support/prng.ts";

/** Fake clocks shared by both ends: monotonic `now` and a wall clock that moves with it. */
export class FakeTime {
  now = 1_000_000;
  readonly wallBase = 1_764_000_000_000;
  wall = (): number => this.wallBase + this.now;
  advance(ms: number): number {
    this.now += ms;
    return this.now;
  }
}

/** A deterministic [0,1) source so jitter is reproducible. */
export function seededRandom(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 0x1_0000_0000;
}

export function ipv4Packet(payload: Uint8Array | string, src = [10, 0, 0, 1], dst = [10, 0, 0, 2]): Uint8Array {
  return minimalIpv4Packet(payload, src, dst);
}

export function copyOut(r: TunnResult): Uint8Array {
  return r.buf.slice(r.offset, r.offset + r.length);
}

/** Two tunnels that know each other, with helpers to shuttle datagrams between them. */
export class Pair {
  readonly time = new FakeTime();
  readonly a: Tunnel;
  readonly b: Tunnel;
  readonly keysA = x25519GenerateKeyPair();
  readonly keysB = x25519GenerateKeyPair();
  readonly out = new Uint8Array(65536);

  constructor(opts: { psk?: Uint8Array; a?: Partial<TunnelConfig>; b?: Partial<TunnelConfig> } = {}) {
    this.a = new Tunnel({
      privateKey: this.keysA.privateKey,
      peerPublicKey: this.keysB.publicKey,
      presharedKey: opts.psk,
      wallClock: this.time.wall,
      random: seededRandom(1),
      ...opts.a,
    });
    this.b = new Tunnel({
      privateKey: this.keysB.privateKey,
      peerPublicKey: this.keysA.publicKey,
      presharedKey: opts.psk,
      wallClock: this.time.wall,
      random: seededRandom(2),
      ...opts.b,
    });
  }

  get now(): number {
    return this.time.now;
  }

  /** Collects every datagram `from` wants to send right now (result + pollTransmit drain). */
  drain(from: Tunnel, first: TunnResult | null): Uint8Array[] {
    const msgs: Uint8Array[] = [];
    let r = first;
    for (;;) {
      if (r !== null && r.action === TunnAction.WriteToNetwork) msgs.push(copyOut(r));
      r = from.pollTransmit(this.now);
      if (r.action !== TunnAction.WriteToNetwork) break;
    }
    return msgs;
  }

  /** Delivers datagrams to `to`; returns decrypted packets and delivers its answers back, until quiet. */
  deliver(to: Tunnel, msgs: Uint8Array[], delivered: Uint8Array[] = []): Uint8Array[] {
    const from = to === this.a ? this.b : this.a;
    for (const m of msgs) {
      const r = to.decapsulate(m, this.out, this.now, "192.0.2.1", 51820);
      if (r.action === TunnAction.WriteToTunnelV4 || r.action === TunnAction.WriteToTunnelV6) {
        delivered.push(copyOut(r));
        this.deliver(from, this.drain(to, null), delivered);
      } else {
        this.deliver(from, this.drain(to, r), delivered);
      }
    }
    return delivered;
  }

  /** Sends one IP packet from `from` and runs the exchange to completion; returns what the other side got. */
  send(from: Tunnel, packet: Uint8Array): Uint8Array[] {
    const to = from === this.a ? this.b : this.a;
    const r = from.encapsulate(packet, this.out, this.now);
    return this.deliver(to, this.drain(from, r));
  }

  /** Runs both tunnels' timers at the current time and delivers what they send. */
  tick(): void {
    for (const t of [this.a, this.b]) {
      const other = t === this.a ? this.b : this.a;
      const r = t.handleTimeout(this.now);
      this.deliver(other, this.drain(t, r));
    }
  }

  /** Moves time forward in steps, running timers at each due time, like a driver would. */
  runUntil(at: number): void {
    for (let guard = 0; ; guard++) {
      // A deadline that handleTimeout does not move would spin here forever.
      if (guard > 100_000) throw new Error("timers do not make progress");
      const ta = this.a.pollTimeout()?.at ?? Infinity;
      const tb = this.b.pollTimeout()?.at ?? Infinity;
      const next = Math.min(ta, tb);
      if (next > at) break;
      if (next > this.time.now) this.time.now = next;
      this.tick();
    }
    this.time.now = at;
  }
}
