/**
 * Interop: our sans-IO WireGuard engine against wireguard-go + the Linux kernel.
 *
 *   netns A: wireguard-go (wg<sfx>, 10.99.0.1) + UDP echo server ── veth ── netns B: our engine (10.99.0.2)
 *
 * Both sides take turns initiating; ICMP echo and UDP round trips cross the tunnel both ways; a
 * forced roll-over from our side is accepted; `wg show dump` confirms handshake and transfer.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { randomBytes, x25519GenerateKeyPair } from "../../src/crypto/index.ts";

const sfx = Buffer.from(randomBytes(3)).toString("hex");
const nsA = `wgia-${sfx}`;
const nsB = `wgib-${sfx}`;
const vethA = `wva${sfx}`;
const vethB = `wvb${sfx}`;
const wgIf = `wg${sfx}`;
const tmp = `/tmp/wg-interop-${sfx}`;
const bun = process.execPath;
const here = join(import.meta.dir, "wireguard");

const ours = x25519GenerateKeyPair();
const theirs = x25519GenerateKeyPair();
const psk = randomBytes(32);
const b64 = (k: Uint8Array): string => Buffer.from(k).toString("base64");

const procs: Bun.Subprocess[] = [];

function run(cmd: string[], allowFail = false): string {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  const text = r.stdout.toString();
  if (!allowFail && r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${r.exitCode}): ${r.stderr.toString()}`);
  return text;
}

/** Line reader over a child's stdout, handing out JSON lines in order. */
class Lines {
  private buffered: string[] = [];
  private waiting: ((line: string | null) => void)[] = [];
  private done = false;
  constructor(stream: ReadableStream<Uint8Array>) {
    (async () => {
      let pending = "";
      for await (const chunk of stream) {
        pending += new TextDecoder().decode(chunk);
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          this.push(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
        }
      }
      this.done = true;
      for (const w of this.waiting.splice(0)) w(null);
    })();
  }
  private push(line: string): void {
    const w = this.waiting.shift();
    if (w) w(line);
    else this.buffered.push(line);
  }
  next(): Promise<string | null> {
    const l = this.buffered.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.done) return Promise.resolve(null);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

/** Our engine in netns B, driven over stdin/stdout. Events are collected as they come. */
class Engine {
  readonly proc: Bun.Subprocess<"pipe", "pipe", "pipe">;
  readonly events: Record<string, any>[] = [];
  private readonly lines: Lines;
  private readonly replies = new Map<number, (v: Record<string, any>) => void>();
  private nextId = 1;

  constructor(extraEnv: Record<string, string> = {}) {
    this.proc = Bun.spawn(["ip", "netns", "exec", nsB, bun, join(here, "engine-peer.ts")], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: {
        ...process.env,
        PRIVATE_KEY: b64(ours.privateKey),
        PEER_PUBLIC_KEY: b64(theirs.publicKey),
        PSK: b64(psk),
        OUR_IP: "10.99.0.2",
        PEER_ENDPOINT: "10.77.0.1:51820",
        BIND: "10.77.0.2:51821",
        ...extraEnv,
      },
    });
    procs.push(this.proc);
    const lines = new Lines(this.proc.stdout);
    this.lines = lines;
    (async () => {
      for (let l = await lines.next(); l !== null; l = await lines.next()) {
        const msg = JSON.parse(l);
        if (msg.id !== undefined) this.replies.get(msg.id)?.(msg);
        else this.events.push(msg);
      }
    })();
  }

  async ready(): Promise<void> {
    for (let i = 0; i < 200 && !this.events.some((e) => e.event === "ready"); i++) await Bun.sleep(25);
    if (!this.events.some((e) => e.event === "ready")) throw new Error(`engine did not start: ${await new Response(this.proc.stderr).text()}`);
  }

  /** Sends one command; a dead engine fails the request instead of hanging the test. */
  request(cmd: Record<string, unknown>): Promise<Record<string, any>> {
    const id = this.nextId++;
    const reply = new Promise<Record<string, any>>((resolve) => {
      this.replies.set(id, resolve);
      this.proc.stdin.write(JSON.stringify({ id, ...cmd }) + "\n");
      this.proc.stdin.flush();
    });
    const died = this.proc.exited.then((code) => {
      throw new Error(`engine exited (${code}) during ${JSON.stringify(cmd)}`);
    });
    return Promise.race([reply, died]);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      try {
        this.proc.stdin.write(JSON.stringify({ id: 0, cmd: "quit" }) + "\n");
        this.proc.stdin.flush();
      } catch {
        // stdin already closed: the kill below ends it
      }
    }
    const killer = setTimeout(() => this.proc.kill("SIGKILL"), 3000);
    await this.proc.exited;
    clearTimeout(killer);
  }
}

interface DumpPeer {
  publicKey: string;
  endpoint: string;
  latestHandshake: number;
  rx: number;
  tx: number;
}

function wgDump(): DumpPeer {
  const lines = run(["ip", "netns", "exec", nsA, "wg", "show", wgIf, "dump"]).trim().split("\n");
  const f = lines[1].split("\t");
  return { publicKey: f[0], endpoint: f[2], latestHandshake: Number(f[4]), rx: Number(f[5]), tx: Number(f[6]) };
}

function addWgPeer(): void {
  run(["ip", "netns", "exec", nsA, "wg", "set", wgIf, "peer", b64(ours.publicKey), "preshared-key", `${tmp}/psk`,
    "allowed-ips", "10.99.0.2/32", "endpoint", "10.77.0.2:51821"]);
}

beforeAll(async () => {
  run(["mkdir", "-p", tmp]);
  await Bun.write(`${tmp}/key`, b64(theirs.privateKey) + "\n");
  await Bun.write(`${tmp}/psk`, b64(psk) + "\n");
  run(["ip", "netns", "add", nsA]);
  run(["ip", "netns", "add", nsB]);
  run(["ip", "link", "add", vethA, "type", "veth", "peer", "name", vethB]);
  run(["ip", "link", "set", vethA, "netns", nsA]);
  run(["ip", "link", "set", vethB, "netns", nsB]);
  run(["ip", "-n", nsA, "addr", "add", "10.77.0.1/24", "dev", vethA]);
  run(["ip", "-n", nsB, "addr", "add", "10.77.0.2/24", "dev", vethB]);
  for (const [ns, dev] of [[nsA, vethA], [nsB, vethB]]) {
    run(["ip", "-n", ns, "link", "set", "lo", "up"]);
    run(["ip", "-n", ns, "link", "set", dev, "up"]);
  }
  // Foreground, so this pid is wireguard-go itself (ip netns exec execs it) and we can kill it.
  const wg = Bun.spawn(["ip", "netns", "exec", nsA, "wireguard-go", "-f", wgIf], {
    stdout: process.env.WG_INTEROP_LOG ? "inherit" : "ignore",
    stderr: process.env.WG_INTEROP_LOG ? "inherit" : "ignore",
    env: { ...process.env, LOG_LEVEL: process.env.WG_INTEROP_LOG ?? "error" },
  });
  procs.push(wg);
  for (let i = 0; i < 200; i++) {
    if (Bun.spawnSync(["ip", "-n", nsA, "link", "show", wgIf], { stdout: "ignore", stderr: "ignore" }).exitCode === 0) break;
    await Bun.sleep(25);
  }
  run(["ip", "netns", "exec", nsA, "wg", "set", wgIf, "private-key", `${tmp}/key`, "listen-port", "51820"]);
  addWgPeer();
  run(["ip", "-n", nsA, "addr", "add", "10.99.0.1/24", "dev", wgIf]);
  run(["ip", "-n", nsA, "link", "set", wgIf, "up"]);

  const echo = Bun.spawn(["ip", "netns", "exec", nsA, bun, join(here, "udp-echo.ts"), "10.99.0.1", "7777"], { stdout: "pipe", stderr: "pipe" });
  procs.push(echo);
  const first = await new Lines(echo.stdout).next();
  if (first !== "ready") throw new Error(`udp echo did not start: ${await new Response(echo.stderr).text()}`);
});

afterAll(async () => {
  for (const p of procs) {
    try {
      p.kill("SIGKILL");
      await p.exited;
    } catch {
      // already gone
    }
  }
  run(["ip", "netns", "del", nsA], true);
  run(["ip", "netns", "del", nsB], true);
  run(["rm", "-rf", tmp], true);
});

test("wg derives the same public key from our private key", () => {
  const r = Bun.spawnSync(["wg", "pubkey"], { stdin: Buffer.from(b64(ours.privateKey) + "\n"), stdout: "pipe" });
  expect(r.stdout.toString().trim()).toBe(b64(ours.publicKey));
});

test("our engine initiates; ICMP and UDP round trips; roll-over accepted; wg show confirms", async () => {
  const engine = new Engine();
  try {
    await engine.ready();
    const before = wgDump();
    expect(before.latestHandshake).toBe(0);

    expect((await engine.request({ cmd: "ping", dst: "10.99.0.1", seq: 1 })).ok).toBe(true);
    expect(engine.events.some((e) => e.event === "handshakeCompleted" && e.initiator === true)).toBe(true);
    expect((await engine.request({ cmd: "udp", dst: "10.99.0.1", port: 7777, payload: "hello-over-wireguard" })).ok).toBe(true);
    // A full-size packet exercises padding and a 1420-byte MTU path.
    expect((await engine.request({ cmd: "ping", dst: "10.99.0.1", seq: 2, size: 1300 })).ok).toBe(true);

    const afterFirst = wgDump();
    expect(afterFirst.latestHandshake).toBeGreaterThan(0);
    expect(afterFirst.rx).toBeGreaterThan(0);
    expect(afterFirst.tx).toBeGreaterThan(0);
    expect(afterFirst.endpoint).toBe("10.77.0.2:51821");

    // Roll over: a second initiation while the first session is live. wireguard-go must answer it
    // (its timestamp check passes) and traffic must keep flowing on the new session.
    // wireguard-go drops an initiation within 20 ms of the last one it consumed (flood guard)
    // and needs a TAI64N timestamp later by at least its 2^24 ns whitening step.
    await Bun.sleep(60);
    const completedBefore = engine.events.filter((e) => e.event === "handshakeCompleted").length;
    expect((await engine.request({ cmd: "rollover" })).ok).toBe(true);
    for (let i = 0; i < 200 && engine.events.filter((e) => e.event === "handshakeCompleted").length === completedBefore; i++) await Bun.sleep(10);
    expect(engine.events.filter((e) => e.event === "handshakeCompleted").length, JSON.stringify(engine.events)).toBe(completedBefore + 1);
    expect((await engine.request({ cmd: "ping", dst: "10.99.0.1", seq: 3 })).ok).toBe(true);
    expect((await engine.request({ cmd: "udp", dst: "10.99.0.1", port: 7777, payload: "after-rollover" })).ok).toBe(true);

    const stats = (await engine.request({ cmd: "stats" })).stats;
    expect(stats.handshakesCompleted).toBe(2);
    expect(stats.rxPackets).toBeGreaterThanOrEqual(5);
    expect(stats.drops).toEqual({});
    const afterRoll = wgDump();
    expect(afterRoll.rx).toBeGreaterThan(afterFirst.rx);
    expect(afterRoll.tx).toBeGreaterThan(afterFirst.tx);
  } finally {
    await engine.stop();
  }
});

test("wireguard-go initiates; our engine responds and answers pings from the kernel", async () => {
  // A fresh peer entry in wireguard-go (no session) and a fresh engine: wireguard-go must initiate.
  run(["ip", "netns", "exec", nsA, "wg", "set", wgIf, "peer", b64(ours.publicKey), "remove"]);
  addWgPeer();
  const engine = new Engine();
  try {
    await engine.ready();
    // Async spawn: the engine's event lines must keep flowing while ping runs.
    const ping = Bun.spawn(["ip", "netns", "exec", nsA, "ping", "-c", "3", "-i", "0.2", "-W", "5", "10.99.0.2"], { stdout: "pipe", stderr: "pipe" });
    await ping.exited;
    expect(await new Response(ping.stdout).text()).toContain("3 received");
    await Bun.sleep(50);
    expect(engine.events.some((e) => e.event === "handshakeCompleted" && e.initiator === false)).toBe(true);
    expect(engine.events.filter((e) => e.event === "echo-request-answered").length).toBe(3);

    // The responder may send once the initiator confirmed the keys: our own ping and UDP too.
    expect((await engine.request({ cmd: "ping", dst: "10.99.0.1", seq: 10 })).ok).toBe(true);
    expect((await engine.request({ cmd: "udp", dst: "10.99.0.1", port: 7777, payload: "responder-side" })).ok).toBe(true);
    const stats = (await engine.request({ cmd: "stats" })).stats;
    expect(stats.initiationsSent).toBe(0);
    expect(stats.drops).toEqual({});
    const dump = wgDump();
    expect(dump.latestHandshake).toBeGreaterThan(0);
    expect(dump.rx).toBeGreaterThan(0);
    expect(dump.tx).toBeGreaterThan(0);
  } finally {
    await engine.stop();
  }
});

test("under load our cookie reply is accepted: wireguard-go retries with MAC2 and gets through (Device)", async () => {
  run(["ip", "netns", "exec", nsA, "wg", "set", wgIf, "peer", b64(ours.publicKey), "remove"]);
  addWgPeer();
  // The gateway shape: a Device finds wireguard-go's peer entry from the initiation's static key.
  const engine = new Engine({ UNDER_LOAD: "1", DEVICE: "1" });
  try {
    await engine.ready();
    // wireguard-go's first initiation has no MAC2 and gets our cookie reply; its retransmission
    // (REKEY_TIMEOUT later) carries MAC2 over that cookie, which we accept.
    const ping = Bun.spawn(["ip", "netns", "exec", nsA, "ping", "-c", "1", "-W", "12", "10.99.0.2"], { stdout: "pipe", stderr: "pipe" });
    await ping.exited;
    expect(await new Response(ping.stdout).text()).toContain("1 received");
    const reply = await engine.request({ cmd: "stats" });
    expect(reply.device.cookieRepliesSent).toBeGreaterThanOrEqual(1);
    expect(reply.device.drops).toEqual({});
    expect(reply.stats.handshakesCompleted).toBe(1);
    expect(reply.stats.drops).toEqual({});
  } finally {
    await engine.stop();
  }
}, 30_000);
