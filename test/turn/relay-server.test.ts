/**
 * Our TURN client against our relay's sans-IO core (src/relay/server.ts), in virtual time, with
 * Firezone credentials: allocate dual-stack, bind channels, data both ways, refresh, and the 437
 * path when the relay lost the allocation.
 */
import { expect, test } from "bun:test";
import { RelayServer } from "../../src/relay/server.ts";
import { issueCredentials } from "../../src/relay/credentials.ts";
import { SeededRandom } from "../../src/relay/random-source.ts";
import { seededRandom, type SocketAddress } from "../../src/stun/index.ts";
import { Allocation, type AllocationEvent } from "../../src/turn/index.ts";

const SECRET = "4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab";
const RELAY: SocketAddress = { ip: "192.0.2.1", port: 3478 };
const LOCAL: SocketAddress = { ip: "10.0.0.2", port: 52625 };
const PEER: SocketAddress = { ip: "198.51.100.7", port: 40000 };
const PEER6: SocketAddress = { ip: "2001:db8:99::7", port: 40000 };
const UNIX0 = 1_700_000_000_000;
const T0 = 5_000;

function setup() {
  const relay = new RelayServer({ secret: SECRET, publicIpv4: RELAY.ip, publicIpv6: "2001:db8::1", random: new SeededRandom(9) });
  relay.setUnixTime(UNIX0, T0);
  const cred = issueCredentials(SECRET, UNIX0 / 1000 + 3600, "n23JJ2wKKtt30oXi");
  const client = new Allocation({ server: { v4: RELAY }, username: cred.username, password: cred.password, now: T0, random: seededRandom(5) });
  const events: AllocationEvent[] = [];
  /** Moves control traffic both ways until quiet; returns ChannelData the client sent, unrouted. */
  const pump = (now: number) => {
    for (let guard = 0; guard < 100; guard++) {
      let moved = false;
      for (let t = client.pollTransmit(); t; t = client.pollTransmit()) {
        moved = true;
        relay.handleClientPacket(LOCAL.ip, LOCAL.port, t.payload, now);
      }
      for (let r = relay.pollTransmit(); r; r = relay.pollTransmit()) {
        moved = true;
        expect(r.to).toEqual(LOCAL);
        client.handleInput(RELAY, LOCAL, r.bytes, now);
      }
      for (let e = client.pollEvent(); e; e = client.pollEvent()) events.push(e);
      for (let e = relay.pollEvent(); e; e = relay.pollEvent());
      if (!moved) return;
    }
  };
  return { relay, client, events, pump };
}

test("allocate dual-stack on our relay, bind channels, ChannelData both ways", () => {
  const { relay, client, events, pump } = setup();
  pump(T0);
  const relayed = events.filter((e) => e.type === "new-candidate" && e.candidate.kind === "relay");
  expect(relayed.length).toBe(2);
  const r4 = client.relayedAddress(4)!;
  const r6 = client.relayedAddress(6)!;
  expect(r4.ip).toBe(RELAY.ip);
  expect(r6.ip).toBe("2001:db8::1");
  expect(r6.port).toBe(r4.port); // one port for both families
  expect(client.counters["drop:bad-message-integrity"]).toBeUndefined();

  client.bindChannel(PEER, T0);
  client.bindChannel(PEER6, T0);
  pump(T0);
  expect(client.isChannelBound(PEER, T0)).toBe(true);
  expect(client.isChannelBound(PEER6, T0)).toBe(true);

  // Client → peer through the relay.
  const buf = new Uint8Array(64);
  buf.set([7, 7, 7], 4);
  const dst = client.encodeChannelData(PEER6, buf, 4, 3, T0);
  expect(dst).toEqual(RELAY);
  const ch = relay.handleClientPacket(LOCAL.ip, LOCAL.port, buf.subarray(0, 7), T0);
  expect(ch).not.toBeNull();
  expect({ ip: ch!.peerIp, port: ch!.peerPort }).toEqual(PEER6);
  expect(relay.routedLength).toBe(3);

  // Peer → client: the relay names the channel; the driver frames it as ChannelData.
  const back = relay.handlePeerPacket(r4.port, PEER.ip, PEER.port, 2);
  expect(back).not.toBeNull();
  const frame = new Uint8Array([back!.number >> 8, back!.number & 0xff, 0, 2, 0xaa, 0xbb]);
  const r = client.handleInput(RELAY, LOCAL, frame, T0);
  expect(r.kind).toBe("channel-data");
  if (r.kind === "channel-data") {
    expect(r.peer).toEqual(PEER);
    expect(r.relayed).toEqual(r4);
    expect(Array.from(frame.subarray(r.payloadOffset, r.payloadOffset + r.payloadLength))).toEqual([0xaa, 0xbb]);
  }
});

test("refreshes keep the allocation alive on our relay for an hour of virtual time", () => {
  const { relay, client, events, pump } = setup();
  pump(T0);
  client.bindChannel(PEER, T0);
  pump(T0);
  let now = T0;
  while (now < T0 + 3_600_000) {
    const t = client.pollTimeout()!;
    const rt = relay.pollTimeout();
    now = Math.min(t.at, rt?.at ?? Infinity);
    relay.handleTimeout(now);
    client.handleTimeout(now);
    pump(now);
    // Keep data flowing from the peer so the channel is refreshed too.
    const ch = relay.handlePeerPacket(client.relayedAddress(4)!.port, PEER.ip, PEER.port, 0);
    if (ch) client.handleInput(RELAY, LOCAL, new Uint8Array([ch.number >> 8, ch.number & 0xff, 0, 0]), now);
  }
  expect(client.hasAllocation()).toBe(true);
  expect(client.isGone()).toBe(false);
  expect(client.isChannelBound(PEER, now)).toBe(true);
  expect(events.filter((e) => e.type !== "new-candidate")).toEqual([]);
  expect(relay.stats().allocations).toBe(1);
});

test("the relay forgot us (restart): 437 on REFRESH makes a new allocation", () => {
  const { relay, client, events, pump } = setup();
  pump(T0);
  relay.shutdown();
  client.refresh(T0 + 10);
  pump(T0 + 10);
  const kinds = events.map((e) => (e.type === "relay-gone" ? e.type : `${e.type}:${e.candidate.kind}`));
  expect(kinds.filter((k) => k === "invalidated-candidate:relay").length).toBe(2);
  expect(client.hasAllocation()).toBe(true);
  expect(relay.stats().allocations).toBe(1);
});
