import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { defineCommand } from "citty";
import { runCli } from "../../src/cli/run.ts";
import { flagNames, resolveTree } from "../../src/cli/tree.ts";

function tree() {
  const loaded: string[] = [];
  const leaf = (name: string) => () => {
    loaded.push(name);
    return defineCommand({ meta: { name, description: `the ${name} command` }, args: { fast: { type: "boolean" } }, run: () => 0 });
  };
  const root = defineCommand({
    meta: { name: "fz" },
    subCommands: {
      logs: leaf("logs"),
      relay: leaf("relay"),
      admin: () => {
        loaded.push("admin");
        return defineCommand({ meta: { name: "admin" }, subCommands: { users: leaf("users"), sites: leaf("sites") } });
      },
    },
  });
  return { root, loaded };
}

describe("resolveTree", () => {
  test("without argv every subcommand is imported (completions need them all)", async () => {
    const { root, loaded } = tree();
    const r = await resolveTree(root, "fz");
    expect(loaded.sort()).toEqual(["admin", "logs", "relay", "sites", "users"]);
    expect(flagNames(r.subCommands.get("logs")!)).toEqual(["--help", "--fast", "--no-fast"]);
  });

  test("with argv only the named path is imported; the others keep their names", async () => {
    const { root, loaded } = tree();
    const r = await resolveTree(root, "fz", ["admin", "users", "--fast"]);
    expect(loaded).toEqual(["admin", "users"]);
    expect([...r.subCommands.keys()]).toEqual(["logs", "relay", "admin"]);
    expect(await runCli(r, ["admin", "users", "--fast"])).toBe(0);
  });

  test("--version resolves the version subcommand", async () => {
    const loaded: string[] = [];
    const root = defineCommand({
      meta: { name: "fz" },
      subCommands: {
        logs: () => (loaded.push("logs"), defineCommand({ meta: { name: "logs" }, run: () => 0 })),
        version: () => (loaded.push("version"), defineCommand({ meta: { name: "version" }, run: () => 7 })),
      },
    });
    const r = await resolveTree(root, "fz", ["--version"]);
    expect(loaded).toEqual(["version"]);
    expect(await runCli(r, ["--version"])).toBe(7);
  });

  test("an unknown word still gets its suggestion", async () => {
    const { root } = tree();
    const r = await resolveTree(root, "fz", ["lgs"]);
    const original = process.stderr.write;
    let err = "";
    process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
    try {
      expect(await runCli(r, ["lgs"])).toBe(2);
    } finally {
      process.stderr.write = original;
    }
    expect(err).toContain('did you mean "logs"');
  });
});

describe("help output", () => {
  test("is plain text when piped, even without NO_COLOR", () => {
    const env = { ...process.env };
    delete env.NO_COLOR;
    delete env.FORCE_COLOR;
    const p = Bun.spawnSync([process.execPath, join(import.meta.dir, "../../src/cli/main.ts"), "logs", "--help"], { env });
    expect(p.exitCode).toBe(0);
    const out = p.stdout.toString();
    expect(out).toContain("--follow");
    expect(out).not.toContain("\x1b[");
  });
});
