/**
 * Entry point of the data-plane Worker: builds the TUN I/O, the UDP transport and the handler
 * from one config message, then runs the packet loop until the stop flag is set. Counters go
 * through the shared stats buffer; the only messages are ready / error / stopped.
 *
 * `bun build --compile` needs this file as an extra entry point (bun-lab §8).
 */
import { configureLogging, LogFilter, logger, type LogRecord } from "../log/index.ts";
import type { DataplaneConfig, DataplaneControl, DataplaneEvent } from "./dataplane-config.ts";
import { buildDataplane, type BuiltDataplane } from "./dataplane-build.ts";

declare const self: Worker;
const log = logger("io::worker");

function post(ev: DataplaneEvent): void {
  self.postMessage(ev);
}

/** Log records leave the Worker as messages; the main thread owns the log files. */
const forwardSink = {
  write(r: LogRecord) {
    post({ type: "log", severity: r.severity, target: r.target, message: r.message, fields: r.fields });
  },
  flush() {},
  close() {},
};

let running: BuiltDataplane | null = null;

self.onmessage = async (msg: MessageEvent<DataplaneConfig | DataplaneControl>) => {
  if ("type" in msg.data && msg.data.type === "control") {
    running?.handler.control?.(msg.data.body);
    return;
  }
  const cfg = msg.data as DataplaneConfig;
  try {
    configureLogging(LogFilter.parse(cfg.logFilter ?? process.env.FIREZONE_LOG, "info"), [forwardSink]);
    const dp = await buildDataplane(cfg);
    running = dp;
    post({ type: "ready", localPort: dp.udp.localPort, transport: dp.udp.kind, gso: dp.gso });
    await dp.loop.run();
    dp.udp.close();
    post({ type: "stopped" });
  } catch (e) {
    log.error("data plane failed", { error: String(e) });
    post({ type: "error", message: e instanceof Error ? e.message : String(e) });
  }
};
