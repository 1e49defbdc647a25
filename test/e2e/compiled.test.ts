/**
 * `bun build --compile` with the data-plane Worker as an extra entry point: the binary opens a
 * TUN in a namespace, configures it over netlink, and its Worker answers the kernel's pings.
 * The binary runs with cwd=/ so nothing can come from the source tree.
 */
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns, ScriptProcess, suffix } from "./netns.ts";

const ROOT = join(import.meta.dir, "../..");
const out = mkdtempSync(join(tmpdir(), "fzio-compiled-"));
let ns: Netns | null = null;
afterAll(() => {
  ns?.destroy();
  rmSync(out, { recursive: true, force: true });
});

test("compiled binary: TUN + netlink + Worker packet path", async () => {
  const bin = join(out, "tunnel-node");
  const build = spawnSync(
    [process.execPath, "build", "--compile", "test/e2e/fixtures/tunnel-node.ts", "src/io/dataplane-worker.ts", "--outfile", bin],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  expect(build.exitCode, build.stderr.toString()).toBe(0);

  ns = new Netns();
  const ifname = `tcz${suffix()}`;
  const proc = Bun.spawn(["ip", "netns", "exec", ns.name, bin, ns.stateDir, ifname, "10.77.0.1/32,fd77::1/128", "10.77.1.0/24,fd77:1::/64", "echo"], {
    cwd: "/",
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const node = new ScriptProcess(proc);
  try {
    const ready = await node.json();
    expect(ready.error).toBeUndefined();
    expect(ready.name).toBe(ifname);
    const link = ns.ipJson<any[]>("addr", "show", "dev", ifname)[0];
    expect(link.mtu).toBe(1280);
    for (const target of ["10.77.1.5", "fd77:1::5"]) {
      const r = ns.exec(["ping", ...(target.includes(":") ? ["-6"] : []), "-c", "2", "-i", "0.2", "-W", "5", target]);
      expect(r.stdout).toContain("2 packets transmitted, 2 received");
    }
    node.send("close");
    expect(await node.json()).toEqual({ closed: true });
    expect(await proc.exited).toBe(0);
    expect(ns.ipJson<any[]>("link").some((l) => l.ifname === ifname)).toBe(false);
  } finally {
    proc.kill(9);
  }
}, 60_000);
