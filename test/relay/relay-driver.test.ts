/**
 * The UDP driver on loopback, in process: real sockets, real batching, the sans-IO server inside,
 * once with Bun's sockets and once with the libc (FFI) data path, GSO on and off.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { RelayDriver, type RelayIoMode } from "../../src/io/relay-driver.ts";
import { issueCredentials } from "../../src/relay/credentials.ts";
import { RelayServer } from "../../src/relay/server.ts";
import { channelData } from "./turn-test-client.ts";
import { errorCodeOf, UdpTurnClient, until } from "./udp-turn-client.ts";

const SECRET = "driver-test-secret";
const cleanup: (() => unknown)[] = [];

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface Mode {
  io: RelayIoMode;
  gso: boolean;
}

async function startRelay(mode: Mode, minPort: number, maxPort: number) {
  const server = new RelayServer({ secret: SECRET, publicIpv4: "127.0.0.1", minPort, maxPort });
  const driver = await RelayDriver.start({ server, listenIpv4: "127.0.0.1", port: 0, io: mode.io, gso: mode.gso });
  expect(driver.io).toBe(mode.io);
  cleanup.push(() => driver.stop());
  return { server, driver };
}

async function openClient(relayPort: number): Promise<UdpTurnClient> {
  const creds = issueCredentials(SECRET, Math.floor(Date.now() / 1000) + 600);
  const c = await UdpTurnClient.open(relayPort, creds.username, creds.password);
  cleanup.push(() => c.close());
  return c;
}

async function openPeer() {
  const got: { data: Uint8Array; port: number }[] = [];
  const sock = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    socket: { data: (_s, d, port) => void got.push({ data: new Uint8Array(d), port }), error: () => {} },
  });
  cleanup.push(() => sock.close());
  return { sock, got };
}

function randomRange(): [number, number] {
  const min = 30000 + Math.floor(Math.random() * 100) * 100;
  return [min, min + 99];
}

describe.each([
  { io: "bun", gso: false },
  { io: "ffi", gso: true },
  { io: "ffi", gso: false },
] as Mode[])("RelayDriver on loopback, io=$io gso=$gso", (mode) => {
  test("1000 ChannelData each way, payloads intact, batched through one channel", async () => {
    const { server, driver } = await startRelay(mode, ...randomRange());
    const client = await openClient(driver.port);
    const peer = await openPeer();
    const { relayedPort } = await client.allocate();
    expect(errorCodeOf(await client.bind(0x4abc, peer.sock.port))).toBe(0);
    // The relay port opens asynchronously after the Allocate success; wait for it.
    await until(() => server.stats().allocations === 1, "allocation");

    const N = 1000;
    for (let i = 0; i < N; i++) {
      const payload = new Uint8Array(100 + (i % 50));
      payload.fill(i & 0xff);
      client.sendRaw(channelData(0x4abc, payload));
      if (i % 20 === 19) await Bun.sleep(1); // stay under the receive buffers (one process does all three ends)
    }
    await until(() => peer.got.length === N, `${N} datagrams at the peer (got ${peer.got.length})`);
    for (const [i, p] of peer.got.entries()) {
      expect(p.port).toBe(relayedPort);
      expect(p.data.length).toBe(100 + (i % 50));
      expect(p.data.every((b) => b === (i & 0xff))).toBe(true);
    }

    for (let i = 0; i < N; i++) {
      peer.sock.send(new Uint8Array(1200).fill(i & 0xff), relayedPort, "127.0.0.1");
      if (i % 20 === 19) await Bun.sleep(1); // stay under the receive buffers (one process does all three ends)
    }
    await until(() => client.data.length === N, `${N} ChannelData at the client (got ${client.data.length})`);
    for (const [i, d] of client.data.entries()) {
      expect(d.length).toBe(1204);
      expect([d[0], d[1], (d[2]! << 8) | d[3]!]).toEqual([0x4a, 0xbc, 1200]);
      expect(d[4]).toBe(i & 0xff);
    }
    const c = server.counters;
    expect([c.clientToPeerPackets, c.peerToClientPackets]).toEqual([N, N]);
    expect(c.totalDrops).toBe(0);
    // Bursts of 20 same-size datagrams to the client sit in the socket before the relay (this
    // thread) drains them, so with GSO they leave as super-datagrams.
    const ffi = driver.ffiStats();
    if (mode.io === "ffi") expect(ffi!.gsoSegments > 0).toBe(mode.gso);
    else expect(ffi).toBeNull();
  });

  test("a peer without a channel gets nothing through (counted), the bound peer does", async () => {
    const { server, driver } = await startRelay(mode, ...randomRange());
    const client = await openClient(driver.port);
    const bound = await openPeer();
    const stranger = await openPeer();
    const { relayedPort } = await client.allocate();
    await client.bind(0x4000, bound.sock.port);
    await until(() => server.stats().allocations === 1, "allocation");
    stranger.sock.send(new Uint8Array([1, 2, 3]), relayedPort, "127.0.0.1");
    await until(() => server.counters.drops["peer-data-no-channel"] === 1, "the stranger's datagram to be dropped");
    bound.sock.send(new Uint8Array([4, 5, 6]), relayedPort, "127.0.0.1");
    await until(() => client.data.length === 1, "the bound peer's datagram");
    expect([...client.data[0]!]).toEqual([0x40, 0x00, 0, 3, 4, 5, 6]);
    // ChannelData to an unbound channel goes nowhere either.
    client.sendRaw(channelData(0x4001, new Uint8Array([9])));
    await until(() => server.counters.drops["channel-data-no-channel"] === 1, "unbound ChannelData to be dropped");
    expect(bound.got.length + stranger.got.length).toBe(0);
  });

  test("a relay port the OS will not give frees the allocation; the client's refresh gets 437", async () => {
    const [min] = randomRange();
    const squatter = await Bun.udpSocket({ hostname: "127.0.0.1", port: min });
    cleanup.push(() => squatter.close());
    const { server, driver } = await startRelay(mode, min, min);
    const client = await openClient(driver.port);
    await client.allocate();
    await until(() => server.counters.allocationsDeleted === 1, "the allocation to be freed");
    expect(errorCodeOf(await client.refresh())).toBe(437);
  });

  test("stop() frees allocations and closes their ports", async () => {
    const [min, max] = randomRange();
    const server = new RelayServer({ secret: SECRET, publicIpv4: "127.0.0.1", minPort: min, maxPort: max });
    const driver = await RelayDriver.start({ server, listenIpv4: "127.0.0.1", port: 0, io: mode.io, gso: mode.gso });
    const client = await openClient(driver.port);
    const { relayedPort } = await client.allocate();
    await Bun.sleep(20);
    await driver.stop();
    expect(server.stats().allocations).toBe(0);
    // The relay port is free again.
    const again = await Bun.udpSocket({ hostname: "127.0.0.1", port: relayedPort });
    again.close();
  });
});
