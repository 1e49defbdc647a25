/**
 * Test applications behind the simulated TUN: a probe flow (numbered UDP packets at a fixed
 * rate, one direction) to measure when traffic resumes, and a selective-repeat reliable stream
 * to move megabytes over a lossy tunnel. Packets are real IPv4/UDP built with src/ip.
 */
import { buildUdpPacket, parseIPv4 } from "../../src/ip/index.ts";
import type { NodeHost, SendOutcome } from "./node-host.ts";
import type { Sim, SimComponent } from "./sim.ts";

/** An IPv4/UDP packet from `from`'s tunnel address to `to`'s. */
export function udpPacket(from: NodeHost, to: NodeHost, srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(28 + payload.length);
  const n = buildUdpPacket(out, 0, parseIPv4(from.tunIp)!, parseIPv4(to.tunIp)!, srcPort, dstPort, payload);
  if (typeof n === "string") throw new Error(`cannot build packet: ${n}`);
  return out.subarray(0, n);
}

export interface ProbeRecord {
  seq: number;
  at: number;
  outcome: SendOutcome;
}

/** Numbered probes from one node to another every `interval` ms while running. */
export class ProbeFlow {
  readonly sent: ProbeRecord[] = [];
  /** seq → arrival instant (first copy). */
  readonly received = new Map<number, number>();
  duplicates = 0;
  private running = false;
  private seq = 0;

  constructor(
    readonly sim: Sim,
    readonly from: NodeHost,
    readonly to: NodeHost,
    readonly port: number,
    readonly interval = 50,
  ) {
    to.apps.set(port, (_peer, payload, now) => {
      const s = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(0);
      if (this.received.has(s)) this.duplicates++;
      else this.received.set(s, now);
    });
  }

  start(): this {
    if (this.running) return this;
    this.running = true;
    const tick = (now: number) => {
      if (!this.running) return;
      this.sendOne(now);
      this.sim.after(this.interval, tick);
    };
    this.sim.after(0, tick);
    return this;
  }

  stop(): void {
    this.running = false;
  }

  sendOne(now: number): ProbeRecord {
    const payload = new Uint8Array(16);
    new DataView(payload.buffer).setUint32(0, this.seq);
    const outcome = this.from.send(this.to.id, udpPacket(this.from, this.to, this.port, this.port, payload), now);
    const r = { seq: this.seq++, at: now, outcome };
    this.sent.push(r);
    return r;
  }

  /** When the first probe sent at or after `t` arrived (undefined: none did). */
  firstArrivalAfter(t: number): number | undefined {
    let best: number | undefined;
    for (const p of this.sent) {
      if (p.at < t) continue;
      const a = this.received.get(p.seq);
      if (a !== undefined && (best === undefined || a < best)) best = a;
    }
    return best;
  }

  /** Probes sent in [t0, t1) that arrived / did not. */
  deliveredBetween(t0: number, t1: number): { sent: number; arrived: number } {
    let sent = 0;
    let arrived = 0;
    for (const p of this.sent) {
      if (p.at < t0 || p.at >= t1) continue;
      sent++;
      if (this.received.has(p.seq)) arrived++;
    }
    return { sent, arrived };
  }
}

const DATA = 0;
const ACK = 1;

/**
 * Selective repeat over UDP in the tunnel: a window of numbered chunks, each acknowledged on its
 * own, each retransmitted after an RTO (Karn's rule, srtt-based). Content is a function of the
 * chunk number, and the receiver checks every byte.
 */
export class ReliableStream implements SimComponent {
  readonly name: string;
  readonly chunks: number;
  private readonly acked: Uint8Array;
  private readonly got: Uint8Array;
  private readonly deadline = new Map<number, number>();
  private readonly firstSent = new Map<number, number>();
  private readonly retransmitted = new Set<number>();
  private base = 0;
  private next = 0;
  private srtt: number | undefined;
  private rto = 500;
  receivedChunks = 0;
  receivedBytes = 0;
  corrupt = 0;
  transmissions = 0;
  startedAt: number | undefined;
  doneAt: number | undefined;
  senderDoneAt: number | undefined;

  constructor(
    readonly sim: Sim,
    readonly from: NodeHost,
    readonly to: NodeHost,
    readonly totalBytes: number,
    readonly port = 9000,
    readonly chunkSize = 1200,
    readonly window = 128,
  ) {
    this.name = `stream ${from.id}→${to.id}`;
    this.chunks = Math.ceil(totalBytes / chunkSize);
    this.acked = new Uint8Array(this.chunks);
    this.got = new Uint8Array(this.chunks);
    to.apps.set(port, (_p, payload, now) => this.onData(payload, now));
    from.apps.set(port + 1, (_p, payload, now) => this.onAck(payload, now));
  }

  start(now: number): void {
    this.startedAt = now;
    this.fill(now);
  }

  get done(): boolean {
    return this.doneAt !== undefined && this.senderDoneAt !== undefined;
  }

  pollTimeout(): { at: number; reason: string } | undefined {
    let at = Infinity;
    for (const d of this.deadline.values()) if (d < at) at = d;
    return at === Infinity ? undefined : { at, reason: "retransmit" };
  }

  handleTimeout(now: number): void {
    for (const [seq, d] of [...this.deadline]) {
      if (d > now) continue;
      this.retransmitted.add(seq);
      this.sendChunk(seq, now);
    }
  }

  flush(_now: number): void {}

  private fill(now: number): void {
    while (this.next < this.chunks && this.next < this.base + this.window) this.sendChunk(this.next++, now);
  }

  private chunkLength(seq: number): number {
    return Math.min(this.chunkSize, this.totalBytes - seq * this.chunkSize);
  }

  private sendChunk(seq: number, now: number): void {
    const len = this.chunkLength(seq);
    const payload = new Uint8Array(5 + len);
    payload[0] = DATA;
    new DataView(payload.buffer).setUint32(1, seq);
    for (let i = 0; i < len; i++) payload[5 + i] = contentByte(seq, i);
    if (!this.firstSent.has(seq)) this.firstSent.set(seq, now);
    this.deadline.set(seq, now + this.rto);
    this.transmissions++;
    this.from.send(this.to.id, udpPacket(this.from, this.to, this.port + 1, this.port, payload), now);
  }

  private onData(payload: Uint8Array, now: number): void {
    if (payload.length < 5 || payload[0] !== DATA) return;
    const seq = new DataView(payload.buffer, payload.byteOffset).getUint32(1);
    if (seq >= this.chunks) return;
    const len = payload.length - 5;
    let ok = len === this.chunkLength(seq);
    for (let i = 0; ok && i < len; i++) if (payload[5 + i] !== contentByte(seq, i)) ok = false;
    if (!ok) {
      this.corrupt++;
      return;
    }
    if (!this.got[seq]) {
      this.got[seq] = 1;
      this.receivedChunks++;
      this.receivedBytes += len;
      if (this.receivedChunks === this.chunks) this.doneAt = now;
    }
    const ack = new Uint8Array(5);
    ack[0] = ACK;
    new DataView(ack.buffer).setUint32(1, seq);
    this.to.send(this.from.id, udpPacket(this.to, this.from, this.port, this.port + 1, ack), now);
  }

  private onAck(payload: Uint8Array, now: number): void {
    if (payload.length < 5 || payload[0] !== ACK) return;
    const seq = new DataView(payload.buffer, payload.byteOffset).getUint32(1);
    if (seq >= this.chunks || this.acked[seq]) return;
    this.acked[seq] = 1;
    this.deadline.delete(seq);
    if (!this.retransmitted.has(seq)) {
      const sample = now - this.firstSent.get(seq)!;
      this.srtt = this.srtt === undefined ? sample : (7 * this.srtt + sample) / 8;
      this.rto = Math.max(100, Math.min(2000, 2 * this.srtt + 20));
    }
    while (this.base < this.chunks && this.acked[this.base]) this.base++;
    if (this.base === this.chunks) this.senderDoneAt = now;
    this.fill(now);
  }
}

function contentByte(seq: number, i: number): number {
  return (seq * 131 + i * 7 + (seq >>> 8)) & 0xff;
}
