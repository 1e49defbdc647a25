import { describe, expect, test } from "bun:test";
import {
  ATTR_DONT_FRAGMENT,
  ATTR_EVEN_PORT,
  ATTR_LIFETIME,
  ATTR_RESERVATION_TOKEN,
  ATTR_SOFTWARE,
  METHOD_ALLOCATE,
  METHOD_BINDING,
  METHOD_REFRESH,
  MessageBuilder,
  TRANSPORT_UDP,
  getLifetime,
  getNonce,
  getRealm,
  getUnknownAttributes,
  getXorMappedAddress,
  getXorRelayedAddresses,
  parseMessage,
} from "../../src/stun/index.ts";
import { CHANNEL_REBIND_TIMEOUT_MS } from "../../src/relay/constants.ts";
import { issueCredentials } from "../../src/relay/credentials.ts";
import { SeededRandom } from "../../src/relay/random-source.ts";
import { RelayServer, type RelayEvent } from "../../src/relay/server.ts";
import { hexFixture } from "../support/fixtures.ts";
import { channelData, errorCode, TestClient } from "./turn-test-client.ts";

const SECRET = "4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab";
const UNIX_START_MS = 1_700_000_000_000;
const S = 1000;

function makeServer(opts: Partial<ConstructorParameters<typeof RelayServer>[0]> = {}): RelayServer {
  const server = new RelayServer({
    secret: SECRET,
    publicIpv4: "203.0.113.1",
    publicIpv6: "2001:db8::1",
    minPort: 50000,
    maxPort: 50999,
    random: new SeededRandom(42),
    ...opts,
  });
  server.setUnixTime(UNIX_START_MS, 0);
  return server;
}

let salt = 0;
function client(server: RelayServer, ip = "198.51.100.7", port = 40000, validForS = 86400): TestClient {
  const creds = issueCredentials(SECRET, UNIX_START_MS / 1000 + validForS, `salt${salt++}`);
  return new TestClient(server, ip, port, creds.username, creds.password);
}

function events(server: RelayServer): RelayEvent[] {
  const out: RelayEvent[] = [];
  for (let e = server.pollEvent(); e; e = server.pollEvent()) out.push(e);
  return out;
}

function relayedPort(server: RelayServer, c: TestClient): number {
  return server.allocationFor(c.ip, c.port)!.port;
}

describe("BINDING", () => {
  test("answers Firezone's minimal binding request with the client's address, unauthenticated", () => {
    const server = makeServer();
    const c = client(server);
    const [answer] = c.sendRaw(hexFixture("stun-binding-request-minimal.hex"), 0);
    expect(answer!.method).toBe(METHOD_BINDING);
    expect(answer!.cls).toBe("success");
    expect(Buffer.from(answer!.transactionId).toString("hex")).toBe("0123456789abcdef01234567");
    expect(getXorMappedAddress(answer!)).toEqual({ ip: "198.51.100.7", port: 40000 });
    expect(answer!.has(ATTR_SOFTWARE)).toBe(true);
  });

  test("IPv6 clients see their IPv6 address", () => {
    const server = makeServer();
    const c = client(server, "2001:db8:5::9", 1234);
    const answer = c.request(METHOD_BINDING, 0, undefined, { auth: false });
    expect(getXorMappedAddress(answer)).toEqual({ ip: "2001:db8:5::9", port: 1234 });
  });
});

describe("ALLOCATE and authentication", () => {
  test("401 with realm and nonce first, then a signed success with relayed and mapped addresses", () => {
    const server = makeServer();
    const c = client(server);
    const challenge = c.request(METHOD_ALLOCATE, 0, (b) => b.addRequestedTransport(TRANSPORT_UDP), { auth: false });
    expect(errorCode(challenge)).toBe(401);
    expect(getRealm(challenge)).toBe("firezone");
    expect(getNonce(challenge)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const ok = c.allocate(0);
    expect(ok.cls).toBe("success");
    expect(c.verifies(ok)).toBe(true);
    const relayed = getXorRelayedAddresses(ok) as { ip: string; port: number }[];
    expect(relayed).toHaveLength(1);
    expect(relayed[0]!.ip).toBe("203.0.113.1");
    expect(relayed[0]!.port).toBeGreaterThanOrEqual(50000);
    expect(relayed[0]!.port).toBeLessThanOrEqual(50999);
    expect(getXorMappedAddress(ok)).toEqual({ ip: "198.51.100.7", port: 40000 });
    expect(getLifetime(ok)).toBe(600);
    expect(events(server)).toEqual([
      { type: "allocation-created", port: relayed[0]!.port, ipv4: true, ipv6: false, client: { ip: "198.51.100.7", port: 40000 } },
    ]);
  });

  test("rejected credentials: bad password, expired, unknown realm, malformed username, other secret", () => {
    const server = makeServer();
    const cases: [string, (c: TestClient) => void][] = [
      ["bad password", (c) => (c.password = "not-the-password")],
      ["expired", () => {}],
      ["unknown realm", (c) => (c.realm = "example.org")],
      ["malformed username", (c) => (c.username = "no-colon-here")],
      ["other secret", (c) => (c.password = issueCredentials("other", Number(c.username.split(":")[0]), c.username.split(":")[1]).password)],
    ];
    let port = 41000;
    for (const [name, spoil] of cases) {
      const c = name === "expired" ? client(server, "198.51.100.7", port++, -1) : client(server, "198.51.100.7", port++);
      spoil(c);
      const answer = c.allocate(0);
      expect({ name, code: errorCode(answer) }).toEqual({ name, code: 401 });
      expect(getRealm(answer)).toBe("firezone");
    }
    expect(server.stats().allocations).toBe(0);
    expect(events(server)).toEqual([]);
    expect(server.counters.errors["401"]).toBe(10); // each case: the challenge, then the refused retry
  });

  test("a credential that expires while the allocation lives stops further requests", () => {
    const server = makeServer();
    const c = client(server, "198.51.100.7", 40000, 700);
    expect(c.allocate(0).cls).toBe("success");
    expect(c.refresh(300 * S).cls).toBe("success");
    const late = c.refresh(701 * S);
    expect(errorCode(late)).toBe(401);
    // The 401 for an expired (but well-formed) username is still signed with its key.
    expect(c.verifies(late)).toBe(true);
  });

  test("nonces: one per client socket, reused while valid, 438 for a foreign nonce, rotated after 10 000 uses", () => {
    const server = makeServer();
    const a = client(server, "198.51.100.7", 40000);
    const b = client(server, "198.51.100.7", 40001);
    a.request(METHOD_REFRESH, 0, undefined, { auth: false });
    const first = a.nonce!;
    a.request(METHOD_REFRESH, 0, undefined, { auth: false });
    expect(a.nonce).toBe(first);
    b.request(METHOD_REFRESH, 0, undefined, { auth: false });
    expect(b.nonce).not.toBe(first);
    // b presenting a's nonce: stale, and b is handed its own again.
    const bOwn = b.nonce!;
    b.nonce = first;
    const stale = b.request(METHOD_REFRESH, 0);
    expect(errorCode(stale)).toBe(438);
    expect(b.nonce).toBe(bOwn);

    expect(a.allocate(0).cls).toBe("success");
    // allocate used the nonce once; use up the rest with refreshes.
    for (let i = 1; i < 10_000; i++) expect(a.request(METHOD_REFRESH, 0).cls).toBe("success");
    const exhausted = a.request(METHOD_REFRESH, 0);
    expect(errorCode(exhausted)).toBe(438);
    expect(a.nonce).not.toBe(first);
    expect(a.request(METHOD_REFRESH, 0).cls).toBe("success");
  });

  test("420 with UNKNOWN-ATTRIBUTES for unknown comprehension-required attributes; optional ones are ignored", () => {
    const server = makeServer();
    const c = client(server);
    const answer = c.authed(METHOD_ALLOCATE, 0, (b) => b.addRequestedTransport(TRANSPORT_UDP).addU32(0x0031, 1).addFlag(ATTR_DONT_FRAGMENT));
    expect(errorCode(answer)).toBe(420);
    expect(getUnknownAttributes(answer)).toEqual([0x0031, ATTR_DONT_FRAGMENT]);
    const reservation = c.authed(METHOD_ALLOCATE, 0, (b) => b.addRequestedTransport(TRANSPORT_UDP).addU64(ATTR_RESERVATION_TOKEN, 1n));
    expect(getUnknownAttributes(reservation)).toEqual([ATTR_RESERVATION_TOKEN]);
    const binding = c.request(METHOD_BINDING, 0, (b) => b.addU32(0x0033, 5), { auth: false });
    expect(errorCode(binding)).toBe(420);
    const fine = c.authed(METHOD_ALLOCATE, 0, (b) => b.addRequestedTransport(TRANSPORT_UDP).addU32(0x8031, 1));
    expect(fine.cls).toBe("success");
  });

  test("EVEN-PORT: an even port without the R bit, 508 with it (we keep no reservations)", () => {
    const server = makeServer();
    for (let i = 0; i < 20; i++) {
      const c = client(server, "198.51.100.7", 2000 + i);
      const ok = c.allocate(0, (b) => b.addBytes(ATTR_EVEN_PORT, new Uint8Array([0])));
      expect(ok.cls).toBe("success");
      expect((getXorRelayedAddresses(ok) as { port: number }[])[0]!.port % 2).toBe(0);
    }
    const r = client(server, "198.51.100.7", 3000).allocate(0, (b) => b.addBytes(ATTR_EVEN_PORT, new Uint8Array([0x80])));
    expect(errorCode(r)).toBe(508);
  });

  test("REQUESTED-TRANSPORT: missing → 400, TCP → 442", () => {
    const server = makeServer();
    const c = client(server);
    expect(errorCode(c.authed(METHOD_ALLOCATE, 0))).toBe(400);
    expect(errorCode(c.authed(METHOD_ALLOCATE, 0, (b) => b.addRequestedTransport(6)))).toBe(442);
    expect(server.stats().allocations).toBe(0);
  });
});

describe("allocation lifecycle", () => {
  test("the same 5-tuple gets 437; a retransmitted Allocate gets the same success again", () => {
    const server = makeServer();
    const c = client(server);
    c.request(METHOD_ALLOCATE, 0, (b) => b.addRequestedTransport(TRANSPORT_UDP), { auth: false });
    const txid = new Uint8Array(12).fill(9);
    const ok = c.request(METHOD_ALLOCATE, 0, (b) => b.addRequestedTransport(TRANSPORT_UDP), { txid });
    expect(ok.cls).toBe("success");
    const again = c.request(METHOD_ALLOCATE, 0, (b) => b.addRequestedTransport(TRANSPORT_UDP), { txid });
    expect(Buffer.from(again.bytes).equals(Buffer.from(ok.bytes))).toBe(true);
    const mismatch = c.allocate(1 * S);
    expect(errorCode(mismatch)).toBe(437);
    expect(c.verifies(mismatch)).toBe(true);
    expect(server.stats().allocations).toBe(1);
  });

  test("expiry at the lifetime, refresh extends it, LIFETIME is clamped to [600, 3600] s", () => {
    const server = makeServer();
    const c = client(server);
    c.allocate(0);
    const port = relayedPort(server, c);
    events(server);
    expect(server.pollTimeout()).toEqual({ at: 600 * S, reason: "allocation-or-channel-expiry" });
    server.handleTimeout(600 * S - 1);
    expect(server.stats().allocations).toBe(1);
    expect(getLifetime(c.refresh(500 * S, 30))).toBe(600); // below default → default
    server.handleTimeout(600 * S);
    expect(server.stats().allocations).toBe(1);
    expect(getLifetime(c.refresh(1000 * S, 999_999))).toBe(3600); // above max → max
    server.handleTimeout(1000 * S + 3600 * S - 1);
    expect(server.stats().allocations).toBe(1);
    server.handleTimeout(1000 * S + 3600 * S);
    expect(server.stats().allocations).toBe(0);
    expect(events(server)).toEqual([{ type: "allocation-freed", port, ipv4: true, ipv6: false }]);
  });

  test("after expiry a refresh gets 437 and the client re-allocates on the same 5-tuple", () => {
    const server = makeServer();
    const c = client(server);
    c.allocate(0);
    server.handleTimeout(600 * S);
    expect(errorCode(c.refresh(601 * S))).toBe(437);
    const again = c.allocate(602 * S);
    expect(again.cls).toBe("success");
    expect(server.stats().allocations).toBe(1);
  });

  test("REFRESH with LIFETIME 0 deletes the allocation", () => {
    const server = makeServer();
    const c = client(server);
    c.allocate(0);
    const answer = c.refresh(5 * S, 0);
    expect(answer.cls).toBe("success");
    expect(getLifetime(answer)).toBe(0);
    expect(answer.has(ATTR_LIFETIME)).toBe(true);
    expect(server.stats().allocations).toBe(0);
    expect(server.stats().portsInUse).toBe(0);
  });

  test("a new allocation for the same username replaces the old one (roaming)", () => {
    const server = makeServer();
    const before = client(server, "198.51.100.7", 40000);
    before.allocate(0);
    const oldPort = relayedPort(server, before);
    events(server);
    const after = new TestClient(server, "198.51.100.99", 51111, before.username, before.password);
    expect(after.allocate(10 * S).cls).toBe("success");
    const evs = events(server);
    expect(evs[0]).toEqual({ type: "allocation-freed", port: oldPort, ipv4: true, ipv6: false });
    expect(evs[1]!.type).toBe("allocation-created");
    expect(server.stats().allocations).toBe(1);
    expect(errorCode(before.refresh(11 * S))).toBe(437);
  });

  test("per-host quota (486) and port exhaustion (508)", () => {
    const server = makeServer({ maxAllocationsPerIp: 2, minPort: 60000, maxPort: 60002 });
    expect(client(server, "198.51.100.7", 1).allocate(0).cls).toBe("success");
    expect(client(server, "198.51.100.7", 2).allocate(0).cls).toBe("success");
    expect(errorCode(client(server, "198.51.100.7", 3).allocate(0))).toBe(486);
    expect(client(server, "198.51.100.8", 1).allocate(0).cls).toBe("success");
    expect(errorCode(client(server, "198.51.100.9", 1).allocate(0))).toBe(508);
    const ports = events(server).map((e) => e.port).sort();
    expect(ports).toEqual([60000, 60001, 60002]);
  });

  test("a port the driver could not open frees the allocation and is avoided afterwards", () => {
    const server = makeServer({ minPort: 60000, maxPort: 60001 });
    const c = client(server);
    c.allocate(0);
    const port = relayedPort(server, c);
    events(server);
    server.allocationFailed(port);
    expect(events(server)).toEqual([{ type: "allocation-freed", port, ipv4: true, ipv6: false }]);
    expect(errorCode(c.refresh(S))).toBe(437);
    c.allocate(2 * S);
    expect(relayedPort(server, c)).not.toBe(port);
  });
});

describe("address families", () => {
  test("ADDITIONAL-ADDRESS-FAMILY=IPv6 gives IPv4 and IPv6 relayed addresses on one port", () => {
    const server = makeServer();
    const c = client(server);
    const ok = c.allocateDual(0);
    const relayed = getXorRelayedAddresses(ok) as { ip: string; port: number }[];
    expect(relayed.map((r) => r.ip)).toEqual(["203.0.113.1", "2001:db8::1"]);
    expect(relayed[0]!.port).toBe(relayed[1]!.port);
    expect(events(server)[0]).toMatchObject({ type: "allocation-created", ipv4: true, ipv6: true });
  });

  test("coturn 4.6's draft ADDITIONAL-ADDRESS-FAMILY (0x8032) with IPv6 is read as the RFC attribute", () => {
    const server = makeServer();
    const ok = client(server).allocate(0, (b) => b.addBytes(0x8032, new Uint8Array([2, 0, 0, 0])));
    expect((getXorRelayedAddresses(ok) as { ip: string }[]).map((r) => r.ip)).toEqual(["203.0.113.1", "2001:db8::1"]);
    const odd = client(server, "198.51.100.7", 2).allocate(0, (b) => b.addBytes(0x8032, new Uint8Array([2, 0, 0, 1])));
    expect((getXorRelayedAddresses(odd) as { ip: string }[]).map((r) => r.ip)).toEqual(["203.0.113.1"]);
  });

  test("REQUESTED-ADDRESS-FAMILY=IPv6 gives only IPv6", () => {
    const server = makeServer();
    const ok = client(server).allocateV6(0);
    expect((getXorRelayedAddresses(ok) as { ip: string }[]).map((r) => r.ip)).toEqual(["2001:db8::1"]);
  });

  test("both family attributes → 400; IPv6 on an IPv4-only relay → 440; dual there → IPv4 only", () => {
    const server = makeServer({ publicIpv6: undefined });
    const c = client(server);
    const both = c.allocate(0, (b) => b.addAddressFamily(0x0017, 6).addAddressFamily(0x8000, 6));
    expect(errorCode(both)).toBe(400);
    expect(errorCode(client(server, "198.51.100.7", 2).allocateV6(0))).toBe(440);
    const dual = client(server, "198.51.100.7", 3).allocateDual(0);
    expect((getXorRelayedAddresses(dual) as { ip: string }[]).map((r) => r.ip)).toEqual(["203.0.113.1"]);
  });

  test("binding an IPv6 peer on an IPv4-only allocation → 443", () => {
    const server = makeServer();
    const c = client(server);
    c.allocate(0);
    expect(errorCode(c.bind(0, 0x4000, "2001:db8:9::1", 9))).toBe(443);
    expect(c.bind(0, 0x4000, "192.0.2.5", 9).cls).toBe("success");
  });
});

describe("channels and data", () => {
  function allocatedWithChannel() {
    const server = makeServer();
    const c = client(server);
    c.allocate(0);
    expect(c.bind(0, 0x4001, "192.0.2.5", 7000).cls).toBe("success");
    return { server, c, port: relayedPort(server, c) };
  }

  test("ChannelData goes to the bound peer and peer data comes back on the channel", () => {
    const { server, c, port } = allocatedWithChannel();
    const payload = new Uint8Array(100).fill(7);
    const ch = server.handleClientPacket(c.ip, c.port, channelData(0x4001, payload), 1);
    expect(ch).not.toBeNull();
    expect([ch!.peerIp, ch!.peerPort, server.routedOffset, server.routedLength]).toEqual(["192.0.2.5", 7000, 4, 100]);
    expect(server.channelOwner.port).toBe(port);

    const back = server.handlePeerPacket(port, "192.0.2.5", 7000, 55);
    expect(back!.number).toBe(0x4001);
    expect(server.channelOwner.clientIp).toBe(c.ip);
    expect(server.channelOwner.clientPort).toBe(c.port);
    expect(server.routedLength).toBe(55);
    const k = server.counters;
    expect([k.clientToPeerPackets, k.clientToPeerBytes, k.peerToClientPackets, k.peerToClientBytes]).toEqual([1, 100, 1, 55]);
  });

  test("Firezone's proptest ChannelData (channel 0x565e, 40 bytes) is relayed once bound", () => {
    const server = makeServer();
    const c = client(server);
    c.allocate(0);
    const msg = hexFixture("stun-channel-data-proptest-regression.hex");
    expect(server.handleClientPacket(c.ip, c.port, msg, 0)).toBeNull();
    expect(server.counters.drops["channel-data-no-channel"]).toBe(1);
    expect(c.bind(0, 0x565e, "192.0.2.1", 4444).cls).toBe("success");
    expect(server.handleClientPacket(c.ip, c.port, msg, 0)?.peerPort).toBe(4444);
    expect(server.routedLength).toBe(40);
  });

  test("Firezone's eBPF-router ChannelData (0x4001 carrying a 64-byte STUN message) and padded ChannelData", () => {
    const server = makeServer();
    const c = client(server);
    c.allocate(0);
    expect(c.bind(0, 0x4001, "172.28.0.105", 59385).cls).toBe("success");
    const msg = hexFixture("stun-channel-data-binding-response.hex");
    const ch = server.handleClientPacket(c.ip, c.port, msg, 0);
    expect([ch?.peerIp, ch?.peerPort, server.routedOffset, server.routedLength]).toEqual(["172.28.0.105", 59385, 4, 64]);
    // Over UDP the sender may pad to a multiple of 4; the length field still rules.
    const padded = new Uint8Array([0x40, 0x01, 0x00, 0x03, 7, 8, 9, 0]);
    expect(server.handleClientPacket(c.ip, c.port, padded, 0)).not.toBeNull();
    expect(server.routedLength).toBe(3);
  });

  test("never an open proxy: peer data without a channel, data without allocation or channel are dropped and counted", () => {
    const { server, c, port } = allocatedWithChannel();
    expect(server.handlePeerPacket(port, "192.0.2.6", 7000, 10)).toBeNull();
    expect(server.handlePeerPacket(port, "192.0.2.5", 7001, 10)).toBeNull();
    expect(server.handlePeerPacket(port + 1, "192.0.2.5", 7000, 10)).toBeNull();
    expect(server.handleClientPacket(c.ip, c.port, channelData(0x4002, new Uint8Array(4)), 0)).toBeNull();
    expect(server.handleClientPacket(c.ip, c.port + 1, channelData(0x4001, new Uint8Array(4)), 0)).toBeNull();
    expect(server.handleClientPacket(c.ip, c.port, new Uint8Array([0x40, 0x01, 0x00, 0x10, 1, 2]), 0)).toBeNull();
    expect(server.handleClientPacket(c.ip, c.port, new Uint8Array([0xff, 1, 2]), 0)).toBeNull();
    expect(server.handleClientPacket(c.ip, c.port, new Uint8Array(0), 0)).toBeNull();
    const d = server.counters.drops;
    expect(d["peer-data-no-channel"]).toBe(2);
    expect(d["peer-data-no-allocation"]).toBe(1);
    expect(d["channel-data-no-channel"]).toBe(1);
    expect(d["channel-data-no-allocation"]).toBe(1);
    expect(d["malformed-channel-data"]).toBe(1);
    expect(d["unknown-packet"]).toBe(2);
    expect(server.counters.clientToPeerPackets + server.counters.peerToClientPackets).toBe(0);
  });

  test("channel number range: 0x4000–0x7FFF accepted, others → 400", () => {
    const server = makeServer();
    const c = client(server);
    c.allocate(0);
    expect(errorCode(c.bind(0, 0x3fff, "192.0.2.5", 1))).toBe(400);
    expect(errorCode(c.bind(0, 0x8000, "192.0.2.5", 2))).toBe(400);
    expect(c.bind(0, 0x4000, "192.0.2.5", 3).cls).toBe("success");
    expect(c.bind(0, 0x7fff, "192.0.2.5", 4).cls).toBe("success");
  });

  test("a number belongs to one peer and a peer to one number; rebinding the same pair refreshes", () => {
    const { server, c } = allocatedWithChannel();
    expect(errorCode(c.bind(0, 0x4001, "192.0.2.5", 7001))).toBe(400);
    expect(errorCode(c.bind(0, 0x4002, "192.0.2.5", 7000))).toBe(400);
    expect(c.bind(500 * S, 0x4001, "192.0.2.5", 7000).cls).toBe("success");
    c.refresh(500 * S);
    server.handleTimeout(600 * S);
    expect(server.handleClientPacket(c.ip, c.port, channelData(0x4001, new Uint8Array(4)), 600 * S)).not.toBeNull();
  });

  test("expiry after 600 s drops data (counted); the rebind cooldown holds number and peer for 300 s more", () => {
    const { server, c, port } = allocatedWithChannel();
    c.refresh(0, 3600);
    server.handleTimeout(600 * S);
    expect(server.handleClientPacket(c.ip, c.port, channelData(0x4001, new Uint8Array(4)), 600 * S)).toBeNull();
    expect(server.handlePeerPacket(port, "192.0.2.5", 7000, 4)).toBeNull();
    expect(server.counters.drops["channel-data-unbound"]).toBe(1);
    expect(server.counters.drops["peer-data-no-channel"]).toBe(1);
    expect(server.stats().boundChannels).toBe(0);
    // During the cooldown neither the number nor the peer may move.
    expect(errorCode(c.bind(700 * S, 0x4001, "192.0.2.9", 1))).toBe(400);
    expect(errorCode(c.bind(700 * S, 0x4009, "192.0.2.5", 7000))).toBe(400);
    server.handleTimeout(600 * S + CHANNEL_REBIND_TIMEOUT_MS);
    expect(server.stats().channels).toBe(0);
    expect(c.bind(901 * S, 0x4001, "192.0.2.9", 1).cls).toBe("success");
  });

  test("rebinding the same pair during the cooldown revives the channel (as Firezone does)", () => {
    const { server, c, port } = allocatedWithChannel();
    c.refresh(0, 3600);
    server.handleTimeout(600 * S);
    expect(c.bind(650 * S, 0x4001, "192.0.2.5", 7000).cls).toBe("success");
    expect(server.handlePeerPacket(port, "192.0.2.5", 7000, 4)).not.toBeNull();
  });

  test("CreatePermission is accepted and opens nothing", () => {
    const server = makeServer();
    const c = client(server);
    c.allocate(0);
    const port = relayedPort(server, c);
    expect(c.createPermission(0, "192.0.2.77").cls).toBe("success");
    expect(server.handlePeerPacket(port, "192.0.2.77", 5000, 4)).toBeNull();
  });

  test("deleting an allocation takes its channels along", () => {
    const { server, c, port } = allocatedWithChannel();
    c.refresh(S, 0);
    expect(server.handlePeerPacket(port, "192.0.2.5", 7000, 4)).toBeNull();
    expect(server.handleClientPacket(c.ip, c.port, channelData(0x4001, new Uint8Array(4)), S)).toBeNull();
    expect(server.stats().channels).toBe(0);
  });
});

describe("junk", () => {
  test("responses, indications and broken STUN are counted drops, never answers or exceptions", () => {
    const server = makeServer();
    const c = client(server);
    const success = new MessageBuilder(METHOD_BINDING, "success", new Uint8Array(12)).finish();
    const indication = new MessageBuilder(0x006, "indication", new Uint8Array(12)).finish();
    if (!success.ok || !indication.ok) throw new Error("build");
    expect(c.sendRaw(new Uint8Array(success.bytes), 0)).toEqual([]);
    expect(c.sendRaw(new Uint8Array(indication.bytes), 0)).toEqual([]);
    expect(c.sendRaw(new Uint8Array([0, 1, 0, 4, 0x21, 0x12, 0xa4, 0x42, ...new Array(12).fill(0)]), 0)).toEqual([]);
    expect(server.counters.drops["not-a-request"]).toBe(2);
    expect(server.counters.drops["malformed-stun"]).toBe(1);
    server.handleClientPacket("198.51.100.7", 0, hexFixture("stun-binding-request-minimal.hex"), 0);
    expect(server.counters.drops["source-port-zero"]).toBe(1);
    expect(server.pollTransmit()).toBeUndefined();
  });

  test("100k mutated requests and ChannelData never throw and every outcome is an answer, a route or a counted drop", () => {
    const server = makeServer();
    const c = client(server);
    c.allocate(0);
    c.bind(0, 0x4001, "192.0.2.5", 7000);
    const seeds: Uint8Array[] = [];
    for (const m of [METHOD_ALLOCATE, METHOD_REFRESH, 0x009, METHOD_BINDING]) {
      const b = new MessageBuilder(m, "request", new Uint8Array(12).fill(3));
      b.addRequestedTransport(TRANSPORT_UDP).addChannelNumber(0x4001).addLifetime(60);
      b.addXorAddress(0x0012, { ip: "192.0.2.5", port: 7000 });
      b.addUsername(c.username).addRealm("firezone").addNonce(c.nonce!).addMessageIntegrity(c.key).addFingerprint();
      const built = b.finish();
      if (built.ok) seeds.push(new Uint8Array(built.bytes));
    }
    seeds.push(channelData(0x4001, new Uint8Array(64).fill(1)));
    const rnd = new SeededRandom(1234);
    let answered = 0;
    let routed = 0;
    const dropsBefore = server.counters.totalDrops;
    for (let i = 0; i < 100_000; i++) {
      const seed = seeds[rnd.u32() % seeds.length]!;
      const len = Math.max(0, seed.length + ((rnd.u32() % 9) - 4));
      const m = new Uint8Array(len);
      m.set(seed.subarray(0, Math.min(len, seed.length)));
      const flips = 1 + (rnd.u32() % 4);
      for (let f = 0; f < flips && len > 0; f++) m[rnd.u32() % len] = rnd.u32() & 0xff;
      if (server.handleClientPacket(c.ip, c.port + (rnd.u32() % 3), m, i) !== null) routed++;
      for (let t = server.pollTransmit(); t; t = server.pollTransmit()) {
        expect(parseMessage(new Uint8Array(t.bytes)).ok).toBe(true);
        answered++;
      }
    }
    const dropped = server.counters.totalDrops - dropsBefore;
    // A request is answered exactly once; everything else was routed or dropped with a reason.
    expect(answered + routed + dropped).toBe(100_000);
  });
});
