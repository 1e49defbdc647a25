import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repo = join(import.meta.dir, "../..");
const main = join(repo, "src/cli/main.ts");
const files = { bash: "firezone.bash", zsh: "_firezone", fish: "firezone.fish" } as const;
const tmp = mkdtempSync(join(tmpdir(), "fz-compl-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  const p = Bun.spawnSync([process.execPath, main, ...args], { env: { ...process.env, NO_COLOR: "1" } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

function shell(cmd: string[], script: string): string {
  const p = Bun.spawnSync([...cmd, script], { env: { ...process.env, HOME: tmp }, cwd: repo });
  if (p.exitCode !== 0) throw new Error(`${cmd[0]} failed: ${p.stderr.toString()}`);
  return p.stdout.toString();
}

describe("completion scripts", () => {
  test("completions/ holds exactly what the code generates (run `bun run gen:completions`)", () => {
    for (const [sh, file] of Object.entries(files)) {
      const r = cli("completions", sh);
      expect(r.code).toBe(0);
      expect(readFileSync(join(repo, "completions", file), "utf8")).toBe(r.out);
    }
  });

  test("--write DIR writes all three", () => {
    const dir = join(tmp, "out");
    const r = cli("completions", "--write", dir);
    expect(r.code).toBe(0);
    for (const [sh, file] of Object.entries(files)) expect(readFileSync(join(dir, file), "utf8")).toBe(cli("completions", sh).out);
  });

  test("a missing or unknown shell is a usage error", () => {
    expect(cli("completions").code).toBe(2);
    expect(cli("completions", "tcsh").code).toBe(2);
    expect(cli("completions", "tcsh").err).toContain("expected bash, zsh or fish");
  });

  test("bash: subcommands, flags, flag values, positional values, files", () => {
    const out = shell(
      ["bash", "-c"],
      `source completions/firezone.bash
       t() { COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _firezone; echo "\${COMPREPLY[*]}"; }
       t firezone lo
       t firezone ''
       t firezone logs --le
       t firezone logs --level ''
       t firezone logs --level = w
       t firezone logs -f --tail 5 --gr
       t firezone completions ''
       t firezone logs examples/firezone-client.ex
       t firezone version --j`,
    );
    const lines = out.split("\n");
    expect(lines[1]!.split(" ")).toEqual(expect.arrayContaining(["connect", "logs", "completions", "version"]));
    lines[1] = "(checked above)";
    expect(lines).toEqual([
      "logs",
      "(checked above)",
      "--level",
      "trace debug info warn error",
      "warn",
      "--grep",
      "bash zsh fish",
      "examples/firezone-client.example.jsonl",
      "--json",
      "",
    ]);
  });

  test("zsh: the completion function offers subcommands, flags and values", () => {
    // compadd captured: zsh itself would filter these by the typed prefix.
    const out = shell(
      ["zsh", "-f", "-c"],
      `source completions/_firezone
       compadd() { local on=0 a; for a in "$@"; do if (( on )); then print -rn -- "$a "; elif [[ $a == -- ]]; then on=1; fi; done }
       compset() { }
       _files() { print -rn -- "FILES($*) " }
       t() { words=("$@"); CURRENT=$#; _firezone; print }
       t firezone lo
       t firezone logs --le
       t firezone logs --level ''
       t firezone logs --level=
       t firezone completions ''
       t firezone logs ''
       t firezone completions --write ''`,
    );
    const lines = out.split("\n").map((l) => l.trim());
    expect(lines[0]!.split(" ")).toContain("logs");
    expect(lines[1]!.split(" ")).toEqual(expect.arrayContaining(["--level", "--follow", "-f", "--tail", "--no-color", "--help"]));
    expect(lines[2]).toBe("trace debug info warn error");
    expect(lines[3]).toBe("trace debug info warn error");
    expect(lines[4]).toBe("bash zsh fish");
    expect(lines[5]).toBe("FILES()");
    expect(lines[6]).toBe("FILES(-/)");
  });

  test("zsh: real line-editor completion through compinit in a pseudo-terminal (zpty)", () => {
    const script = join(tmp, "zpty.zsh");
    // Each step types into an interactive zsh and waits for the completed text on its screen.
    writeFileSync(
      script,
      `zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z 'PROMPT="%% "; fpath=(${join(repo, "completions")} $fpath); autoload -Uz compinit; compinit -u -D; unsetopt beep; print -r -- RE""ADY'
out=""
readuntil() {
  local chunk deadline=$(( SECONDS + 20 ))
  while (( SECONDS < deadline )); do
    if zpty -r -t z chunk; then out+=$chunk; [[ $out == *$1* ]] && return 0; else sleep 0.05; fi
  done
  print -r -- "TIMEOUT waiting for $1"
  return 1
}
step() { out=""; zpty -w -n z "$1"; readuntil "$2" && print -r -- "OK $2" }
readuntil READY
step $'firezone lo\t' 'firezone logs'
step $'--le\t' '--level'
step $'\t' 'trace'
step $'\x15firezone completions \t' 'bash  fish  zsh'
zpty -d z
`,
    );
    const p = Bun.spawnSync(["zsh", "-f", script], { env: { ...process.env, HOME: tmp, TERM: "xterm" }, timeout: 90_000 });
    expect(p.stdout.toString().split("\n").filter((l) => l.startsWith("OK") || l.startsWith("TIMEOUT"))).toEqual([
      "OK firezone logs",
      "OK --level",
      "OK trace",
      "OK bash  fish  zsh",
    ]);
  });

  test("fish: complete -C", () => {
    const out = shell(
      ["fish", "--no-config", "-c"],
      `source completions/firezone.fish
       complete -C "firezone lo"; echo ---
       complete -C "firezone logs --le"; echo ---
       complete -C "firezone logs --level "; echo ---
       complete -C "firezone completions "; echo ---
       complete -C "firezone logs -f --tail 3 examples/firezone-client.ex"`,
    );
    const parts = out.split("---\n").map((p) => p.trim().split("\n").map((l) => l.split("\t")[0]));
    expect(parts[0]).toEqual(["logs"]);
    expect(parts[1]).toEqual(["--level"]);
    expect(parts[2]!.sort()).toEqual(["debug", "error", "info", "trace", "warn"]);
    expect(parts[3]!.sort()).toEqual(["bash", "fish", "zsh"]);
    expect(parts[4]).toEqual(["examples/firezone-client.example.jsonl"]);
  });
});
