/**
 * The relay's libc data path (FIREZONE_RELAY_IO=ffi) on loopback: UDP GSO runs to one client,
 * the fallback when the kernel refuses GSO, malformed ChannelData counted and never forwarded,
 * and the socket-layer selection.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { libc, pinned } from "../../ffi/libc.ts";
import { RelayDriver, relayIoFromEnv } from "../../src/io/relay-driver.ts";
import type { FfiUdpSocket } from "../../src/io/udp-ffi.ts";
import { issueCredentials } from "../../src/relay/credentials.ts";
import { RelayServer } from "../../src/relay/server.ts";
import { channelData } from "./turn-test-client.ts";
import { errorCodeOf, UdpTurnClient, until } from "./udp-turn-client.ts";

const SECRET = "ffi-path-test-secret";
const SO_NO_CHECK = 11;
const cleanup: (() => unknown)[] = [];

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A relay on the FFI path with one allocation and channel 0x4000 bound to a loopback peer. */
async function relayWithChannel() {
  const min = 30000 + Math.floor(Math.random() * 100) * 100;
  const server = new RelayServer({ secret: SECRET, publicIpv4: "127.0.0.1", minPort: min, maxPort: min + 99 });
  const driver = await RelayDriver.start({ server, listenIpv4: "127.0.0.1", port: 0, io: "ffi" });
  cleanup.push(() => driver.stop());
  const creds = issueCredentials(SECRET, Math.floor(Date.now() / 1000) + 600);
  const client = await UdpTurnClient.open(driver.port, creds.username, creds.password);
  cleanup.push(() => client.close());
  const got: Uint8Array[] = [];
  const peer = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void got.push(new Uint8Array(d)), error: () => {} } });
  cleanup.push(() => peer.close());
  const { relayedPort } = await client.allocate();
  expect(errorCodeOf(await client.bind(0x4000, peer.port))).toBe(0);
  await until(() => server.stats().allocations === 1, "allocation");
  return { server, driver, client, peer, got, relayedPort };
}

/** The driver's listening FfiUdpSocket (white-box: the only way to make the kernel refuse GSO). */
function listenSocket(driver: RelayDriver): FfiUdpSocket {
  return (driver as unknown as { ffi: { listen4: { socket: FfiUdpSocket } } }).ffi.listen4.socket;
}

function datagram(i: number, size: number): Uint8Array {
  const d = new Uint8Array(size);
  for (let k = 0; k < size; k++) d[k] = (i * 7 + k) & 0xff;
  return d;
}

describe("FFI relay path", () => {
  test("a burst of same-size datagrams to one client leaves as GSO runs and arrives intact", async () => {
    const { driver, client, peer, relayedPort } = await relayWithChannel();
    // Sent before this thread yields, so the relay reads them as one batch.
    for (let i = 0; i < 40; i++) peer.send(datagram(i, 1200), relayedPort, "127.0.0.1");
    await until(() => client.data.length === 40, `40 ChannelData at the client (got ${client.data.length})`);
    for (const [i, d] of client.data.entries()) {
      expect([d[0], d[1], (d[2]! << 8) | d[3]!]).toEqual([0x40, 0x00, 1200]);
      expect(d.subarray(4)).toEqual(datagram(i, 1200));
    }
    expect(driver.ffiStats()!.gsoSegments).toBeGreaterThanOrEqual(2);
  });

  test("GSO refused by the kernel (SO_NO_CHECK): the relay falls back and loses nothing", async () => {
    const { server, driver, client, peer, relayedPort } = await relayWithChannel();
    const sock = listenSocket(driver);
    const one = pinned(4);
    new DataView(one.buffer).setInt32(0, 1, true);
    expect(libc.setsockopt(sock.pollFd, 1, SO_NO_CHECK, one, 4)).toBe(0);
    expect(sock.gsoEnabled).toBe(true);
    for (let i = 0; i < 40; i++) peer.send(datagram(i, 1200), relayedPort, "127.0.0.1");
    await until(() => client.data.length === 40, `40 ChannelData at the client (got ${client.data.length})`);
    for (const [i, d] of client.data.entries()) expect(d.subarray(4)).toEqual(datagram(i, 1200));
    expect(sock.gsoEnabled).toBe(false);
    expect(server.counters.totalDrops).toBe(0);
  });

  test("ChannelData shorter than its length field is dropped (counted), never forwarded with stale bytes", async () => {
    const { server, client, got } = await relayWithChannel();
    // A full-size datagram first leaves 1200 bytes in the receive slot the short one reuses.
    client.sendRaw(channelData(0x4000, datagram(1, 1200)));
    await until(() => got.length === 1, "the well-formed datagram");
    const short = channelData(0x4000, datagram(2, 1200)).subarray(0, 104);
    client.sendRaw(short);
    await until(() => server.counters.drops["malformed-channel-data"] === 1, "the short datagram to be dropped");
    // Trailing padding past the length is fine (RFC 8656 §12.5): only `length` bytes go on.
    const padded = new Uint8Array(4 + 12 + 3);
    padded.set(channelData(0x4000, datagram(3, 12)));
    client.sendRaw(padded);
    await until(() => got.length === 2, "the padded datagram");
    expect(got[1]).toEqual(datagram(3, 12));
    expect(got[0]).toEqual(datagram(1, 1200));
  });

  test("datagrams far above the MTU (9000 and 60000 bytes) pass whole both ways", async () => {
    const { client, peer, got, relayedPort } = await relayWithChannel();
    for (const size of [9000, 60000]) {
      client.sendRaw(channelData(0x4000, datagram(size, size)));
      peer.send(datagram(size + 1, size), relayedPort, "127.0.0.1");
    }
    await until(() => got.length === 2 && client.data.length === 2, "the large datagrams");
    expect(got).toEqual([datagram(9000, 9000), datagram(60000, 60000)]);
    expect(client.data.map((d) => d.subarray(4))).toEqual([datagram(9001, 9000), datagram(60001, 60000)]);
  });

  test("STUN still works on the FFI path: a refresh after data is answered", async () => {
    const { client, got } = await relayWithChannel();
    client.sendRaw(channelData(0x4000, datagram(4, 100)));
    await until(() => got.length === 1, "data");
    expect(errorCodeOf(await client.refresh())).toBe(0);
  });
});

test("FIREZONE_RELAY_IO selects the socket layer; anything else is refused", () => {
  expect(relayIoFromEnv({})).toBeUndefined();
  expect(relayIoFromEnv({ FIREZONE_RELAY_IO: "" })).toBeUndefined();
  expect(relayIoFromEnv({ FIREZONE_RELAY_IO: "bun" })).toBe("bun");
  expect(relayIoFromEnv({ FIREZONE_RELAY_IO: "ffi" })).toBe("ffi");
  expect(() => relayIoFromEnv({ FIREZONE_RELAY_IO: "io_uring" })).toThrow(/FIREZONE_RELAY_IO/);
});
