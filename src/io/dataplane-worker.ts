/**
 * Entry point of the data-plane Worker: builds the TUN I/O, the UDP transport and the handler
 * from one config message, then runs the packet loop until the stop flag is set. Counters go
 * through the shared stats buffer; the only messages are ready / error / stopped.
 *
 * `bun build --compile` needs this file as an extra entry point (bun-lab §8).
 */
import { logger } from "../log/index.ts";
import type { DataplaneConfig, DataplaneEvent } from "./dataplane-config.ts";
import { buildDataplane } from "./dataplane-build.ts";

declare const self: Worker;
const log = logger("io::worker");

function post(ev: DataplaneEvent): void {
  self.postMessage(ev);
}

self.onmessage = async (msg: MessageEvent<DataplaneConfig>) => {
  try {
    const dp = await buildDataplane(msg.data);
    post({ type: "ready", localPort: dp.udp.localPort, transport: dp.udp.kind, gso: dp.gso });
    await dp.loop.run();
    dp.udp.close();
    post({ type: "stopped" });
  } catch (e) {
    log.error("data plane failed", { error: String(e) });
    post({ type: "error", message: e instanceof Error ? e.message : String(e) });
  }
};
