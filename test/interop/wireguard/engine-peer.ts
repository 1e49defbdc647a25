/**
 * Our WireGuard engine as a peer process for the wireguard-go interop test. Runs inside a network
 * namespace (`ip netns exec <ns> bun engine-peer.ts`), speaks WireGuard over a Bun UDP socket and
 * acts as the host at OUR_IP inside the tunnel: it answers ICMP echo requests itself and, on
 * commands from stdin (one JSON object a line), sends pings and UDP datagrams through the tunnel.
 * Every answer and event goes to stdout as one JSON line. This is a driver, so it owns the clock.
 */
import { buildIcmpEcho, buildUdpPacket, parseIPv4, PacketView } from "../../../src/ip/index.ts";
import { Device, RateLimiter, TunnAction, Tunnel, type TunnResult } from "../../../src/wireguard/index.ts";

const env = process.env;
const b64 = (s: string | undefined): Uint8Array => new Uint8Array(Buffer.from(s ?? "", "base64"));
const ourIp = parseIPv4(env.OUR_IP!)!;
const [peerHost, peerPortText] = env.PEER_ENDPOINT!.split(":");
const peerPort = Number(peerPortText);
const [bindHost, bindPortText] = env.BIND!.split(":");

const emit = (obj: Record<string, unknown>): void => {
  process.stdout.write(JSON.stringify(obj) + "\n");
};
const now = (): number => performance.now();

// DEVICE=1: the gateway shape, a Device that finds the peer of an initiation by its static key.
const device =
  env.DEVICE === "1"
    ? new Device<string>({ privateKey: b64(env.PRIVATE_KEY), wallClock: () => Date.now(), handshakeRateLimit: env.UNDER_LOAD === "1" ? 0 : undefined })
    : null;
const peerConfig = {
  peerPublicKey: b64(env.PEER_PUBLIC_KEY),
  presharedKey: env.PSK ? b64(env.PSK) : null,
  rekeyAttemptTime: 20_000,
};
const tunnel = device
  ? device.addPeer("wireguard-go", { ...peerConfig, publicKey: peerConfig.peerPublicKey })
  : new Tunnel({
      ...peerConfig,
      privateKey: b64(env.PRIVATE_KEY),
      wallClock: () => Date.now(),
      // UNDER_LOAD=1: every handshake counts as over the limit, so each needs a cookie (MAC2).
      ...(env.UNDER_LOAD === "1" ? { rateLimiter: new RateLimiter(0) } : {}),
    });

const out = new Uint8Array(new ArrayBuffer(65536));
const pkt = new Uint8Array(new ArrayBuffer(2048));
const view = new PacketView();
const waiters = new Map<string, (info: Record<string, unknown>) => void>();

const socket = await Bun.udpSocket({
  hostname: bindHost,
  port: Number(bindPortText),
  socket: {
    data(_sock, data, port, address) {
      const bytes = new Uint8Array(data);
      const r = device ? device.decapsulate(bytes, out, now(), address, port) : tunnel.decapsulate(bytes, out, now(), address, port);
      handle(r);
      flush();
    },
  },
});

function handle(r: TunnResult): void {
  switch (r.action) {
    case TunnAction.WriteToNetwork:
      socket.send(r.bytes(), peerPort, peerHost);
      break;
    case TunnAction.WriteToTunnelV4:
    case TunnAction.WriteToTunnelV6:
      onPacket(r.buf, r.offset, r.length);
      break;
    case TunnAction.Dropped:
      emit({ event: "drop", reason: r.reason });
      break;
    case TunnAction.Done:
      break;
  }
}

/** Sends whatever the tunnel still has, reports its events and re-arms the timer. */
function flush(): void {
  for (let r = tunnel.pollTransmit(now()); r.action !== TunnAction.Done; r = tunnel.pollTransmit(now())) handle(r);
  for (let e = tunnel.pollEvent(); e !== undefined; e = tunnel.pollEvent()) emit({ event: e.type, ...e });
  schedule();
}

let timer: ReturnType<typeof setTimeout> | undefined;
function schedule(): void {
  if (timer !== undefined) clearTimeout(timer);
  const t = tunnel.pollTimeout();
  if (t === null) return;
  timer = setTimeout(() => {
    timer = undefined;
    handle(tunnel.handleTimeout(now()));
    flush();
  }, Math.max(0, Math.ceil(t.at - now())));
}

function sendIp(len: number): void {
  handle(tunnel.encapsulate(pkt.subarray(0, len), out, now()));
  flush();
}

function onPacket(buf: Uint8Array, off: number, len: number): void {
  if (view.parse(buf, off, len) !== "ok" || view.version !== 4) return emit({ event: "ignored-packet", len });
  const l4 = view.l4Off;
  if (view.protocol === 1 && buf[l4] === 8 && view.dst4() === ourIp) {
    // Echo request for us: answer like a host would, with the same id, seq and payload.
    const id = (buf[l4 + 4] << 8) | buf[l4 + 5];
    const seq = (buf[l4 + 6] << 8) | buf[l4 + 7];
    const payload = buf.slice(l4 + 8, l4 + view.l4Len);
    const n = buildIcmpEcho(pkt, 0, ourIp, view.src4(), false, id, seq, payload);
    if (typeof n === "number") sendIp(n);
    emit({ event: "echo-request-answered", seq });
  } else if (view.protocol === 1 && buf[l4] === 0) {
    const seq = (buf[l4 + 6] << 8) | buf[l4 + 7];
    waiters.get(`ping:${seq}`)?.({ seq });
  } else if (view.protocol === 17) {
    const payload = new TextDecoder().decode(buf.subarray(view.payloadOff, view.payloadOff + view.payloadLen));
    waiters.get(`udp:${payload}`)?.({ payload, srcPort: view.srcPort });
  }
}

function wait(key: string, ms: number): Promise<Record<string, unknown> | null> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      waiters.delete(key);
      resolve(null);
    }, ms);
    waiters.set(key, (info) => {
      clearTimeout(t);
      waiters.delete(key);
      resolve(info);
    });
  });
}

async function command(c: Record<string, any>): Promise<Record<string, unknown>> {
  switch (c.cmd) {
    case "ping": {
      const payload = new TextEncoder().encode(`ping-${c.seq}`.padEnd(c.size ?? 56, "."));
      const n = buildIcmpEcho(pkt, 0, ourIp, parseIPv4(c.dst)!, true, 0x4242, c.seq, payload);
      if (typeof n !== "number") return { ok: false, error: n };
      const reply = wait(`ping:${c.seq}`, c.timeoutMs ?? 8000);
      sendIp(n);
      return { ok: (await reply) !== null };
    }
    case "udp": {
      const payload = new TextEncoder().encode(c.payload);
      const n = buildUdpPacket(pkt, 0, ourIp, parseIPv4(c.dst)!, 40000, c.port, payload);
      if (typeof n !== "number") return { ok: false, error: n };
      const reply = wait(`udp:${c.payload}`, c.timeoutMs ?? 8000);
      sendIp(n);
      const got = await reply;
      return { ok: got !== null, ...got };
    }
    case "rollover": {
      handle(tunnel.rollOver(now()));
      flush();
      return { ok: true };
    }
    case "stats":
      return {
        ok: true,
        stats: { ...tunnel.stats, drops: tunnel.stats.dropsByReason() },
        device: device ? { cookieRepliesSent: device.stats.cookieRepliesSent, drops: device.stats.dropsByReason() } : null,
        sessions: tunnel.sessionCount,
      };
    case "quit":
      setTimeout(() => process.exit(0), 10);
      return { ok: true };
    default:
      return { ok: false, error: `unknown command ${c.cmd}` };
  }
}

emit({ event: "ready", port: socket.port });
let pending = "";
for await (const chunk of Bun.stdin.stream()) {
  pending += new TextDecoder().decode(chunk);
  let nl: number;
  while ((nl = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    if (!line.trim()) continue;
    const c = JSON.parse(line);
    command(c).then((res) => emit({ id: c.id, ...res }));
  }
}
process.exit(0);
