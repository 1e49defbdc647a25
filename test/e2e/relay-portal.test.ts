/**
 * `firezone portal` and `firezone relay --portal` as real processes on loopback: the relay
 * registers its secret and presence, clients and gateways get credentials that allocate on it,
 * it re-joins a restarted portal, leaves at once on SIGTERM, and exits 1 on a refused token.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PortalChannel } from "../../src/portal/channel.ts";
import { loginUrl } from "../../src/portal/login-url.ts";
import { generateSecret, issueCredentials } from "../../src/relay/credentials.ts";
import { METHOD_ALLOCATE, TRANSPORT_UDP } from "../../src/stun/index.ts";
import { Allocation, type AllocationEvent } from "../../src/turn/index.ts";
import { UdpTurnClient, errorCodeOf } from "../relay/udp-turn-client.ts";
import { disconnectedIn, Recorder, relaysIn, type TurnEntry } from "../support/portal-events.ts";
import { freeTcpPort, freeUdpPort } from "../support/ports.ts";

const MAIN = join(import.meta.dir, "../../src/cli/main.ts");
/** Upper bound for anything the test waits for, only so a broken build fails instead of hanging. */
const WAIT_MS = 20_000;

const tag = crypto.randomUUID().slice(0, 8);
const TOKENS = {
  client: `client-${tag}-0123456789`,
  gateway: `gateway-${tag}-0123456789`,
  relay: `relay-${tag}-0123456789`,
  relay2: `relay2-${tag}-0123456789`,
  admin: `admin-${tag}-0123456789`,
};
const CLIENT_KEY = "S6REkbStSNMfn8hpLkVxibjR+zz3RO/Gq40TprHJE2U=";
const GATEWAY_KEY = "uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY=";

const dir = mkdtempSync(join(tmpdir(), "fz-relay-portal-"));
const configPath = join(dir, "portal.json");
const processes: Subprocess[] = [];
const channels: PortalChannel[] = [];
let portalPort = 0;
let relayPort = 0;
/** Allocation ports: a random 200-port window, so concurrent relay tests rarely meet. */
// Below the kernel's ephemeral range (32768-60999), where the relay's own port comes from.
const minPort = 21000 + Math.floor(Math.random() * 50) * 200;
const maxPort = minPort + 199;

let portal: Subprocess | undefined;
let relay: Subprocess | undefined;
let client: { channel: PortalChannel; heard: Recorder };
let gateway: { channel: PortalChannel; heard: Recorder };

beforeAll(async () => {
  writeFileSync(
    configPath,
    JSON.stringify({
      actors: [{ name: "alice", email: "alice@corp.example" }],
      groups: [{ name: "eng", members: ["alice"] }],
      sites: [{ name: "hq" }],
      resources: [{ name: "lan", type: "cidr", address: "10.20.0.0/16", sites: ["hq"] }],
      policies: [{ group: "eng", resource: "lan" }],
      tokens: [
        { name: "alice-laptop", kind: "client", actor: "alice", secret: TOKENS.client },
        { name: "hq-gw", kind: "gateway", site: "hq", secret: TOKENS.gateway },
        { name: "relay-1", kind: "relay", secret: TOKENS.relay },
        { name: "relay-2", kind: "relay", secret: TOKENS.relay2 },
        { name: "admin", kind: "admin", secret: TOKENS.admin },
      ],
    }),
  );
  portalPort = await freeTcpPort();
  relayPort = await freeUdpPort();
  portal = await startPortal();
});

afterAll(async () => {
  for (const c of channels) c.stop();
  for (const p of processes) p.kill("SIGKILL");
  await Promise.all(processes.map((p) => p.exited));
  rmSync(dir, { recursive: true, force: true });
});

test("a relay joined with --portal: clients and gateways get credentials that allocate on it, others are refused", async () => {
  relay = spawn(relayArgs(["--portal", `http://127.0.0.1:${portalPort}`, "--token", TOKENS.relay, "--name", "e2e-relay"]), {});
  client = device("client");
  gateway = device("gateway");

  const forClient = await client.heard.until((e) => relaysIn(e).some(isOurs));
  const forGateway = await gateway.heard.until((e) => relaysIn(e).some(isOurs));
  const c = relaysIn(forClient).find(isOurs)!;
  const g = relaysIn(forGateway).find(isOurs)!;
  expect(c.id).toBe(g.id);
  expect(c.username).not.toBe(g.username);

  for (const creds of [c, g]) {
    const result = await allocate(creds.username, creds.password);
    expect(result).toMatchObject({ ok: true, ip: "127.0.0.1" });
    const port = (result as { port: number }).port;
    expect(port).toBeGreaterThanOrEqual(minPort);
    expect(port).toBeLessThanOrEqual(maxPort);
  }
  // The same ALLOCATE with a plain authenticated request: accepted with the portal's credentials,
  // 401 after the nonce round trip with well-formed credentials for a secret the relay does not
  // hold, or with the client's username and another password. (Firezone's TURN client drops that
  // 401 because it is signed with the relay's key, and would only time out.)
  const stranger = issueCredentials(generateSecret(), Math.floor(Date.now() / 1000) + 3600);
  const cases: [string, string, number][] = [
    [c.username, c.password, 0],
    [stranger.username, stranger.password, 401],
    [c.username, g.password, 401],
  ];
  for (const [username, password, code] of cases) {
    const turn = await UdpTurnClient.open(relayPort, username, password);
    try {
      const answer = await turn.request(METHOD_ALLOCATE, (b) => b.addRequestedTransport(TRANSPORT_UDP));
      expect(errorCodeOf(answer)).toBe(code);
    } finally {
      turn.close();
    }
  }
}, 60_000);

test("a restarted portal: the relay joins again by itself and its fresh credentials allocate", async () => {
  portal!.kill("SIGTERM");
  expect(await portal!.exited).toBe(0);
  // Everything the client hears from here on comes from the new portal process.
  const from = client.heard.events.length;
  portal = await startPortal();
  await client.heard.until((e) => e.type === "joined", from);
  const heard = await client.heard.until((e) => relaysIn(e).some(isOurs), from);
  const creds = relaysIn(heard).find(isOurs)!;
  expect(await allocate(creds.username, creds.password)).toMatchObject({ ok: true });
  expect(relay!.exitCode).toBeNull();
}, 60_000);

test("SIGTERM: the relay leaves, clients get relays_presence{disconnected_ids}, exit 0, secret never printed", async () => {
  const from = client.heard.events.length;
  const id = relaysIn(client.heard.events.findLast((e) => relaysIn(e).some(isOurs))!).find(isOurs)!.id;
  relay!.kill("SIGTERM");
  const gone = await client.heard.until((e) => e.type === "message" && e.event === "relays_presence" && disconnectedIn(e).includes(id), from);
  expect(disconnectedIn(gone)).toEqual([id]);
  expect(await relay!.exited).toBe(0);
  // The portal hands out credentials; the generated secret goes nowhere else.
  expect(await new Response(relay!.stdout as ReadableStream).text()).toBe("");
  // Every state change was logged: joined, lost with the old portal, joined again, left.
  const changes = [...(await new Response(relay!.stderr as ReadableStream).text()).matchAll(/portal presence changed from=(\w+) to=(\w+)/g)].map((m) => `${m[1]}>${m[2]}`);
  expect(changes).toEqual(["idle>connecting", "connecting>online", "online>offline", "offline>online", "online>left"]);
}, 60_000);

test("a refused token (FIREZONE_TOKEN / FIREZONE_API_URL): exit 1 with a one-line error", async () => {
  const p = spawn(relayArgs([]), { FIREZONE_API_URL: `http://127.0.0.1:${portalPort}`, FIREZONE_TOKEN: `wrong-${tag}-0123456789` });
  expect(await p.exited).toBe(1);
  const stderr = await new Response(p.stderr as ReadableStream).text();
  const lines = stderr.trim().split("\n");
  const errors = lines.filter((l) => l.includes("refused the relay token"));
  expect(errors).toHaveLength(1);
  expect(lines.at(-1)).toBe(errors[0]!);
  expect(errors[0]).toContain(`portal http://127.0.0.1:${portalPort}`);
  expect(await new Response(p.stdout as ReadableStream).text()).toBe("");
}, 60_000);

test("a token revoked while the relay runs: the portal drops it at once and the relay exits 1", async () => {
  const port = await freeUdpPort();
  const p = spawn(relayArgs(["--portal", `http://127.0.0.1:${portalPort}`, "--token", TOKENS.relay2], port), {});
  const mine = (r: TurnEntry) => r.addr === `127.0.0.1:${port}`;
  const from = client.heard.events.length;
  const id = relaysIn(await client.heard.until((e) => relaysIn(e).some(mine), from)).find(mine)!.id;
  const res = await fetch(`http://127.0.0.1:${portalPort}/admin/v1/tokens/relay-2`, { method: "DELETE", headers: { authorization: `Bearer ${TOKENS.admin}` } });
  expect(res.status).toBe(200);
  await client.heard.until((e) => disconnectedIn(e).includes(id), from);
  expect(await p.exited).toBe(1);
  const lines = (await new Response(p.stderr as ReadableStream).text()).trim().split("\n");
  expect(lines.at(-1)).toContain("the relay token expired or was revoked");
}, 60_000);

// ---- helpers ---------------------------------------------------------------------------------

const isOurs = (r: TurnEntry) => r.addr === `127.0.0.1:${relayPort}`;

function device(role: "client" | "gateway"): { channel: PortalChannel; heard: Recorder } {
  const params = role === "client" ? { deviceId: `laptop-${tag}`, name: "laptop", publicKey: CLIENT_KEY } : { deviceId: `gw-${tag}`, name: "gw", publicKey: GATEWAY_KEY };
  const channel = new PortalChannel({ url: loginUrl(`http://127.0.0.1:${portalPort}`, role, params), token: TOKENS[role], topic: role });
  const heard = new Recorder(channel, WAIT_MS);
  channels.push(channel);
  channel.start();
  return { channel, heard };
}

function relayArgs(extra: string[], port = relayPort): string[] {
  return [
    "relay",
    "--listen", "127.0.0.1",
    "--port", String(port),
    "--min-port", String(minPort),
    "--max-port", String(maxPort),
    "--log-dir", join(dir, "relay-logs"),
    ...extra,
  ];
}

function spawn(args: string[], env: Record<string, string>): Subprocess {
  const clean: Record<string, string | undefined> = { ...process.env, FIREZONE_RELAY_SECRET: "", FIREZONE_TOKEN: "", FIREZONE_API_URL: "", FIREZONE_NAME: "", FIREZONE_LOG: "info", ...env };
  const p = Bun.spawn([process.execPath, MAIN, ...args], { stdout: "pipe", stderr: "pipe", env: clean });
  processes.push(p);
  return p;
}

/** The portal process on `portalPort`, once it answers /healthz. */
async function startPortal(): Promise<Subprocess> {
  const p = spawn(["portal", "--config", configPath, "--db", join(dir, "portal.db"), "--port", String(portalPort), "--log-dir", join(dir, "portal-logs")], {});
  const until = Date.now() + WAIT_MS;
  while (Date.now() < until) {
    if (p.exitCode !== null) throw new Error(`portal exited ${p.exitCode}: ${await new Response(p.stderr as ReadableStream).text()}`);
    const ok = await fetch(`http://127.0.0.1:${portalPort}/healthz`).then((r) => r.ok, () => false);
    if (ok) return p;
    await Bun.sleep(25);
  }
  throw new Error("the portal never answered /healthz");
}

type AllocateResult = { ok: true; ip: string; port: number } | { ok: false; reason: string };

/** Firezone's TURN client (`src/turn` Allocation) over a Bun UDP socket against the relay process. */
async function allocate(username: string, password: string): Promise<AllocateResult> {
  let done!: (r: AllocateResult) => void;
  const result = new Promise<AllocateResult>((resolve) => (done = resolve));
  const now = () => performance.now();
  let alloc: Allocation | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const sock = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data: (_s, data, port, address) => {
        alloc?.handleInput({ ip: address, port }, { ip: "127.0.0.1", port: sock.port }, new Uint8Array(data), now());
        pump();
      },
      error: () => {},
    },
  });
  const pump = () => {
    const a = alloc!;
    for (let t = a.pollTransmit(); t; t = a.pollTransmit()) sock.send(t.payload, t.dst.port, t.dst.ip);
    for (let e: AllocationEvent | undefined = a.pollEvent(); e; e = a.pollEvent()) {
      if (e.type === "new-candidate" && e.candidate.kind === "relay") done({ ok: true, ip: e.candidate.address.ip, port: e.candidate.address.port });
      if (e.type === "relay-gone") done({ ok: false, reason: e.reason });
    }
    clearTimeout(timer);
    const next = a.pollTimeout();
    if (next) {
      timer = setTimeout(() => {
        a.handleTimeout(now());
        pump();
      }, Math.max(0, next.at - now()));
    }
  };
  alloc = new Allocation({ server: { v4: { ip: "127.0.0.1", port: relayPort } }, username, password, now: now() });
  pump();
  const guard = setTimeout(() => done({ ok: false, reason: "no outcome" }), WAIT_MS);
  try {
    return await result;
  } finally {
    clearTimeout(guard);
    clearTimeout(timer);
    sock.close();
  }
}
