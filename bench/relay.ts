/**
 * Relay throughput: packets/s and Mbit/s relayed through ONE channel (client → peer) with
 * 1200-byte datagrams, for `firezone relay` with each socket layer (FIREZONE_RELAY_IO=bun: Bun's
 * UDP sockets; ffi-nogro: recvmmsg/sendmmsg + UDP GSO over bun:ffi with FIREZONE_RELAY_GRO=0;
 * ffi: the default, the same with UDP GRO) and for coturn's `turnserver`
 * (--use-auth-secret), all on loopback, set up the same way in the same run and driven by the same load generator:
 * a separate Bun process that allocates, binds a channel and blasts ChannelData with connected
 * `sendMany` batches, while this process counts what arrives at the peer socket (a libc socket
 * with an 8 MiB receive buffer drained with recvmmsg: Bun's own socket keeps the kernel's default
 * 208 KiB, which two GSO super-datagrams overflow, so the sink, not the relay, dropped).
 *
 *   bun bench/relay.ts                 # 5 s per relay after 1 s warm-up (≈ 35 s in all)
 *   bun bench/relay.ts --seconds 20    # longer
 *   bun bench/relay.ts --size 200      # other payload size
 *   bun bench/relay.ts --only ffi      # one of bun, ffi-nogro, ffi, coturn (for profiling one relay)
 *   bun bench/relay.ts --cpu-prof DIR  # our relays write Bun CPU profiles (markdown) into DIR
 *   bun bench/relay.ts --heap-prof DIR # … and sampled allocation profiles (is the data path allocation-free?)
 *   bun bench/relay.ts --generator bun # offer load with Bun's sendMany instead of UDP GSO (≈¼ the load)
 *
 * Shared 2-core machine: the numbers move with the neighbours' load; compare the ratio.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { issueCredentials } from "../src/relay/credentials.ts";
import {
  ATTR_XOR_PEER_ADDRESS,
  METHOD_ALLOCATE,
  METHOD_CHANNEL_BIND,
  MessageBuilder,
  TRANSPORT_UDP,
  getErrorCode,
  getNonce,
  getRealm,
  isMalformed,
  longTermKey,
  newTransactionId,
  parseMessage,
  transactionKey,
  type StunMessage,
} from "../src/stun/index.ts";
import { freeUdpPort } from "../test/support/ports.ts";
import { ACTION_TO_NET, PacketBatch, SOCKADDR_SLOT } from "../src/io/packet-batch.ts";
import { Readiness } from "../src/io/relay-readiness.ts";
import { FfiUdpSocket } from "../src/io/udp-ffi.ts";

const REPO = join(import.meta.dir, "..");
const CHANNEL = 0x4000;

interface GeneratorConfig {
  relayPort: number;
  username: string;
  password: string;
  peerPort: number;
  size: number;
  seconds: number;
  /** "gso": libc socket, 64-datagram sendmmsg with UDP GSO runs (≈4× the offered load); "bun": connected sendMany. */
  generator: "gso" | "bun";
}

/** The generator's socket to the relay: STUN requests, answers, and the ChannelData blast. */
interface GeneratorSocket {
  send(bytes: Uint8Array): void;
  /** Sends one batch of 64 copies of `packet`; returns how many the kernel took. */
  blast(): number;
  /** Setup is over: stop polling for answers. */
  quiet(): void;
  close(): void;
}

async function bunGeneratorSocket(relayPort: number, packet: Uint8Array, onData: (d: Uint8Array) => void): Promise<GeneratorSocket> {
  const sock = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    connect: { hostname: "127.0.0.1", port: relayPort },
    socket: { data: (_s, d) => onData(new Uint8Array(d)), error() {} },
  });
  const batch = new Array(64).fill(packet);
  return { send: (b) => void sock.send(b), blast: () => sock.sendMany(batch), quiet() {}, close: () => sock.close() };
}

function gsoGeneratorSocket(relayPort: number, packet: Uint8Array, onData: (d: Uint8Array) => void): GeneratorSocket {
  const sock = new FfiUdpSocket({ bind: { ip: "127.0.0.1", port: 0 }, gso: true, bufferBytes: 8 << 20 });
  const relay = { ip: "127.0.0.1", port: relayPort };
  const one = new PacketBatch(1);
  const rx = new PacketBatch(8);
  const blast = new PacketBatch(64);
  for (let i = 0; i < 64; i++) {
    blast.push(packet, ACTION_TO_NET);
    sock.encodeAddress(relay, blast.addr, i * SOCKADDR_SLOT);
  }
  const poller = setInterval(() => {
    rx.count = 0;
    const n = sock.recvBatch(rx);
    for (let i = 0; i < n; i++) onData(rx.packet(i).slice());
  }, 2);
  return {
    send(bytes) {
      one.count = 0;
      one.push(bytes, ACTION_TO_NET);
      sock.encodeAddress(relay, one.addr, 0);
      sock.sendBatch(one);
    },
    blast: () => sock.sendBatch(blast),
    quiet: () => clearInterval(poller),
    close() {
      clearInterval(poller);
      sock.close();
    },
  };
}

function generatorKind(): "gso" | "bun" {
  const i = process.argv.indexOf("--generator");
  const v = i < 0 ? "gso" : process.argv[i + 1];
  if (v !== "gso" && v !== "bun") throw new Error("--generator takes gso or bun");
  return v;
}

function profileArgs(io: string): string[] {
  const args: string[] = [];
  const cpu = process.argv.indexOf("--cpu-prof");
  if (cpu >= 0) args.push("--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${process.argv[cpu + 1]}`, `--cpu-prof-name=relay-${io}.md`);
  const heap = process.argv.indexOf("--heap-prof");
  if (heap >= 0) args.push("--heap-prof", "--heap-prof-md", `--heap-prof-dir=${process.argv[heap + 1]}`, `--heap-prof-name=relay-${io}-heap.md`);
  return args;
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

// ---- load generator (child process) -------------------------------------------------------------

async function generate(cfg: GeneratorConfig): Promise<void> {
  const waiting = new Map<string, (m: StunMessage) => void>();
  const onData = (data: Uint8Array) => {
    const parsed = parseMessage(data);
    if (!parsed.ok) return;
    const key = parsed.message.transactionKey();
    waiting.get(key)?.(parsed.message);
    waiting.delete(key);
  };
  const packet = new Uint8Array(new ArrayBuffer(4 + cfg.size));
  packet[0] = CHANNEL >> 8;
  packet[1] = CHANNEL & 0xff;
  packet[2] = cfg.size >> 8;
  packet[3] = cfg.size & 0xff;
  const sock = cfg.generator === "gso" ? gsoGeneratorSocket(cfg.relayPort, packet, onData) : await bunGeneratorSocket(cfg.relayPort, packet, onData);
  let realm = "";
  let nonce = "";
  const request = async (method: number, fill: (b: MessageBuilder) => void): Promise<StunMessage> => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const txid = newTransactionId();
      const b = new MessageBuilder(method, "request", txid);
      fill(b);
      if (nonce) b.addUsername(cfg.username).addRealm(realm).addNonce(nonce).addMessageIntegrity(longTermKey(cfg.username, realm, cfg.password));
      const built = b.finish();
      if (!built.ok) throw new Error(built.reason);
      const answer = await new Promise<StunMessage>((resolve, reject) => {
        waiting.set(transactionKey(txid), resolve);
        sock.send(built.bytes);
        setTimeout(() => reject(new Error("no answer from the relay")), 2000);
      });
      const err = getErrorCode(answer);
      const code = err && !isMalformed(err) ? err.code : 0;
      if (code === 401 || code === 438) {
        const n = getNonce(answer);
        const r = getRealm(answer);
        if (typeof n === "string") nonce = n;
        if (typeof r === "string") realm = r;
        continue;
      }
      if (code !== 0) throw new Error(`relay refused method ${method} with ${code}`);
      return answer;
    }
    throw new Error("authentication failed");
  };
  await request(METHOD_ALLOCATE, (b) => b.addRequestedTransport(TRANSPORT_UDP));
  await request(METHOD_CHANNEL_BIND, (b) =>
    b.addChannelNumber(CHANNEL).addXorAddress(ATTR_XOR_PEER_ADDRESS, { ip: "127.0.0.1", port: cfg.peerPort }),
  );
  sock.quiet();
  process.stdout.write("READY\n");
  const end = performance.now() + cfg.seconds * 1000;
  let sent = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 16; i++) sent += sock.blast();
    // Let the loop breathe so the socket can drain and the parent can stop us.
    await new Promise((r) => setImmediate(r));
  }
  process.stdout.write(`SENT ${sent}\n`);
  sock.close();
}

// ---- the peer ------------------------------------------------------------------------------------

/** Counts datagrams at the peer: recvmmsg when readable, at most 16 batches per event-loop turn. */
class PeerSink {
  packets = 0;
  bytes = 0;
  private readonly socket = new FfiUdpSocket({ bind: { ip: "127.0.0.1", port: 0 }, gso: false, bufferBytes: 8 << 20 });
  private readonly batch = new PacketBatch(64);
  private readonly readiness = new Readiness(() => this.drain());
  private closed = false;

  constructor() {
    this.readiness.add(this.socket.pollFd);
    this.readiness.arm();
  }

  get port(): number {
    return this.socket.localPort;
  }

  close(): void {
    this.closed = true;
    this.readiness.close();
    this.socket.close();
  }

  private drain(): void {
    if (this.closed) return;
    const b = this.batch;
    for (let round = 0; round < 16; round++) {
      b.count = 0;
      const n = this.socket.recvBatch(b);
      for (let i = 0; i < n; i++) this.bytes += b.len[i]!;
      this.packets += n;
      if (n < b.capacity) return this.readiness.arm();
    }
    setImmediate(() => this.drain());
  }
}

// ---- orchestration ---------------------------------------------------------------------------------

async function waitForBinding(port: number, proc: Subprocess): Promise<void> {
  let ok = false;
  const s = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: () => void (ok = true), error() {} } });
  const req = Buffer.from("000100002112a4420123456789abcdef01234567", "hex");
  for (let i = 0; i < 200 && !ok; i++) {
    if (proc.exitCode !== null) throw new Error("relay exited before answering");
    s.send(req, port, "127.0.0.1");
    await Bun.sleep(50);
  }
  s.close();
  if (!ok) throw new Error("relay did not answer BINDING");
}

interface Result {
  name: string;
  pps: number;
  mbps: number;
  generatorSent: number;
  received: number;
}

async function measure(
  name: string,
  start: (port: number, minPort: number) => Subprocess,
  creds: (secret: string) => { username: string; password: string },
  secret: string,
  seconds: number,
  size: number,
): Promise<Result> {
  const port = await freeUdpPort();
  // Below the kernel's ephemeral range (32768-60999), so the range never holds the listening port.
  const minPort = 21000 + Math.floor(Math.random() * 11) * 1000;
  const relay = start(port, minPort);
  const peer = new PeerSink();
  let gen: Subprocess<"ignore", "pipe", "inherit"> | undefined;
  try {
    await waitForBinding(port, relay);
    const { username, password } = creds(secret);
    const warmup = 1;
    const cfg: GeneratorConfig = { relayPort: port, username, password, peerPort: peer.port, size, seconds: warmup + seconds + 1, generator: generatorKind() };
    gen = Bun.spawn([process.execPath, import.meta.path, "--generate", JSON.stringify(cfg)], { stdout: "pipe", stderr: "inherit" });
    const reader = gen.stdout.getReader();
    let text = "";
    while (!text.includes("READY")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${name}: generator ended before READY`);
      text += new TextDecoder().decode(value);
    }
    await Bun.sleep(warmup * 1000);
    const c0 = peer.packets;
    const b0 = peer.bytes;
    const t0 = performance.now();
    await Bun.sleep(seconds * 1000);
    const c1 = peer.packets;
    const b1 = peer.bytes;
    const dt = (performance.now() - t0) / 1000;
    while (!text.includes("SENT")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const sent = Number(/SENT (\d+)/.exec(text)?.[1] ?? 0);
    return { name, pps: (c1 - c0) / dt, mbps: ((b1 - b0) * 8) / dt / 1e6, generatorSent: sent, received: peer.packets };
  } finally {
    gen?.kill("SIGKILL");
    relay.kill("SIGTERM");
    await relay.exited;
    peer.close();
  }
}

async function main(): Promise<void> {
  const seconds = flag("seconds", 5);
  const size = flag("size", 1200);
  const generator = generatorKind();
  const onlyAt = process.argv.indexOf("--only");
  const only = onlyAt < 0 ? null : process.argv[onlyAt + 1];
  if (only !== null && !["bun", "ffi-nogro", "ffi", "coturn"].includes(only)) throw new Error("--only takes bun, ffi-nogro, ffi or coturn");
  const dir = mkdtempSync(join(tmpdir(), "fz-relay-bench-"));
  const secret = crypto.randomUUID();
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  const results: Result[] = [];
  try {
    for (const io of ["bun", "ffi-nogro", "ffi"] as const) {
      if (only !== null && only !== io) continue;
      const env = { ...process.env, FIREZONE_RELAY_IO: io === "bun" ? "bun" : "ffi", FIREZONE_RELAY_GRO: io === "ffi-nogro" ? "0" : "1" };
      results.push(
        await measure(
          `firezone relay ${io}`,
          (port, minPort) =>
            Bun.spawn(
              [process.execPath, ...profileArgs(io), join(REPO, "src/cli/main.ts"), "relay", "--listen", "127.0.0.1", "--port", String(port),
                "--min-port", String(minPort), "--max-port", String(minPort + 999), "--secret", secret,
                "--log-level", "warn", "--log-dir", join(dir, "fz-logs")],
              { stdout: "ignore", stderr: "inherit", env },
            ),
          (s) => issueCredentials(s, expiry),
          secret,
          seconds,
          size,
        ),
      );
    }
    if (only === null || only === "coturn") results.push(
      await measure(
        "coturn turnserver",
        (port, minPort) =>
          Bun.spawn(
            ["turnserver", "-n", "--no-cli", "--no-tcp", "--no-tls", "--no-dtls", "--no-tcp-relay", "-L", "127.0.0.1",
              "-p", String(port), "--min-port", String(minPort), "--max-port", String(minPort + 999),
              "--use-auth-secret", `--static-auth-secret=${secret}`, "-r", "firezone", "--allow-loopback-peers",
              "--no-stdout-log", "--log-file", join(dir, "coturn.log"), "--pidfile", join(dir, "coturn.pid"),
              "--userdb", join(dir, "turndb")],
            { stdout: "ignore", stderr: "ignore" },
          ),
        (s) => {
          // coturn's TURN REST API scheme: username "<expiry>:<user>", password base64(HMAC-SHA1(secret, username)).
          const username = `${expiry}:bench`;
          return { username, password: createHmac("sha1", s).update(username).digest("base64") };
        },
        secret,
        seconds,
        size,
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const r of results) {
    console.log(
      `${r.name.padEnd(24)} ${Math.round(r.pps).toString().padStart(8)} pkt/s  ${r.mbps.toFixed(1).padStart(8)} Mbit/s  ` +
        `(generator sent ${r.generatorSent}, peer got ${r.received})`,
    );
  }
  const co = results.find((r) => r.name.startsWith("coturn"));
  for (const r of results) {
    if (r === co || co === undefined) continue;
    console.log(`ratio ${r.name}/coturn: ${(r.pps / co.pps).toFixed(2)}× packets/s (${size}-byte payloads, ${seconds} s each, one channel, loopback, ${generator} generator)`);
  }
}

if (process.argv[2] === "--generate") await generate(JSON.parse(process.argv[3]!) as GeneratorConfig);
else await main();
process.exit(0);
