/**
 * Interop: our sans-IO TURN client against coturn (an independent TURN server) on loopback.
 * coturn runs with the TURN REST API secret, realm "firezone" and loopback peers allowed; the
 * client is driven over real Bun UDP sockets: allocate, bind a channel to a UDP peer socket on
 * 127.0.0.1, ChannelData both ways.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SocketAddress } from "../../src/stun/index.ts";
import { Allocation, type AllocationEvent } from "../../src/turn/index.ts";
import { freeUdpPort } from "../support/ports.ts";

const SECRET = randomBytes(16).toString("hex");
const HOST = "127.0.0.1";

type Datagram = { bytes: Uint8Array; from: SocketAddress };

let proc: ReturnType<typeof Bun.spawn> | undefined;
let dir = "";
let serverPort = 0;
let refused = 0;

/** A UDP socket on loopback that queues what it receives. */
async function openSocket() {
  const inbox: Datagram[] = [];
  const sock = await Bun.udpSocket({
    hostname: HOST,
    port: 0,
    socket: {
      data(_s, buf, port, address) {
        inbox.push({ bytes: new Uint8Array(buf), from: { ip: address, port } });
      },
      // ICMP port unreachable while coturn is still starting comes back as ECONNREFUSED; the
      // handshake simply retries.
      error() {
        refused++;
      },
    },
  });
  return { sock, inbox, addr: { ip: HOST, port: sock.port } as SocketAddress };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fz-coturn-"));
  serverPort = await freeUdpPort();
  // A random 200-port relay range so concurrent test runs rarely collide.
  const minPort = 20000 + Math.floor(Math.random() * 200) * 200;
  proc = Bun.spawn(
    [
      "turnserver",
      "--use-auth-secret",
      `--static-auth-secret=${SECRET}`,
      "--realm=firezone",
      `--listening-ip=${HOST}`,
      `--listening-port=${serverPort}`,
      `--relay-ip=${HOST}`,
      `--min-port=${minPort}`,
      `--max-port=${minPort + 199}`,
      "--no-cli",
      "--no-tls",
      "--no-dtls",
      "--no-tcp",
      "--allow-loopback-peers",
      `--log-file=${join(dir, "turn.log")}`,
      "--simple-log",
      "--no-stdout-log",
      `--pidfile=${join(dir, "turnserver.pid")}`,
      `--userdb=${join(dir, "turndb")}`,
    ],
    { stdout: "ignore", stderr: "pipe", stdin: "ignore" },
  );
});

/** coturn's log, for failure messages. */
function coturnLog(): string {
  try {
    return readdirSync(dir)
      .filter((f) => f.startsWith("turn"))
      .map((f) => readFileSync(join(dir, f), "utf8"))
      .join("\n")
      .slice(-3000);
  } catch {
    return "";
  }
}

afterAll(async () => {
  if (proc) {
    proc.kill();
    await proc.exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Drives one allocation over a real socket until `done()` or the deadline; returns its events. */
async function drive(a: Allocation, client: Awaited<ReturnType<typeof openSocket>>, events: AllocationEvent[], done: () => boolean, budgetMs = 10_000) {
  const start = performance.now();
  const deadline = start + budgetMs;
  while (!done() && performance.now() < deadline) {
    const now = performance.now();
    for (let t = a.pollTransmit(); t; t = a.pollTransmit()) client.sock.send(t.payload, t.dst.port, t.dst.ip);
    for (const d of client.inbox.splice(0)) a.handleInput(d.from, client.addr, d.bytes, now);
    for (let e = a.pollEvent(); e; e = a.pollEvent()) events.push(e);
    const to = a.pollTimeout();
    if (to && to.at <= now) a.handleTimeout(now);
    await Bun.sleep(2);
  }
}

function restCredentials(user: string) {
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  const username = `${expiry}:${user}`;
  const password = createHmac("sha1", SECRET).update(username).digest("base64");
  return { username, password };
}

test("allocate on coturn, bind a channel to a loopback peer, ChannelData both ways", async () => {
  const client = await openSocket();
  const peer = await openSocket();
  try {
    const server: SocketAddress = { ip: HOST, port: serverPort };
    const { username, password } = restCredentials("fz-client");
    const events: AllocationEvent[] = [];
    let a = new Allocation({ server: { v4: server }, username, password, now: performance.now() });

    // coturn may take a moment to listen: restart the handshake until it answers (no timing asserted).
    const startDeadline = performance.now() + 10_000;
    while (!a.hasAllocation() && performance.now() < startDeadline) {
      await drive(a, client, events, () => a.hasAllocation() || a.isGone(), 3_000);
      if (!a.hasAllocation()) {
        a = new Allocation({ server: { v4: server }, username, password, now: performance.now() });
        events.length = 0;
      }
    }
    if (!a.hasAllocation()) throw new Error(`no allocation; counters ${JSON.stringify(a.counters)}; exit ${proc?.exitCode}; coturn log:\n${coturnLog()}`);

    const relayed = a.relayedAddress(4)!;
    expect(relayed.ip).toBe(HOST);
    const created = events.filter((e) => e.type === "new-candidate").map((e) => (e.type === "new-candidate" ? e.candidate.kind : ""));
    expect(created).toContain("host");
    expect(created).toContain("srflx");
    expect(created).toContain("relay");
    const srflx = events.find((e) => e.type === "new-candidate" && e.candidate.kind === "srflx");
    expect(srflx?.type === "new-candidate" && srflx.candidate.address).toEqual(client.addr);

    // Bind a channel to the peer socket and wait for coturn to confirm it.
    a.bindChannel(peer.addr, performance.now());
    await drive(a, client, events, () => a.isChannelBound(peer.addr, performance.now()));
    expect(a.isChannelBound(peer.addr, performance.now())).toBe(true);

    // Client → peer: payload written at offset 4 of our buffer, header in front, no copy.
    const buf = new Uint8Array(new ArrayBuffer(1500));
    const ping = new TextEncoder().encode("ping through coturn");
    buf.set(ping, 4);
    const dst = a.encodeChannelData(peer.addr, buf, 4, ping.length, performance.now());
    expect(dst).toEqual(server);
    client.sock.send(buf.subarray(0, 4 + ping.length), dst!.port, dst!.ip);
    const pingDeadline = performance.now() + 5_000;
    while (peer.inbox.length === 0 && performance.now() < pingDeadline) await Bun.sleep(2);
    expect(peer.inbox.length).toBe(1);
    expect(new TextDecoder().decode(peer.inbox[0].bytes)).toBe("ping through coturn");
    expect(peer.inbox[0].from).toEqual(relayed);

    // Peer → client: plain UDP to our relayed address comes back as ChannelData.
    peer.sock.send(new TextEncoder().encode("pong from peer"), relayed.port, relayed.ip);
    let got: string | undefined;
    let gotPeer: SocketAddress | undefined;
    let gotRelayed: SocketAddress | undefined;
    const pongDeadline = performance.now() + 5_000;
    while (got === undefined && performance.now() < pongDeadline) {
      for (const d of client.inbox.splice(0)) {
        const r = a.handleInput(d.from, client.addr, d.bytes, performance.now());
        if (r.kind === "channel-data") {
          got = new TextDecoder().decode(d.bytes.subarray(r.payloadOffset, r.payloadOffset + r.payloadLength));
          gotPeer = { ...r.peer };
          gotRelayed = { ...r.relayed };
        }
      }
      await Bun.sleep(2);
    }
    expect(got).toBe("pong from peer");
    expect(gotPeer).toEqual(peer.addr);
    expect(gotRelayed).toEqual(relayed);

    // A one-shot refresh is accepted by coturn (signed answer, new lifetime).
    a.refresh(performance.now());
    await drive(a, client, events, () => (a.pollTimeout()?.reason ?? "") !== "resend TURN request", 5_000);
    expect(a.hasAllocation()).toBe(true);
    expect(a.isGone()).toBe(false);
    expect(a.counters["drop:bad-message-integrity"]).toBeUndefined();
  } finally {
    client.sock.close();
    peer.sock.close();
  }
}, 30_000);

test("coturn refuses wrong REST credentials: the client reports an authentication error", async () => {
  const client = await openSocket();
  try {
    const { username } = restCredentials("fz-bad");
    const events: AllocationEvent[] = [];
    const a = new Allocation({ server: { v4: { ip: HOST, port: serverPort } }, username, password: "not-the-hmac", now: performance.now() });
    await drive(a, client, events, () => a.isGone(), 10_000);
    expect(events.at(-1)).toEqual({ type: "relay-gone", reason: "authentication-error" });
  } finally {
    client.sock.close();
  }
}, 30_000);
