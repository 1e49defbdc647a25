/**
 * The server against a small reference model: random allocates, refreshes, channel binds, time
 * jumps and data in both directions from a few clients, usernames and peers. After every step the
 * server's answers, its routing decisions and its counts must match the model's.
 */
import { describe, expect, test } from "bun:test";
import { getLifetime } from "../../src/stun/index.ts";
import { issueCredentials } from "../../src/relay/credentials.ts";
import { SeededRandom } from "../../src/relay/random-source.ts";
import { RelayServer } from "../../src/relay/server.ts";
import { channelData, errorCode, TestClient } from "./turn-test-client.ts";

const SECRET = "model-secret";
const UNIX_START_MS = 1_800_000_000_000;
const S = 1000;

interface MChannel {
  peer: string;
  expiresAt: number;
  bound: boolean;
}
interface MAllocation {
  username: string;
  expiresAt: number;
  channels: Map<number, MChannel>;
}

const SOCKETS = [
  ["198.51.100.1", 1000],
  ["198.51.100.1", 1001],
  ["198.51.100.2", 1000],
  ["2001:db8::7", 1000],
] as const;
const USERS = [0, 1, 2];
const PEERS = ["192.0.2.10:5000", "192.0.2.10:5001", "192.0.2.11:5000"];
const NUMBERS = [0x4000, 0x4001, 0x7fff, 0x3fff];

function effective(lifetime: number | undefined): number {
  if (lifetime === undefined) return 600 * S;
  return Math.max(600 * S, Math.min(lifetime * S, 3600 * S));
}

function runModel(seed: number, steps: number): void {
  const rnd = new SeededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rnd.u32() % xs.length]!;
  const server = new RelayServer({
    secret: SECRET,
    publicIpv4: "203.0.113.1",
    publicIpv6: "2001:db8::1",
    minPort: 50000,
    maxPort: 50063,
    random: new SeededRandom(seed + 1),
  });
  server.setUnixTime(UNIX_START_MS, 0);
  const creds = USERS.map((u) => issueCredentials(SECRET, UNIX_START_MS / 1000 + 1e7, `user${u}`));
  // One TestClient per (socket, user): each keeps its own nonce, like separate client states.
  const clients = SOCKETS.map(([ip, port]) => USERS.map((u) => new TestClient(server, ip, port, creds[u]!.username, creds[u]!.password)));
  const model = new Map<string, MAllocation>(); // by socket "ip|port"
  const key = (s: number) => `${SOCKETS[s]![0]}|${SOCKETS[s]![1]}`;
  let now = 0;

  const expire = () => {
    for (const [k, a] of model) {
      if (a.expiresAt <= now) {
        model.delete(k);
        continue;
      }
      for (const [n, c] of a.channels) {
        if (c.bound && c.expiresAt <= now) c.bound = false;
        if (!c.bound && c.expiresAt + 300 * S <= now) a.channels.delete(n);
      }
    }
  };

  for (let step = 0; step < steps; step++) {
    const s = rnd.u32() % SOCKETS.length;
    const u = pick(USERS);
    const c = clients[s]![u]!;
    const k = key(s);
    const op = rnd.u32() % 10;
    const where = { seed, step, op };
    if (op === 0) {
      const lifetime = rnd.u32() % 3 === 0 ? undefined : rnd.u32() % 5000;
      const answer = c.allocate(now, (b) => {
        if (lifetime !== undefined) b.addLifetime(lifetime);
      });
      const existing = model.get(k);
      if (existing) {
        expect({ ...where, code: errorCode(answer) }).toEqual({ ...where, code: 437 });
      } else {
        expect({ ...where, code: errorCode(answer) }).toEqual({ ...where, code: null });
        for (const [other, a] of model) if (a.username === c.username) model.delete(other);
        model.set(k, { username: c.username, expiresAt: now + effective(lifetime), channels: new Map() });
      }
    } else if (op === 1) {
      const lifetime = rnd.u32() % 4 === 0 ? 0 : rnd.u32() % 3 === 0 ? undefined : rnd.u32() % 5000;
      const answer = c.refresh(now, lifetime);
      const a = model.get(k);
      if (!a) expect({ ...where, code: errorCode(answer) }).toEqual({ ...where, code: 437 });
      else {
        expect({ ...where, code: errorCode(answer) }).toEqual({ ...where, code: null });
        if (lifetime === 0) model.delete(k);
        else {
          a.expiresAt = now + effective(lifetime);
          expect(getLifetime(answer)).toBe(effective(lifetime) / 1000);
        }
      }
    } else if (op === 2 || op === 3) {
      const number = pick(NUMBERS);
      const peer = pick(PEERS);
      const [pip, pport] = peer.split(":") as [string, string];
      const answer = c.bind(now, number, pip, Number(pport));
      const a = model.get(k);
      let want: number | null;
      if (!a) want = 437;
      else if (number < 0x4000 || number > 0x7fff) want = 400;
      else {
        const byPeer = [...a.channels].find(([, ch]) => ch.peer === peer);
        const existing = a.channels.get(number);
        if (byPeer && byPeer[0] !== number) want = 400;
        else if (existing && existing.peer !== peer) want = 400;
        else {
          want = null;
          a.channels.set(number, { peer, expiresAt: now + 600 * S, bound: true });
        }
      }
      expect({ ...where, code: errorCode(answer) }).toEqual({ ...where, code: want });
    } else if (op === 4 || op === 5) {
      const number = pick(NUMBERS.slice(0, 3));
      const routed = server.handleClientPacket(SOCKETS[s]![0], SOCKETS[s]![1], channelData(number, new Uint8Array(8)), now);
      const ch = model.get(k)?.channels.get(number);
      const want = ch?.bound ? ch.peer : null;
      expect({ ...where, routed: routed ? `${routed.peerIp}:${routed.peerPort}` : null }).toEqual({ ...where, routed: want });
    } else if (op === 6) {
      const a = model.get(k);
      const alloc = server.allocationFor(SOCKETS[s]![0], SOCKETS[s]![1]);
      expect({ ...where, has: alloc !== undefined }).toEqual({ ...where, has: a !== undefined });
      if (alloc) {
        const peer = pick(PEERS);
        const [pip, pport] = peer.split(":") as [string, string];
        const routed = server.handlePeerPacket(alloc.port, pip, Number(pport), 8);
        const want = [...a!.channels].find(([, ch]) => ch.peer === peer && ch.bound)?.[0] ?? null;
        expect({ ...where, routed: routed?.number ?? null }).toEqual({ ...where, routed: want });
      }
    } else {
      now += (rnd.u32() % 400) * S + (rnd.u32() % 1000);
      server.handleTimeout(now);
      expire();
    }
    const stats = server.stats();
    let channels = 0;
    let bound = 0;
    for (const a of model.values()) {
      channels += a.channels.size;
      for (const ch of a.channels.values()) if (ch.bound) bound++;
    }
    expect({ ...where, allocations: stats.allocations, ports: stats.portsInUse, channels: stats.channels, bound: stats.boundChannels }).toEqual({
      ...where,
      allocations: model.size,
      ports: model.size,
      channels,
      bound,
    });
    // The pollTimeout deadline is never later than the earliest real expiry.
    const at = server.pollTimeout()?.at ?? Infinity;
    for (const a of model.values()) {
      expect(at).toBeLessThanOrEqual(a.expiresAt);
      for (const ch of a.channels.values()) expect(at).toBeLessThanOrEqual(ch.bound ? ch.expiresAt : ch.expiresAt + 300 * S);
    }
    while (server.pollEvent()) {
      // events are checked in server.test.ts; drained here so they do not pile up
    }
  }
}

describe("RelayServer against a reference model", () => {
  for (const seed of [1, 2, 3, 4]) {
    test(`seed ${seed}: 1500 random steps`, () => runModel(seed, 1500));
  }
});
