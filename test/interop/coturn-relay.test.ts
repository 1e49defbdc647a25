/**
 * Interop: coturn's own test clients (turnutils_stunclient, turnutils_uclient, turnutils_peer)
 * against `firezone relay` run as a subprocess on loopback, with credentials made under
 * Firezone's scheme (the clients know nothing about it: they just get a username and password).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { issueCredentials } from "../../src/relay/credentials.ts";
import { freeUdpPort } from "../support/ports.ts";

// uclient runs take a few seconds each (it lingers to collect late echoes); no test measures time.
setDefaultTimeout(60_000);

const REPO = join(import.meta.dir, "../..");
const SECRET = "interop-" + crypto.randomUUID();
const dir = mkdtempSync(join(tmpdir(), "fz-relay-interop-"));
const children: Subprocess[] = [];
let relay: Subprocess;
let relayPort = 0;
let peerPort = 0;
let hasIpv6 = false;

/** Sends Firezone's minimal BINDING request until the relay answers (it is up), at most ~15 s. */
async function waitForRelay(port: number): Promise<void> {
  let answered = false;
  const s = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    // ICMP port-unreachable before the relay binds surfaces as ECONNREFUSED: expected, ignored.
    socket: { data: () => void (answered = true), error: () => {} },
  });
  const binding = Buffer.from("000100002112a4420123456789abcdef01234567", "hex");
  try {
    for (let i = 0; i < 300 && !answered; i++) {
      if (relay.exitCode !== null) throw new Error(`relay exited early: ${readFileSync(join(dir, "relay.err"), "utf8")}`);
      s.send(binding, port, "127.0.0.1");
      await Bun.sleep(50);
    }
  } finally {
    s.close();
  }
  if (!answered) throw new Error("relay did not answer a BINDING request");
}

function credentials(validForSeconds = 3600) {
  return issueCredentials(SECRET, Math.floor(Date.now() / 1000) + validForSeconds);
}

async function run(cmd: string[]): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  children.push(p);
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  return { code, out: out + err };
}

function uclient(args: string[], server = "127.0.0.1"): Promise<{ code: number; out: string }> {
  return run(["turnutils_uclient", "-p", String(relayPort), ...args, server]);
}

/** What the relay has logged so far (console lines on stderr, debug level). */
function relayLog(): string {
  return readFileSync(join(dir, "relay.err"), "utf8");
}

/** "tot_send_msgs=N, tot_recv_msgs=M" from uclient's summary line. */
function totals(out: string): { sent: number; received: number } | null {
  const m = /start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/.exec(out);
  return m ? { sent: Number(m[1]), received: Number(m[2]) } : null;
}

beforeAll(async () => {
  hasIpv6 = await freeUdpPort("::1").then(
    () => true,
    () => false,
  );
  relayPort = await freeUdpPort();
  peerPort = await freeUdpPort();
  // A random block of relay ports below the kernel's ephemeral range (32768-60999), so it never
  // holds the listening port; a port someone else holds is skipped by the relay itself.
  const minPort = 21000 + Math.floor(Math.random() * 11) * 1000;
  relay = Bun.spawn(
    [
      process.execPath,
      join(REPO, "src/cli/main.ts"),
      "relay",
      "--listen",
      hasIpv6 ? "127.0.0.1,::1" : "127.0.0.1",
      "--port",
      String(relayPort),
      "--min-port",
      String(minPort),
      "--max-port",
      String(minPort + 999),
      "--secret",
      SECRET,
      "--log-level",
      "debug",
      "--log-dir",
      join(dir, "logs"),
    ],
    { stdout: Bun.file(join(dir, "relay.out")), stderr: Bun.file(join(dir, "relay.err")) },
  );
  children.push(relay);
  const peer = Bun.spawn(["turnutils_peer", "-p", String(peerPort), "-L", "127.0.0.1", ...(hasIpv6 ? ["-L", "::1"] : [])], {
    stdout: "ignore",
    stderr: "ignore",
  });
  children.push(peer);
  await waitForRelay(relayPort);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await Promise.allSettled(children.map((c) => c.exited));
  rmSync(dir, { recursive: true, force: true });
});

describe("coturn clients against firezone relay", () => {
  test("turnutils_stunclient: BINDING returns our reflexive address", async () => {
    const { code, out } = await run(["turnutils_stunclient", "-p", String(relayPort), "127.0.0.1"]);
    expect(code).toBe(0);
    expect(out).toMatch(/UDP reflexive addr: 127\.0\.0\.1:\d+/);
  });

  test("turnutils_uclient: allocation, channel and 200 × 1200-byte messages echoed with no loss", async () => {
    const c = credentials();
    const { out } = await uclient(["-c", "-u", c.username, "-w", c.password, "-e", "127.0.0.1", "-r", String(peerPort), "-n", "200", "-l", "1200", "-z", "5"]);
    expect(totals(out)).toEqual({ sent: 200, received: 200 });
    expect(out).toContain("Total lost packets 0 (0.000000%)");
  });

  test("turnutils_uclient -x: IPv6 relayed address to an IPv6 peer", async () => {
    if (!hasIpv6) throw new Error("this machine has no IPv6 loopback");
    const c = credentials();
    const { out } = await uclient(["-x", "-c", "-u", c.username, "-w", c.password, "-e", "::1", "-r", String(peerPort), "-n", "100", "-l", "500", "-z", "5"], "::1");
    expect(totals(out)).toEqual({ sent: 100, received: 100 });
    expect(relayLog()).toMatch(/created allocation client=\[::1\]:\d+ port=\d+ ipv4=false ipv6=true/);
  });

  test("turnutils_uclient -Z: dual allocation (ADDITIONAL-ADDRESS-FAMILY) on one port", async () => {
    if (!hasIpv6) throw new Error("this machine has no IPv6 loopback");
    const c = credentials();
    const { out } = await uclient(["-Z", "-u", c.username, "-w", c.password, "-e", "127.0.0.1", "-r", String(peerPort), "-n", "100", "-l", "500", "-z", "5"]);
    expect(totals(out)).toEqual({ sent: 100, received: 100 });
    expect(relayLog()).toMatch(/created allocation client=127\.0\.0\.1:\d+ port=\d+ ipv4=true ipv6=true/);
  });

  test("turnutils_uclient with a wrong password or expired credentials cannot allocate", async () => {
    const c = credentials();
    const bad = await uclient(["-c", "-u", c.username, "-w", "wrong", "-e", "127.0.0.1", "-r", String(peerPort), "-n", "5"]);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toContain("Cannot complete Allocation");
    const old = credentials(-10);
    const expired = await uclient(["-c", "-u", old.username, "-w", old.password, "-e", "127.0.0.1", "-r", String(peerPort), "-n", "5"]);
    expect(expired.code).not.toBe(0);
    expect(totals(expired.out)).toBeNull();
  });

  test("SIGTERM: clean shutdown, exit 0, counters in the last log line", async () => {
    relay.kill("SIGTERM");
    const code = await relay.exited;
    const err = readFileSync(join(dir, "relay.err"), "utf8");
    expect({ code, tail: code === 0 ? "" : err.slice(-3000) }).toEqual({ code: 0, tail: "" });
    const stopped = /relay stopped .*client_to_peer_packets=(\d+) .*peer_to_client_packets=(\d+)/.exec(err);
    expect(stopped).not.toBeNull();
    // 200 + 100 + 100 messages went each way through the relay (uclient's own echo checks above).
    expect(Number(stopped![1])).toBeGreaterThanOrEqual(400);
    expect(Number(stopped![2])).toBeGreaterThanOrEqual(400);
    expect(err).toContain("MESSAGE-INTEGRITY does not match");
    expect(err).toContain("credentials expired");
  });
});
