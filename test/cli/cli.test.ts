import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const main = join(import.meta.dir, "../../src/cli/main.ts");

function run(...args: string[]) {
  const p = Bun.spawnSync([process.execPath, main, ...args], { env: { ...process.env, NO_COLOR: "1" } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

describe("command line", () => {
  test("version prints the package version", () => {
    const r = run("version");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^firezone \d+\.\d+\.\d+ /);
  });

  test("an unknown command names the closest one and exits 2", () => {
    const r = run("conect");
    expect(r.code).toBe(2);
    expect(r.err).toContain('did you mean "connect"');
  });

  test("an unknown flag names the closest one and exits 2", () => {
    const r = run("version", "--jsn");
    expect(r.code).toBe(2);
    expect(r.err).toContain("did you mean --json");
  });

  test("--help works on every command", () => {
    for (const cmd of ["connect", "status", "logs", "gateway", "relay", "portal", "admin", "perf", "completions", "version"]) {
      const r = run(cmd, "--help");
      expect(r.code).toBe(0);
      expect(r.out).toContain(`firezone ${cmd}`);
    }
  });
});
