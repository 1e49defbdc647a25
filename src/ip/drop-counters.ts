// Per-reason drop counters, so every refused packet is visible (status --json, debug logs)
// without a string allocation or map growth on the hot path.
import { IP_DROP_REASONS, type IpDropReason } from "./drop-reason.ts";

export class DropCounters<R extends string = IpDropReason> {
  private readonly counts = new Map<string, number>();

  /** `reasons` are pre-registered so counting never grows the map; unknown reasons still count. */
  constructor(reasons: readonly R[] = IP_DROP_REASONS as unknown as readonly R[]) {
    for (const r of reasons) this.counts.set(r, 0);
  }

  count(reason: R, n = 1): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
  }

  get(reason: R): number {
    return this.counts.get(reason) ?? 0;
  }

  get total(): number {
    let t = 0;
    for (const v of this.counts.values()) t += v;
    return t;
  }

  /** Non-zero counters only, for status output. */
  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.counts) if (v !== 0) out[k] = v;
    return out;
  }
}
