/**
 * Undo-on-exit for anything with a synchronous `close()` (the TUN device): on normal exit, and on
 * SIGINT/SIGTERM. Netlink calls are synchronous, so the undo completes inside the handler.
 *
 * When the program has its own SIGINT/SIGTERM handlers (the CLI's graceful shutdown), we only
 * close and leave exiting to them; otherwise we exit with the conventional 128 + signal number.
 */
import { logger } from "../log/index.ts";

const log = logger("io::exit");

export interface Closable {
  close(): void;
}

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;

/** Registers `target.close()` for exit and termination signals; returns a function that unregisters. */
export function closeOnExit(target: Closable): () => void {
  const closeQuietly = () => {
    try {
      target.close();
    } catch (e) {
      log.error("cleanup on exit failed", { error: String(e) });
    }
  };
  const handlers = new Map<keyof typeof SIGNALS, () => void>();
  for (const sig of Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]) {
    const h = () => {
      closeQuietly();
      if (process.listenerCount(sig) <= 1) process.exit(128 + SIGNALS[sig]);
    };
    handlers.set(sig, h);
    process.on(sig, h);
  }
  process.on("exit", closeQuietly);
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
    process.off("exit", closeQuietly);
  };
}
