import { homedir } from "node:os";
import { join } from "node:path";

/**
 * The default log directory of a role. As root each role has its own system directory
 * (`/var/log/firezone/<role>`); a person's client logs go to the XDG state directory.
 * `LOG_DIR` (Firezone's own variable) overrides both; `--log-dir` overrides `LOG_DIR`.
 */
export function defaultLogDir(role: string, env: Record<string, string | undefined> = process.env, uid = currentUid()): string {
  if (env.LOG_DIR && env.LOG_DIR.trim() !== "") return env.LOG_DIR;
  if (uid === 0) return join("/var/log/firezone", role);
  const state = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith("/") ? env.XDG_STATE_HOME : join(env.HOME || homedir(), ".local/state");
  return join(state, "firezone/logs");
}

function currentUid(): number {
  return typeof process.getuid === "function" ? process.getuid() : -1;
}
