/**
 * The measuring loop every perf suite uses: warm-up, then N timed runs of a fixed duration,
 * reported as the median run (ops/s, and MB/s when an op moves a known number of bytes), with
 * ratios against a baseline measured in the same process, in the same run.
 */

export interface PerfOptions {
  /** Timed milliseconds per measurement, split evenly over `runs`. */
  durationMs: number;
  /** Number of timed runs per measurement; the median is reported. */
  runs: number;
  /** Untimed milliseconds before the timed runs (JIT, caches, lazy init). */
  warmupMs: number;
  /** One line per finished measurement, for people watching a long run (stderr in the CLI). */
  progress?: (line: string) => void;
}

export const DEFAULT_OPTIONS: PerfOptions = { durationMs: 1000, runs: 5, warmupMs: 200 };

export interface Measurement {
  /** What is compared within a group ("aead-seal-1420"); ratios are taken inside a group. */
  group: string;
  /** The contender ("libcrypto", "noble", …). */
  name: string;
  opsPerSec: number;
  /** Present when each op moves `bytesPerOp` bytes: 10^6 bytes per second. */
  mbPerSec?: number;
  bytesPerOp?: number;
  /** ops/s of each timed run, in run order. */
  samples: number[];
  /** The contender in the same group this one is compared against, and the ratio of ops/s. */
  baseline?: string;
  ratio?: number;
  note?: string;
}

export interface MeasureSpec {
  group: string;
  name: string;
  /** One op; return any number (it is folded into a sink so the work cannot be optimised away). */
  op: () => number | void;
  bytesPerOp?: number;
  /** Name of the baseline contender in `group` (measure it first or later; ratios are filled in at the end). */
  baseline?: string;
  note?: string;
}

let sink = 0;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Collects measurements for one suite run. */
export class Bench {
  readonly results: Measurement[] = [];

  constructor(readonly options: PerfOptions) {}

  measure(spec: MeasureSpec): Measurement {
    const batch = this.warm(spec.op);
    const samples: number[] = [];
    for (let r = 0; r < this.runCount(); r++) samples.push(this.timedRun(spec.op, batch));
    return this.record(spec, samples);
  }

  /**
   * Measures several contenders of one group with their timed runs interleaved (run 1 of each,
   * then run 2 of each, …), so a burst of load from elsewhere on the machine hits them all alike
   * and the ratios stay fair.
   */
  measureGroup(group: { group: string; baseline?: string; bytesPerOp?: number; contenders: { name: string; op: () => number | void; note?: string }[] }): Measurement[] {
    const batches = group.contenders.map((c) => this.warm(c.op));
    const samples = group.contenders.map(() => [] as number[]);
    for (let r = 0; r < this.runCount(); r++) {
      group.contenders.forEach((c, i) => samples[i].push(this.timedRun(c.op, batches[i])));
    }
    return group.contenders.map((c, i) =>
      this.record({ group: group.group, name: c.name, op: c.op, baseline: group.baseline, bytesPerOp: group.bytesPerOp, note: c.note }, samples[i]),
    );
  }

  private runCount(): number {
    return Math.max(1, Math.floor(this.options.runs));
  }

  /** Runs `op` for the warm-up time and returns a batch size that takes about 1 ms. */
  private warm(op: () => number | void): number {
    let batch = 1;
    const warmEnd = performance.now() + this.options.warmupMs;
    do {
      const t0 = performance.now();
      for (let i = 0; i < batch; i++) sink ^= (op() as number) | 0;
      const dt = performance.now() - t0;
      if (dt < 1 && batch < 1 << 20) batch *= 2;
    } while (performance.now() < warmEnd);
    return batch;
  }

  /** One timed run: whole batches until the run's share of the duration is used; ops/s. */
  private timedRun(op: () => number | void, batch: number): number {
    const runMs = Math.max(1, this.options.durationMs / this.runCount());
    let ops = 0;
    const t0 = performance.now();
    const end = t0 + runMs;
    let now = t0;
    do {
      for (let i = 0; i < batch; i++) sink ^= (op() as number) | 0;
      ops += batch;
      now = performance.now();
    } while (now < end);
    return (ops * 1000) / (now - t0);
  }

  private record(spec: MeasureSpec, samples: number[]): Measurement {
    const opsPerSec = median(samples);
    const m: Measurement = { group: spec.group, name: spec.name, opsPerSec, samples };
    if (spec.bytesPerOp !== undefined) {
      m.bytesPerOp = spec.bytesPerOp;
      m.mbPerSec = (opsPerSec * spec.bytesPerOp) / 1e6;
    }
    if (spec.baseline !== undefined) m.baseline = spec.baseline;
    if (spec.note !== undefined) m.note = spec.note;
    this.results.push(m);
    this.options.progress?.(`${spec.group} ${spec.name}: ${formatRate(opsPerSec)} ops/s${m.mbPerSec !== undefined ? `, ${m.mbPerSec.toFixed(0)} MB/s` : ""}`);
    return m;
  }

  /** Fills in `ratio` for every measurement that names a baseline measured in this run. */
  finish(): Measurement[] {
    for (const m of this.results) {
      if (!m.baseline) continue;
      const base = this.results.find((b) => b.group === m.group && b.name === m.baseline);
      if (base && base.opsPerSec > 0) m.ratio = m.opsPerSec / base.opsPerSec;
    }
    return this.results;
  }
}

export function formatRate(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  if (x >= 100) return x.toFixed(0);
  return x.toFixed(1);
}

/** Keeps the sink observable so no engine can prove the measured work dead. */
export function benchSink(): number {
  return sink;
}
