/**
 * The main thread's handle on the data-plane Worker: start it with a config, read its counters
 * from shared memory at any time, stop it. Packets never cross this boundary.
 */
import { existsSync, readdirSync } from "node:fs";
import { logger } from "../log/index.ts";
import type { DataplaneConfig, DataplaneControl, DataplaneEvent } from "./dataplane-config.ts";
import { LoopStats } from "./loop-stats.ts";

const log = logger("io::dataplane");

export type DataplaneStartConfig = Omit<DataplaneConfig, "stats" | "stop">;

export class Dataplane {
  private stoppedPromise: Promise<void> | null = null;

  private constructor(
    private readonly worker: Worker,
    /** Loop counters, written by the Worker once per turn. */
    readonly stats: LoopStats,
    private readonly stopFlag: Int32Array,
    readonly localPort: number,
    readonly transport: string,
    readonly gso: boolean,
  ) {}

  /**
   * Starts the Worker. `workerUrl` defaults to dataplane-worker.ts next to this file; a compiled
   * binary must list that file as an entry point (`bun build --compile main.ts src/io/dataplane-worker.ts`).
   */
  static async start(cfg: DataplaneStartConfig, workerUrl: URL | string = dataplaneWorkerUrl()): Promise<Dataplane> {
    const worker = new Worker(workerUrl);
    const stats = new LoopStats();
    const stop = new SharedArrayBuffer(4);
    const ready = await new Promise<DataplaneEvent>((resolve) => {
      worker.onmessage = (m: MessageEvent<DataplaneEvent>) => {
        if (m.data.type === "log") relayLog(m.data);
        else resolve(m.data);
      };
      worker.onerror = (e) => resolve({ type: "error", message: e.message });
      worker.postMessage({ ...cfg, stats: stats.buffer, stop } satisfies DataplaneConfig);
    });
    if (ready.type !== "ready") {
      worker.terminate();
      throw new Error(`data plane did not start: ${ready.type === "error" ? ready.message : ready.type}`);
    }
    const dp = new Dataplane(worker, stats, new Int32Array(stop), ready.localPort, ready.transport, ready.gso);
    worker.onerror = (e) => log.error("data plane Worker error", { error: e.message });
    worker.onmessage = (m: MessageEvent<DataplaneEvent>) => dp.onEvent(m.data);
    log.info("data plane started", { port: ready.localPort, transport: ready.transport, gso: ready.gso });
    return dp;
  }

  /** A rare message for the Worker's handler (peer, keys): never per packet. */
  control(body: unknown): void {
    this.worker.postMessage({ type: "control", body } satisfies DataplaneControl);
  }

  private onEvent(ev: DataplaneEvent): void {
    if (ev.type === "log") relayLog(ev);
    else if (ev.type === "error") log.error("data plane failed", { error: ev.message });
  }

  /**
   * Asks the loop to stop (it notices within its idle timeout) and waits for the Worker to end;
   * a Worker that does not answer within `graceMs` (dead or wedged) is terminated.
   */
  stop(graceMs = 2000): Promise<void> {
    if (this.stoppedPromise) return this.stoppedPromise;
    this.stoppedPromise = new Promise<void>((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.worker.terminate();
        resolve();
      };
      const timer = setTimeout(() => {
        log.warn("data plane Worker did not stop in time; terminating it", { graceMs });
        end();
      }, graceMs);
      this.worker.onmessage = (m: MessageEvent<DataplaneEvent>) => {
        this.onEvent(m.data);
        if (m.data.type === "stopped" || m.data.type === "error") end();
      };
      Atomics.store(this.stopFlag, 0, 1);
    });
    return this.stoppedPromise;
  }
}

function relayLog(ev: Extract<DataplaneEvent, { type: "log" }>): void {
  logger(ev.target).log(ev.severity, ev.message, ev.fields);
}

/**
 * Where the Worker's code is. From source: next to this file. In a `bun build --compile` binary
 * every entry point sits under /$bunfs/root/ at its path relative to the entries' common
 * directory, as `.js` — so `src/io/dataplane-worker.js`, `io/…` or just the file name,
 * depending on the other entry points (bun-lab §8: the Worker must be an entry point).
 */
export function dataplaneWorkerUrl(): URL | string {
  const here = new URL("./dataplane-worker.ts", import.meta.url);
  if (!here.pathname.startsWith("/$bunfs/")) return here;
  for (const rel of ["src/io/dataplane-worker.js", "io/dataplane-worker.js", "dataplane-worker.js"]) {
    const candidate = `/$bunfs/root/${rel}`;
    if (existsSync(candidate)) return candidate;
  }
  try {
    const found = readdirSync("/$bunfs/root", { recursive: true }).map(String).find((f) => f.endsWith("dataplane-worker.js"));
    if (found) return `/$bunfs/root/${found}`;
  } catch {
    // fall through to the error below
  }
  throw new Error("data plane Worker not in this binary: build with `bun build --compile <main> src/io/dataplane-worker.ts`");
}
