import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// `npm run build` compiles to dist/; the test compiles the same entry point into a temp dir.
const repo = join(import.meta.dir, "../..");
const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
const out = mkdtempSync(join(tmpdir(), "fz-build-"));
const binary = join(out, "firezone");
const example = join(repo, "examples/firezone-client.example.jsonl");

beforeAll(() => {
  // The build script's own arguments (entry points, Worker files), with the output moved.
  const script: string = pkg.scripts.build;
  const words = script.trim().split(/\s+/);
  expect(words.slice(0, 3)).toEqual(["bun", "build", "--compile"]);
  const outfile = words.indexOf("--outfile");
  expect(outfile).toBeGreaterThan(0);
  words[outfile + 1] = binary;
  const p = Bun.spawnSync([process.execPath, ...words.slice(1)], { cwd: repo });
  if (p.exitCode !== 0) throw new Error(`bun build --compile failed: ${p.stderr.toString()}`);
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Runs the binary from an unrelated directory, so nothing can come from the source tree. */
function run(...args: string[]) {
  const p = Bun.spawnSync([binary, ...args], { cwd: out, env: { PATH: "/usr/bin:/bin", NO_COLOR: "1", TZ: "UTC" } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

describe("the compiled binary", () => {
  test("is one executable file", () => {
    expect(existsSync(binary)).toBe(true);
  });

  test("firezone version", () => {
    const r = run("version");
    expect(r.code).toBe(0);
    expect(r.out).toBe(`firezone ${pkg.version} (bun ${Bun.version}, ${process.platform}-${process.arch})\n`);
  });

  test("firezone logs on the example (a lazily imported command)", () => {
    const r = run("logs", "--level", "warn", example);
    expect(r.code).toBe(0);
    expect(r.out).toContain("ERROR tunnel::client: authorization failed for \"Payroll\" reason=\"policy denies access\" status=403\n");
    expect(r.out.trimEnd().split("\n").length).toBe(4);
    expect(r.err).toBe("firezone logs: 1 malformed line left out\n");
  });

  test("every subcommand resolves inside the binary (completions walks the whole tree)", () => {
    const r = run("completions", "bash");
    expect(r.code).toBe(0);
    expect(r.out).toBe(readFileSync(join(repo, "completions/firezone.bash"), "utf8"));
  });

  test("exit codes: usage errors 2, runtime failures 1", () => {
    expect(run("conect").code).toBe(2);
    expect(run("logs", "/nonexistent/file.jsonl").code).toBe(1);
  });
});
