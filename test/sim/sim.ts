/**
 * The simulation's event loop: one virtual clock, one network, many sans-IO components.
 *
 * A step asks every component for its `pollTimeout`, the network for its next hop and the
 * scheduler for its next callback, jumps the clock to the earliest, completes the hops due
 * (socket handlers feed the components), runs due callbacks and timeouts, then lets every
 * component flush its transmits and events. A step budget turns a livelock into a test failure
 * with the culprit named, instead of a hung test.
 */
import { TimeHeap } from "./heap.ts";
import { SimNetwork } from "./network.ts";
import { Prng } from "./prng.ts";

export interface SimComponent {
  readonly name: string;
  /** The next instant this component wants `handleTimeout`, with why. */
  pollTimeout(): { at: number; reason: string } | undefined;
  handleTimeout(now: number): void;
  /** Drain `pollTransmit` into the network and `pollEvent` into whoever listens. */
  flush(now: number): void;
}

interface Scheduled {
  at: number;
  seq: number;
  run: (now: number) => void;
}

export class StepBudgetExceeded extends Error {}

export interface SimOptions {
  seed: number;
  /** Steps one `run` may take before it fails. */
  stepBudget?: number;
}

export class Sim {
  now = 0;
  steps = 0;
  readonly prng: Prng;
  readonly net: SimNetwork;
  readonly components: SimComponent[] = [];
  private readonly scheduled = new TimeHeap<Scheduled>();
  private seq = 0;
  private readonly stepBudget: number;
  /** Why the loop last woke up, for budget failures. */
  private lastWake = "";

  constructor(options: SimOptions) {
    this.prng = new Prng(options.seed);
    this.net = new SimNetwork(this.prng, () => this.now);
    this.stepBudget = options.stepBudget ?? 2_000_000;
  }

  add<T extends SimComponent>(c: T): T {
    this.components.push(c);
    return c;
  }

  remove(c: SimComponent): void {
    const i = this.components.indexOf(c);
    if (i >= 0) this.components.splice(i, 1);
  }

  /** Runs `fn` at virtual instant `at` (not before now). */
  at(at: number, fn: (now: number) => void): void {
    this.scheduled.push({ at: Math.max(at, this.now), seq: this.seq++, run: fn });
  }

  after(delay: number, fn: (now: number) => void): void {
    this.at(this.now + delay, fn);
  }

  /** Advances virtual time to `until`, doing everything due on the way. */
  runUntil(until: number): void {
    this.loop(until, () => false);
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** Runs until `done()` holds (checked after every step) or `limit` ms pass; returns whether it held. */
  runUntilTrue(done: () => boolean, limit: number): boolean {
    if (done()) return true;
    return this.loop(this.now + limit, done);
  }

  private loop(until: number, done: () => boolean): boolean {
    const start = this.steps;
    for (;;) {
      // Flush first: commands given between runs (upserts, sends) produce output without a timeout.
      for (const c of this.components) c.flush(this.now);
      let next = Infinity;
      let why = "";
      const hop = this.net.nextAt();
      if (hop !== undefined && hop < next) {
        next = hop;
        why = "datagram";
      }
      const s = this.scheduled.peek();
      if (s && s.at < next) {
        next = s.at;
        why = "scheduled";
      }
      for (const c of this.components) {
        const t = c.pollTimeout();
        if (t && t.at < next) {
          next = t.at;
          why = `${c.name}: ${t.reason}`;
        }
      }
      if (next > until) {
        this.now = Math.max(this.now, until);
        return false;
      }
      if (++this.steps - start > this.stepBudget) {
        throw new StepBudgetExceeded(`step budget of ${this.stepBudget} exceeded at t=${this.now} ms; last wake-up: ${this.lastWake}`);
      }
      this.lastWake = why;
      this.now = Math.max(this.now, next);
      this.net.deliverDue(this.now);
      for (let e = this.scheduled.peek(); e && e.at <= this.now; e = this.scheduled.peek()) {
        this.scheduled.pop();
        e.run(this.now);
      }
      for (const c of this.components) {
        const t = c.pollTimeout();
        if (t && t.at <= this.now) c.handleTimeout(this.now);
      }
      for (const c of this.components) c.flush(this.now);
      if (done()) return true;
    }
  }
}
