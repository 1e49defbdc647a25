import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../src/cli/exit.ts";
import { setupLogging } from "../../src/cli/setup-logging.ts";
import { logger } from "../../src/log/index.ts";

const root = mkdtempSync(join(tmpdir(), "fz-setuplog-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const setupModule = join(import.meta.dir, "../../src/cli/setup-logging.ts");
const logModule = join(import.meta.dir, "../../src/log/index.ts");

function lines(dir: string): Array<Record<string, unknown>> {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n").filter(Boolean))
    .map((l) => JSON.parse(l));
}

/** Runs a script in a child process; the script sees `setupLogging` and `logger`. */
function child(body: string, env: Record<string, string> = {}) {
  const code = `import { setupLogging } from ${JSON.stringify(setupModule)};\nimport { logger } from ${JSON.stringify(logModule)};\n${body}`;
  return Bun.spawn([process.execPath, "-e", code], { env: { ...process.env, NO_COLOR: "1", ...env }, stdout: "pipe", stderr: "pipe" });
}

describe("setupLogging", () => {
  test("filters by --log-level, writes JSONL files and shows console lines", async () => {
    const dir = join(root, "a");
    const p = child(
      `setupLogging({ role: "client", logLevel: "warn,snownet=debug", logDir: ${JSON.stringify(dir)} });
       logger("snownet::ice").debug("pair nominated", { rtt_ms: 12 });
       logger("tunnel").info("hidden by the filter");
       logger("tunnel").warn("dns upstream slow", { upstream: "1.1.1.1:53" });`,
    );
    expect(await p.exited).toBe(0);
    const recs = lines(dir);
    expect(recs.map((r) => r.message)).toEqual(["pair nominated", "dns upstream slow"]);
    expect(recs[0]).toMatchObject({ severity: "DEBUG", target: "snownet::ice", rtt_ms: 12 });
    expect(String(recs[0]!.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    const err = await new Response(p.stderr).text();
    expect(err).toMatch(/DEBUG snownet::ice: pair nominated rtt_ms=12\n/);
    expect(err).toMatch(/WARN  tunnel: dns upstream slow upstream=1\.1\.1\.1:53\n/);
    expect(err).not.toContain("\x1b[");
    expect(await new Response(p.stdout).text()).toBe("");
  });

  test("reads FIREZONE_LOG and LOG_DIR; console can be off", async () => {
    const dir = join(root, "b");
    const p = child(`setupLogging({ role: "relay", console: false }); logger("relay").debug("allocation created", { port: 49152 });`, {
      FIREZONE_LOG: "debug",
      LOG_DIR: dir,
    });
    expect(await p.exited).toBe(0);
    expect(lines(dir)).toMatchObject([{ message: "allocation created", port: 49152 }]);
    expect(readdirSync(dir)[0]).toMatch(/^firezone-relay\..*\.jsonl$/);
    expect(await new Response(p.stderr).text()).toBe("");
  });

  for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    test(`buffered records reach the file on ${signal}`, async () => {
      const dir = join(root, `c-${signal}`);
      const p = child(
        `setupLogging({ role: "gateway", logDir: ${JSON.stringify(dir)}, console: false });
         for (let i = 0; i < 100; i++) logger("gateway").info("tick", { i });
         process.stdout.write("ready\\n");
         setInterval(() => {}, 1000);`,
      );
      const reader = p.stdout.getReader();
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value)).toBe("ready\n");
      p.kill(signal);
      expect(await p.exited).toBe(code);
      expect(lines(dir).length).toBe(100);
    });
  }

  test("a bad directive is a usage error naming it", () => {
    expect(() => setupLogging({ role: "client", logLevel: "info,snownet=loud", logDir: false, console: false })).toThrow(UsageError);
    expect(() => setupLogging({ role: "client", logLevel: "info,snownet=loud", logDir: false, console: false })).toThrow(/snownet=loud.*--log-level/);
    const old = process.env.FIREZONE_LOG;
    process.env.FIREZONE_LOG = "nonsense=1";
    try {
      expect(() => setupLogging({ role: "client", logDir: false, console: false })).toThrow(/FIREZONE_LOG/);
    } finally {
      if (old === undefined) delete process.env.FIREZONE_LOG;
      else process.env.FIREZONE_LOG = old;
    }
  });

  test("in process: close() flushes and detaches", () => {
    const dir = join(root, "d");
    const setup = setupLogging({ role: "portal", logLevel: "info", logDir: dir, console: false });
    logger("portal::channel").info("joined", { topic: "client" });
    setup.close();
    logger("portal::channel").info("after close");
    expect(lines(dir)).toMatchObject([{ message: "joined", topic: "client" }]);
    expect(setup.fileSink?.path).toStartWith(dir);
  });
});
