/**
 * A small file that records what the TUN device installed outside itself, so that a run killed
 * with SIGKILL can be undone at the next start. Addresses and routes on the TUN vanish with its
 * last fd; policy rules do not, which is why they are the main thing recorded.
 *
 * Written atomically (temp file + rename) after every change, removed on a clean close.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RuleSpec } from "./netlink/codec.ts";

export const DEFAULT_STATE_DIR = "/run/firezone";

export interface InstalledRoute {
  dst: string;
  table: number;
}

export interface InstalledState {
  version: 1;
  pid: number;
  device: string;
  addresses: string[];
  routes: InstalledRoute[];
  rules: RuleSpec[];
}

export class InstallStateFile {
  readonly path: string;

  constructor(readonly dir: string, device: string) {
    this.path = join(dir, `tun-${device}.json`);
  }

  /** The recorded state, or null when there is none or it is unreadable (then it is discarded). */
  load(): InstalledState | null {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return null;
    }
    try {
      const s = JSON.parse(text) as InstalledState;
      if (s.version !== 1 || !Array.isArray(s.rules) || !Array.isArray(s.routes) || !Array.isArray(s.addresses)) return null;
      return s;
    } catch {
      return null;
    }
  }

  save(state: InstalledState): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state), { mode: 0o644 });
    renameSync(tmp, this.path);
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}
