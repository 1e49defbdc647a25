/**
 * UDP GRO on the relay's FFI path, on loopback: a GSO burst sent to a GRO socket arrives as one
 * buffer of same-size datagrams (the last may be shorter); the relay must split it and relay every
 * datagram intact and in order, in both directions, and still drop a malformed one inside it.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { RelayDriver } from "../../src/io/relay-driver.ts";
import { ACTION_TO_NET, PacketBatch, SOCKADDR_SLOT } from "../../src/io/packet-batch.ts";
import { FfiUdpSocket } from "../../src/io/udp-ffi.ts";
import { issueCredentials } from "../../src/relay/credentials.ts";
import { RelayServer } from "../../src/relay/server.ts";
import {
  ATTR_XOR_PEER_ADDRESS,
  METHOD_ALLOCATE,
  METHOD_CHANNEL_BIND,
  MessageBuilder,
  TRANSPORT_UDP,
  getNonce,
  getRealm,
  longTermKey,
  newTransactionId,
  parseMessage,
  type StunMessage,
} from "../../src/stun/index.ts";
import { channelData } from "./turn-test-client.ts";
import { errorCodeOf, UdpTurnClient, until } from "./udp-turn-client.ts";

const SECRET = "gro-test-secret";
const cleanup: (() => unknown)[] = [];

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function startRelay() {
  const min = 30000 + Math.floor(Math.random() * 100) * 100;
  const server = new RelayServer({ secret: SECRET, publicIpv4: "127.0.0.1", minPort: min, maxPort: min + 99 });
  const driver = await RelayDriver.start({ server, listenIpv4: "127.0.0.1", port: 0, io: "ffi", gro: true });
  cleanup.push(() => driver.stop());
  return { server, driver };
}

function ffiSocket(): FfiUdpSocket {
  const s = new FfiUdpSocket({ bind: { ip: "127.0.0.1", port: 0 }, gso: true, bufferBytes: 4 << 20 });
  cleanup.push(() => s.close());
  return s;
}

/** One sendmmsg of `datagrams` to `port`: same-size neighbours leave as GSO super-datagrams. */
function burst(sock: FfiUdpSocket, port: number, datagrams: Uint8Array[]): void {
  const b = new PacketBatch(64);
  for (const [i, d] of datagrams.entries()) {
    b.push(d, ACTION_TO_NET);
    sock.encodeAddress({ ip: "127.0.0.1", port }, b.addr, i * SOCKADDR_SLOT);
  }
  expect(sock.sendBatch(b)).toBe(datagrams.length);
}

/** A TURN client on an FFI socket (so it can send GSO bursts): allocate, then bind one channel. */
async function ffiTurnClient(sock: FfiUdpSocket, relayPort: number, channel: number, peerPort: number): Promise<void> {
  const { username, password } = issueCredentials(SECRET, Math.floor(Date.now() / 1000) + 600);
  const rx = new PacketBatch(4);
  let realm = "";
  let nonce = "";
  const request = async (method: number, fill: (b: MessageBuilder) => void): Promise<StunMessage> => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const b = new MessageBuilder(method, "request", newTransactionId());
      fill(b);
      if (nonce) b.addUsername(username).addRealm(realm).addNonce(nonce).addMessageIntegrity(longTermKey(username, realm, password));
      const built = b.finish();
      if (!built.ok) throw new Error(built.reason);
      burst(sock, relayPort, [new Uint8Array(built.bytes)]);
      let answer: StunMessage | undefined;
      for (let polls = 0; polls < 500 && answer === undefined; polls++) {
        rx.count = 0;
        if (sock.recvBatch(rx) === 0) {
          await Bun.sleep(2);
          continue;
        }
        const parsed = parseMessage(rx.packet(0).slice());
        if (parsed.ok) answer = parsed.message;
      }
      if (answer === undefined) throw new Error("no answer from the relay");
      const code = errorCodeOf(answer);
      if (code !== 401 && code !== 438) return answer;
      const n = getNonce(answer);
      const r = getRealm(answer);
      if (typeof n === "string") nonce = n;
      if (typeof r === "string") realm = r;
    }
    throw new Error("authentication failed");
  };
  expect(errorCodeOf(await request(METHOD_ALLOCATE, (b) => b.addRequestedTransport(TRANSPORT_UDP)))).toBe(0);
  const bound = await request(METHOD_CHANNEL_BIND, (b) => b.addChannelNumber(channel).addXorAddress(ATTR_XOR_PEER_ADDRESS, { ip: "127.0.0.1", port: peerPort }));
  expect(errorCodeOf(bound)).toBe(0);
}

function payload(i: number, size: number): Uint8Array {
  const d = new Uint8Array(size);
  for (let k = 0; k < size; k++) d[k] = (i * 13 + k) & 0xff;
  return d;
}

test("FfiUdpSocket gro: a GSO run arrives as one buffer with its segment size; without gro as datagrams", () => {
  const tx = ffiSocket();
  const on = new FfiUdpSocket({ bind: { ip: "127.0.0.1", port: 0 }, gro: true, bufferBytes: 4 << 20 });
  const off = new FfiUdpSocket({ bind: { ip: "127.0.0.1", port: 0 }, gro: false, bufferBytes: 4 << 20 });
  cleanup.push(() => on.close(), () => off.close());
  expect([on.groEnabled, off.groEnabled]).toEqual([true, false]);
  const run = [...Array.from({ length: 20 }, (_, i) => payload(i, 1000)), payload(20, 500)];
  burst(tx, on.localPort, run);
  burst(tx, off.localPort, run);
  const rx = new PacketBatch(64, 65536 + 32);
  expect(on.recvBatch(rx)).toBe(1);
  expect([rx.len[0], on.rxSegSize[0]]).toEqual([20500, 1000]);
  const joined = rx.packet(0);
  for (const [i, d] of run.entries()) expect(joined.subarray(i * 1000, i * 1000 + d.length)).toEqual(d);
  rx.count = 0;
  expect(off.recvBatch(rx)).toBe(21);
  for (let i = 0; i < 21; i++) expect([rx.len[i], off.rxSegSize[i]]).toEqual([run[i]!.length, run[i]!.length]);
});

describe("relay with UDP GRO", () => {
  test("peer → client: a GSO burst arrives as one GRO buffer and is relayed datagram by datagram, in order", async () => {
    const { server, driver } = await startRelay();
    const creds = issueCredentials(SECRET, Math.floor(Date.now() / 1000) + 600);
    const client = await UdpTurnClient.open(driver.port, creds.username, creds.password);
    cleanup.push(() => client.close());
    const peer = ffiSocket();
    const { relayedPort } = await client.allocate();
    expect(errorCodeOf(await client.bind(0x4001, peer.localPort))).toBe(0);
    await until(() => server.stats().allocations === 1, "allocation");
    // 30 × 1200 and a shorter tail (one GSO run), then 10 × 1000 (another run).
    const sent = [...Array.from({ length: 30 }, (_, i) => payload(i, 1200)), payload(30, 700), ...Array.from({ length: 10 }, (_, i) => payload(31 + i, 1000))];
    burst(peer, relayedPort, sent);
    await until(() => client.data.length === sent.length, `${sent.length} ChannelData at the client (got ${client.data.length})`);
    for (const [i, d] of client.data.entries()) {
      expect([d[0], d[1], (d[2]! << 8) | d[3]!]).toEqual([0x40, 0x01, sent[i]!.length]);
      expect(d.subarray(4)).toEqual(sent[i]!);
    }
    expect(driver.ffiStats()!.groDatagrams).toBeGreaterThanOrEqual(30);
    expect(server.counters.totalDrops).toBe(0);
  });

  test("client → peer: ChannelData in one GRO buffer is relayed in order; a lying length inside it is dropped", async () => {
    const { server, driver } = await startRelay();
    const got: Uint8Array[] = [];
    const peer = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void got.push(new Uint8Array(d)), error: () => {} } });
    cleanup.push(() => peer.close());
    const sock = ffiSocket();
    await ffiTurnClient(sock, driver.port, 0x4002, peer.port);
    await until(() => server.stats().allocations === 1, "allocation");
    const frames = Array.from({ length: 40 }, (_, i) => channelData(0x4002, payload(i, 1196)));
    // Frame 20 claims 1300 bytes but holds 1196: the neighbouring datagram must not fill the gap.
    frames[20]![2] = 1300 >> 8;
    frames[20]![3] = 1300 & 0xff;
    burst(sock, driver.port, frames);
    await until(() => got.length === 39, `39 datagrams at the peer (got ${got.length})`);
    await until(() => server.counters.drops["malformed-channel-data"] === 1, "the lying frame to be dropped");
    const expected = Array.from({ length: 40 }, (_, i) => i).filter((i) => i !== 20);
    for (const [k, d] of got.entries()) expect(d).toEqual(payload(expected[k]!, 1196));
    expect(driver.ffiStats()!.groDatagrams).toBeGreaterThanOrEqual(40);
  });
});
