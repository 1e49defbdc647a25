/**
 * Packet-loop counters in a SharedArrayBuffer: the Worker writes them once per loop turn, the
 * main thread reads them whenever it likes (status, benchmarks). No message per packet.
 */
export const LOOP_STAT_NAMES = [
  "tunRxPackets",
  "tunRxBytes",
  "tunTxPackets",
  "tunTxErrors",
  "udpRxPackets",
  "udpTxPackets",
  "udpTxGsoSegments",
  "udpTxDrops",
  "handlerDrops",
  "turns",
  "idleWaits",
] as const;

export type LoopStatName = (typeof LOOP_STAT_NAMES)[number];

/** Index of each counter in `LoopStats.values` (the Worker writes by index on its hot path). */
export const STAT = Object.fromEntries(LOOP_STAT_NAMES.map((n, i) => [n, i])) as Record<LoopStatName, number>;

export class LoopStats {
  readonly values: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(LOOP_STAT_NAMES.length * 8)) {
    this.values = new Float64Array(buffer);
  }

  get(name: LoopStatName): number {
    return this.values[LOOP_STAT_NAMES.indexOf(name)]!;
  }

  set(name: LoopStatName, v: number): void {
    this.values[LOOP_STAT_NAMES.indexOf(name)] = v;
  }

  snapshot(): Record<LoopStatName, number> {
    const out = {} as Record<LoopStatName, number>;
    LOOP_STAT_NAMES.forEach((n, i) => (out[n] = this.values[i]!));
    return out;
  }
}
