/**
 * Portal load: N client sockets joined and heartbeating (every 10 s, like connlib), one gateway
 * answering create_authorization, and the authorization round trip (client request → gateway
 * reply → client answer) measured with the sockets idle-connected, against a baseline measured in
 * the same run with no other sockets. The portal runs as a separate `firezone portal` process so
 * its memory per socket is its own.
 *
 *   bun bench/portal.ts                 # 1,000 sockets, 200 round trips
 *   bun bench/portal.ts --sockets 10000 # the 10k run
 *   bun bench/portal.ts --sockets 5000 --requests 500 --concurrency 4
 */
import { readFileSync, rmSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    sockets: { type: "string", default: "1000" },
    requests: { type: "string", default: "200" },
    concurrency: { type: "string", default: "1" },
    "connect-batch": { type: "string", default: "200" },
  },
});
const SOCKETS = Number(values.sockets);
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const CONNECT_BATCH = Number(values["connect-batch"]);
const KEY = "S6REkbStSNMfn8hpLkVxibjR+zz3RO/Gq40TprHJE2U=";
const GATEWAY_KEY = "uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY=";

const dir = mkdtempSync(join(tmpdir(), "fz-bench-portal-"));
const secrets = {
  client: "bench-client-token-0123456789abcdef",
  gateway: "bench-gateway-token-0123456789abcdef",
  admin: "bench-admin-token-0123456789abcdef",
};
await Bun.write(
  join(dir, "portal.json"),
  JSON.stringify({
    actors: [{ name: "bench" }],
    groups: [{ name: "g", members: ["bench"] }],
    sites: [{ name: "s" }],
    resources: [{ name: "r", type: "cidr", address: "10.0.0.0/8", sites: ["s"] }],
    policies: [{ group: "g", resource: "r" }],
    tokens: [
      { name: "c", kind: "client", actor: "bench", secret: secrets.client },
      { name: "gw", kind: "gateway", site: "s", secret: secrets.gateway },
      { name: "admin", kind: "admin", secret: secrets.admin },
    ],
  }),
);

const portal = Bun.spawn(
  ["bun", join(import.meta.dir, "../src/cli/main.ts"), "portal", "--db", join(dir, "p.db"), "--config", join(dir, "portal.json"), "--port", "0", "--log-dir", join(dir, "logs"), "--log-level", "warn,portal::server=info"],
  { stdout: "ignore", stderr: "pipe" },
);

try {
  const url = await portalUrl(portal.stderr as ReadableStream<Uint8Array>);
  const ws = url.replace("http://", "ws://");
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${portal.pid}/status`, "utf8"))![1]) * 1024;

  // One gateway that answers every create_authorization at once, as connlib's gateway does.
  const gateway = await join_(`${ws}/gateway/v2/websocket?external_id=gw&name=gw&public_key=${encodeURIComponent(GATEWAY_KEY)}`, secrets.gateway, "gateway");
  gateway.ws.addEventListener("message", (e) => {
    const m = JSON.parse(String(e.data));
    if (m.event === "create_authorization") gateway.ws.send(JSON.stringify({ topic: "gateway", event: "authorization_created", payload: { ref: m.payload.ref }, ref: gateway.ref++ }));
  });
  const probe = await join_(`${ws}/client/v2/websocket?external_id=probe&name=probe&public_key=${encodeURIComponent(KEY)}`, secrets.client, "client");
  const resourceId = probe.init.resources[0].id as string;

  const baseline = await roundTrips(probe, resourceId, Math.min(REQUESTS, 200), CONCURRENCY);
  const rssBefore = rss();

  // N sockets, opened in batches so the connect storm itself stays bounded.
  const t0 = performance.now();
  const clients: Peer[] = [];
  for (let i = 0; i < SOCKETS; i += CONNECT_BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(SOCKETS, i + CONNECT_BATCH); j++) {
      batch.push(join_(`${ws}/client/v2/websocket?external_id=dev-${j}&name=d${j}&public_key=${encodeURIComponent(KEY)}`, secrets.client, "client"));
    }
    clients.push(...(await Promise.all(batch)));
  }
  const connectMs = performance.now() - t0;
  // Heartbeats spread over the 10 s interval: every 100 ms, a tenth of a tenth of the sockets.
  let hbAnswered = 0;
  for (const c of clients) c.ws.addEventListener("message", (e) => void (String(e.data).includes('"phoenix"') && hbAnswered++));
  let slot = 0;
  const heartbeat = setInterval(() => {
    for (let i = slot; i < clients.length; i += 100) {
      const c = clients[i]!;
      c.ws.send(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":${c.ref++}}`);
    }
    slot = (slot + 1) % 100;
  }, 100);
  await Bun.sleep(2000);
  const rssAfter = rss();
  const loaded = await roundTrips(probe, resourceId, REQUESTS, CONCURRENCY);
  // Round trips from the loaded sockets themselves, spread over them.
  const spread = await roundTrips(clients[Math.floor(clients.length / 2)] ?? probe, resourceId, Math.min(REQUESTS, 100), CONCURRENCY);
  clearInterval(heartbeat);

  // Policy fan-out: one membership change reaches every socket (resource_deleted), and back.
  const fanOut = async (method: string, path: string, body: unknown, marker: string) => {
    let seen = 0;
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    const listener = (e: MessageEvent) => {
      if (String(e.data).includes(marker) && ++seen === clients.length) resolveAll();
    };
    for (const c of clients) c.ws.addEventListener("message", listener);
    const t = performance.now();
    const res = await fetch(`${url}/admin/v1/${path}`, { method, headers: { authorization: `Bearer ${secrets.admin}` }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!res.ok) throw new Error(`admin ${path}: ${res.status}`);
    const answered = performance.now() - t;
    if (clients.length > 0) await all;
    const everyone = performance.now() - t;
    for (const c of clients) c.ws.removeEventListener("message", listener);
    return { admin_answer_ms: Math.round(answered), all_sockets_told_ms: Math.round(everyone) };
  };
  const revokeFanOut = await fanOut("DELETE", "groups/g/members/bench", undefined, '"resource_deleted"');
  const grantFanOut = await fanOut("POST", "groups/g/members", { actor: "bench" }, '"resource_created_or_updated"');

  const perSocket = (rssAfter - rssBefore) / Math.max(1, SOCKETS);
  const report = {
    sockets: SOCKETS,
    connect_all_ms: Math.round(connectMs),
    connects_per_s: Math.round(SOCKETS / (connectMs / 1000)),
    heartbeats_answered_in_2s: hbAnswered,
    portal_rss_mb_before: +(rssBefore / 2 ** 20).toFixed(1),
    portal_rss_mb_after: +(rssAfter / 2 ** 20).toFixed(1),
    portal_bytes_per_socket: Math.round(perSocket),
    baseline_round_trip_ms: baseline,
    loaded_round_trip_ms: loaded,
    loaded_client_round_trip_ms: spread,
    membership_removed_fan_out: revokeFanOut,
    membership_added_fan_out: grantFanOut,
    p50_ratio_loaded_vs_idle: +(loaded.p50 / baseline.p50).toFixed(2),
    p99_ratio_loaded_vs_idle: +(loaded.p99 / baseline.p99).toFixed(2),
  };
  process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  for (const c of clients) c.ws.close();
  probe.ws.close();
  gateway.ws.close();
} finally {
  portal.kill();
  await portal.exited;
  rmSync(dir, { recursive: true, force: true });
}

interface Peer {
  ws: WebSocket;
  ref: number;
  init: any;
}

async function portalUrl(stderr: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stderr.getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`portal exited: ${text}`);
    text += new TextDecoder().decode(value);
    const m = /portal listening url=(http:\/\/\S+)/.exec(text);
    if (m) {
      // Keep draining so the portal never blocks on a full pipe.
      void (async () => {
        while (!(await reader.read()).done);
      })();
      return m[1]!;
    }
  }
}

/** Opens a socket, joins, and waits for init. */
function join_(url: string, token: string, topic: string): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { "X-Authorization": `Bearer ${token}` } } as unknown as string[]);
    const peer: Peer = { ws, ref: 1, init: undefined };
    const onMessage = (e: MessageEvent) => {
      const m = JSON.parse(String(e.data));
      if (m.event === "init") {
        peer.init = m.payload;
        ws.removeEventListener("message", onMessage);
        resolve(peer);
      }
    };
    ws.addEventListener("message", onMessage);
    ws.addEventListener("open", () => ws.send(`{"topic":"${topic}","event":"phx_join","payload":null,"ref":0}`));
    ws.addEventListener("error", (e) => reject(new Error((e as ErrorEvent).message)));
  });
}

/** `count` authorization round trips, `concurrency` in flight; latency percentiles in ms. */
async function roundTrips(peer: Peer, resourceId: string, count: number, concurrency: number) {
  const latencies: number[] = [];
  const waiting: (() => void)[] = [];
  const onMessage = (e: MessageEvent) => {
    const text = String(e.data);
    if (text.includes('"authorization_created"') || text.includes('"authorization_creation_failed"')) waiting.shift()?.();
  };
  peer.ws.addEventListener("message", onMessage);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const t = performance.now();
      const done = new Promise<void>((r) => waiting.push(r));
      peer.ws.send(JSON.stringify({ topic: "client", event: "request_authorization", payload: { resource_id: resourceId, connected_gateway_ids: [] }, ref: peer.ref++ }));
      await done;
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  peer.ws.removeEventListener("message", onMessage);
  latencies.sort((a, b) => a - b);
  const q = (p: number) => +latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(3);
  return { n: latencies.length, p50: q(0.5), p99: q(0.99), max: q(1) };
}
