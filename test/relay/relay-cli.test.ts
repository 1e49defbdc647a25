import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { relayConfig } from "../../src/cli/relay.ts";
import { UsageError } from "../../src/cli/exit.ts";
import { freeUdpPort } from "../support/ports.ts";

const MAIN = join(import.meta.dir, "../../src/cli/main.ts");

describe("relayConfig", () => {
  test("defaults: 0.0.0.0:3478, ports 49152-65535, generated secret", () => {
    const c = relayConfig({ "public-ipv4": "203.0.113.1" }, {});
    expect(c).toMatchObject({ listenIpv4: "0.0.0.0", port: 3478, minPort: 49152, maxPort: 65535, publicIpv4: "203.0.113.1", secretGenerated: true });
    expect(c.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(c.listenIpv6).toBeUndefined();
  });

  test("environment: FIREZONE_RELAY_SECRET, PUBLIC_IP4_ADDR, PUBLIC_IP6_ADDR", () => {
    const c = relayConfig({}, { FIREZONE_RELAY_SECRET: "s", PUBLIC_IP4_ADDR: "192.0.2.1", PUBLIC_IP6_ADDR: "2001:db8::2" });
    expect(c).toMatchObject({ secret: "s", secretGenerated: false, publicIpv4: "192.0.2.1", publicIpv6: "2001:db8::2", listenIpv6: "2001:db8::2" });
    expect(relayConfig({ secret: "flag" }, { FIREZONE_RELAY_SECRET: "env", PUBLIC_IP4_ADDR: "192.0.2.1" }).secret).toBe("flag");
  });

  test("a specific --listen address doubles as the public one", () => {
    const c = relayConfig({ listen: "127.0.0.1,::1" }, {});
    expect(c).toMatchObject({ listenIpv4: "127.0.0.1", listenIpv6: "::1", publicIpv4: "127.0.0.1", publicIpv6: "::1" });
  });

  test("usage errors", () => {
    const bad: Record<string, unknown>[] = [
      {},
      { listen: "0.0.0.0" },
      { "public-ipv4": "nope" },
      { "public-ipv4": "2001:db8::1" },
      { listen: "127.0.0.1,127.0.0.2" },
      { listen: "127.0.0.1,::" },
      { listen: "127.0.0.1", port: "0" },
      { listen: "127.0.0.1", port: "70000" },
      { listen: "127.0.0.1", "min-port": "6000", "max-port": "5000" },
      { listen: "127.0.0.1", port: "50000" },
      { listen: "127.0.0.1", "max-allocations-per-ip": "0" },
      { listen: "::1", "public-ipv4": "192.0.2.1" },
    ];
    for (const args of bad) expect(() => relayConfig(args, {})).toThrow(UsageError);
  });
});

describe("firezone relay command", () => {
  test("--help documents every option", async () => {
    const p = Bun.spawn([process.execPath, MAIN, "relay", "--help"], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    expect(await p.exited).toBe(0);
    for (const f of ["--listen", "--port", "--public-ipv4", "--public-ipv6", "--min-port", "--max-port", "--secret", "--max-allocations-per-ip", "--log-level", "--log-dir"]) {
      expect(out).toContain(f);
    }
  });

  test("without a secret one is generated and printed once; SIGINT stops it cleanly (exit 0)", async () => {
    const port = await freeUdpPort();
    const dir = `${require("node:os").tmpdir()}/fz-relay-cli-${crypto.randomUUID()}`;
    const p = Bun.spawn(
      [process.execPath, MAIN, "relay", "--listen", "127.0.0.1", "--port", String(port), "--min-port", "23000", "--max-port", "23100", "--log-dir", dir],
      { stdout: "pipe", stderr: "pipe", env: { ...process.env, FIREZONE_RELAY_SECRET: "" } },
    );
    try {
      const reader = p.stdout.getReader();
      let out = "";
      while (!out.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      expect(out).toMatch(/^FIREZONE_RELAY_SECRET=[0-9a-f]{64}\n$/);
      // It is up once it answers a BINDING request.
      let answered = false;
      const s = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: () => void (answered = true), error() {} } });
      for (let i = 0; i < 200 && !answered; i++) {
        s.send(Buffer.from("000100002112a4420123456789abcdef01234567", "hex"), port, "127.0.0.1");
        await Bun.sleep(25);
      }
      s.close();
      expect(answered).toBe(true);
      p.kill("SIGINT");
      expect(await p.exited).toBe(0);
      let rest = "";
      for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
      expect(rest).toBe(""); // printed once, never again
    } finally {
      if (p.exitCode === null) p.kill("SIGKILL");
      require("node:fs").rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a bad flag value exits 2 with one line", async () => {
    const p = Bun.spawn([process.execPath, MAIN, "relay", "--listen", "127.0.0.1", "--port", "x"], { stdout: "pipe", stderr: "pipe" });
    const err = await new Response(p.stderr).text();
    expect(await p.exited).toBe(2);
    expect(err).toContain('invalid --port "x"');
  });
});
