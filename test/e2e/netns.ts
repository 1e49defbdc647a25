/**
 * Network namespaces for e2e tests: random-suffixed names (other engineers run tests at the same
 * time), `ip -j` queries inside them, Bun scripts run inside them as subprocesses, and cleanup
 * that never throws. Only addresses inside these namespaces are ever used.
 */
import { spawn, spawnSync, type Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const BUN = process.execPath;

export function suffix(): string {
  return Math.random().toString(36).slice(2, 8);
}

export class Netns {
  readonly name = `fzio-${suffix()}`;
  readonly stateDir = mkdtempSync(join(tmpdir(), "fzio-state-"));
  private readonly procs: Subprocess[] = [];

  constructor() {
    run(["ip", "netns", "add", this.name]);
    run(["ip", "-n", this.name, "link", "set", "lo", "up"]);
  }

  /** `ip -j <args>` inside the namespace, parsed. */
  ipJson<T = any>(...args: string[]): T {
    const out = run(["ip", "-n", this.name, "-j", ...args]);
    return (out.trim() === "" ? [] : JSON.parse(out)) as T;
  }

  exec(cmd: string[]): { code: number; stdout: string; stderr: string } {
    const r = spawnSync(["ip", "netns", "exec", this.name, ...cmd], { stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  }

  /** A long-running Bun script inside the namespace; its stdout is read line by line. */
  spawnBun(script: string, args: string[] = [], env: Record<string, string> = {}): ScriptProcess {
    const p = spawn(["ip", "netns", "exec", this.name, BUN, script, ...args], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ...env },
    });
    this.procs.push(p);
    return new ScriptProcess(p);
  }

  spawnCmd(cmd: string[]): ScriptProcess {
    const p = spawn(["ip", "netns", "exec", this.name, ...cmd], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    this.procs.push(p);
    return new ScriptProcess(p);
  }

  destroy(): void {
    for (const p of this.procs) {
      try {
        p.kill(9);
      } catch {
        // already gone
      }
    }
    spawnSync(["ip", "netns", "del", this.name], { stdout: "ignore", stderr: "ignore" });
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** Line-oriented access to a child's stdout (JSON lines from the fixture scripts). */
export class ScriptProcess {
  private buffered = "";
  private readonly reader: { read(): Promise<{ value?: Uint8Array; done: boolean }> };
  private stderrText: Promise<string>;

  constructor(readonly proc: Subprocess<"pipe", "pipe", "pipe">) {
    this.reader = proc.stdout.getReader();
    this.stderrText = new Response(proc.stderr).text();
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** The next stdout line, or null at EOF. */
  async line(): Promise<string | null> {
    for (;;) {
      const nl = this.buffered.indexOf("\n");
      if (nl >= 0) {
        const l = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        return l;
      }
      const { value, done } = await this.reader.read();
      if (done) return this.buffered === "" ? null : this.take();
      this.buffered += new TextDecoder().decode(value);
    }
  }

  /** The next JSON line; fails with the child's stderr if it ended instead. */
  async json<T = any>(): Promise<T> {
    const l = await this.line();
    if (l === null) throw new Error(`child exited (${await this.proc.exited}) without output:\n${await this.stderrText}`);
    try {
      return JSON.parse(l) as T;
    } catch {
      throw new Error(`child printed non-JSON line: ${l}\n${await this.stderrText}`);
    }
  }

  send(line: string): void {
    this.proc.stdin.write(`${line}\n`);
    this.proc.stdin.flush();
  }

  async stderr(): Promise<string> {
    return this.stderrText;
  }

  private take(): string {
    const l = this.buffered;
    this.buffered = "";
    return l;
  }
}

function run(cmd: string[]): string {
  const r = spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${r.exitCode}): ${r.stderr.toString()}`);
  return r.stdout.toString();
}
