import { describe, expect, test } from "bun:test";
import { x25519GenerateKeyPair } from "../../src/crypto/index.ts";
import { MESSAGE_COOKIE_REPLY_SIZE, MESSAGE_RESPONSE_SIZE } from "../../src/wireguard/constants.ts";
import { Device } from "../../src/wireguard/device.ts";
import { readU32 } from "../../src/wireguard/messages.ts";
import { DropReason, TunnAction, type TunnResult } from "../../src/wireguard/result.ts";
import { Tunnel } from "../../src/wireguard/tunnel.ts";
import { copyOut, FakeTime, ipv4Packet } from "./pair.ts";

const text = (p: Uint8Array) => new TextDecoder().decode(p.subarray(20));

function setup(peers: number, handshakeRateLimit?: number) {
  const time = new FakeTime();
  const gwKeys = x25519GenerateKeyPair();
  const device = new Device<string>({ privateKey: gwKeys.privateKey, wallClock: time.wall, handshakeRateLimit });
  const clients: { id: string; tunnel: Tunnel }[] = [];
  for (let i = 0; i < peers; i++) {
    const k = x25519GenerateKeyPair();
    const psk = new Uint8Array(32).fill(i);
    const id = `client-${i}`;
    device.addPeer(id, { publicKey: k.publicKey, presharedKey: psk });
    clients.push({ id, tunnel: new Tunnel({ privateKey: k.privateKey, peerPublicKey: gwKeys.publicKey, presharedKey: psk, wallClock: time.wall }) });
  }
  return { time, device, clients, gwKeys, out: new Uint8Array(4096) };
}

/** Client → device → client until quiet; returns packets the device side decrypted (with peer). */
function exchange(s: ReturnType<typeof setup>, client: Tunnel, first: TunnResult): [string | undefined, string][] {
  const got: [string | undefined, string][] = [];
  let toDevice: Uint8Array[] = [];
  const collect = (r: TunnResult, into: Uint8Array[]) => {
    if (r.action === TunnAction.WriteToNetwork) into.push(copyOut(r));
  };
  collect(first, toDevice);
  for (let r = client.pollTransmit(s.time.now); r.action === TunnAction.WriteToNetwork; r = client.pollTransmit(s.time.now)) collect(r, toDevice);
  while (toDevice.length > 0) {
    const toClient: Uint8Array[] = [];
    for (const d of toDevice) {
      const r = s.device.decapsulate(d, s.out, s.time.now, "192.0.2.1", 1000);
      if (r.action === TunnAction.WriteToTunnelV4) got.push([s.device.lastPeer, text(copyOut(r))]);
      else collect(r, toClient);
      const t = s.device.lastPeer !== undefined ? s.device.peer(s.device.lastPeer)! : null;
      if (t) for (let q = t.pollTransmit(s.time.now); q.action === TunnAction.WriteToNetwork; q = t.pollTransmit(s.time.now)) collect(q, toClient);
    }
    toDevice = [];
    for (const d of toClient) {
      collect(client.decapsulate(d, s.out, s.time.now), toDevice);
      for (let r = client.pollTransmit(s.time.now); r.action === TunnAction.WriteToNetwork; r = client.pollTransmit(s.time.now)) collect(r, toDevice);
    }
  }
  return got;
}

describe("Device", () => {
  test("many peers behind one key: initiations found by static key, the rest by index", () => {
    const s = setup(40);
    for (const c of s.clients) {
      const got = exchange(s, c.tunnel, c.tunnel.encapsulate(ipv4Packet(`from ${c.id}`), s.out, s.time.now));
      expect(got).toEqual([[c.id, `from ${c.id}`]]);
    }
    // 40 sessions with 40 distinct receiver indices, each mapped to its tunnel.
    expect(s.device.indexTable.size).toBe(40);
    // The client's data confirmed each responder session, so every gateway tunnel can send.
    for (const c of s.clients) expect(s.device.peer(c.id)!.hasSession(s.time.now)).toBe(true);
  });

  test("the device answers through the right tunnel", () => {
    const s = setup(5);
    for (const c of s.clients) exchange(s, c.tunnel, c.tunnel.encapsulate(ipv4Packet("hi"), s.out, s.time.now));
    for (const c of s.clients) {
      const gw = s.device.peer(c.id)!;
      const r = gw.encapsulate(ipv4Packet(`to ${c.id}`), s.out, s.time.now);
      expect(r.action).toBe(TunnAction.WriteToNetwork);
      const d = c.tunnel.decapsulate(copyOut(r), s.out, s.time.now);
      expect(text(copyOut(d))).toBe(`to ${c.id}`);
    }
  });

  test("a handshake the device's side starts is completed by the response (receiver index at offset 8)", () => {
    const s = setup(3);
    const c = s.clients[1]!;
    const gw = s.device.peer(c.id)!;
    const init = gw.encapsulate(ipv4Packet("gateway first"), s.out, s.time.now);
    expect(init.action).toBe(TunnAction.WriteToNetwork);
    const response = c.tunnel.decapsulate(copyOut(init), s.out, s.time.now);
    expect(response.action).toBe(TunnAction.WriteToNetwork);
    const bytes = copyOut(response);
    expect(bytes.length).toBe(MESSAGE_RESPONSE_SIZE);
    const r = s.device.decapsulate(bytes, s.out, s.time.now, "192.0.2.1", 1000);
    expect(r.action === TunnAction.Dropped ? r.reason : undefined).toBeUndefined();
    expect(s.device.lastPeer).toBe(c.id);
    expect(gw.hasSession(s.time.now)).toBe(true);
  });

  test("unknown static key, unknown index and garbage are counted on the device", () => {
    const s = setup(1);
    const stranger = new Tunnel({ privateKey: x25519GenerateKeyPair().privateKey, peerPublicKey: s.gwKeys.publicKey, wallClock: s.time.wall });
    const init = copyOut(stranger.encapsulate(ipv4Packet("x"), s.out, s.time.now));
    expect(s.device.decapsulate(init, s.out, s.time.now).reason).toBe(DropReason.WrongPeer);
    expect(s.device.lastPeer).toBeUndefined();
    const transport = new Uint8Array(48);
    transport[0] = 4;
    expect(s.device.decapsulate(transport, s.out, s.time.now).reason).toBe(DropReason.UnknownReceiverIndex);
    expect(s.device.decapsulate(new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0]), s.out, s.time.now).reason).toBe(DropReason.UnknownType);
    expect(s.device.decapsulate(new Uint8Array(3), s.out, s.time.now).reason).toBe(DropReason.InvalidLength);
    expect(s.device.stats.dropsByReason()).toEqual({ WrongPeer: 1, UnknownReceiverIndex: 1, UnknownType: 1, InvalidLength: 1 });
  });

  test("under load the device answers initiations with cookie replies, then accepts MAC2", () => {
    const s = setup(1, 0);
    const c = s.clients[0].tunnel;
    const init = copyOut(c.encapsulate(ipv4Packet("x"), s.out, s.time.now));
    const reply = s.device.decapsulate(init, s.out, s.time.now, "198.51.100.1", 5000);
    expect(reply.length).toBe(MESSAGE_COOKIE_REPLY_SIZE);
    expect(s.device.stats.cookieRepliesSent).toBe(1);
    expect(c.decapsulate(copyOut(reply), s.out, s.time.now).action).toBe(TunnAction.Done);
    s.time.now = c.pollTimeout()!.at;
    const retry = copyOut(c.handleTimeout(s.time.now));
    const resp = s.device.decapsulate(retry, s.out, s.time.now, "198.51.100.1", 5000);
    expect(resp.length).toBe(MESSAGE_RESPONSE_SIZE);
    expect(s.device.lastPeer).toBe("client-0");
  });

  test("removing a peer closes its tunnel and frees its indices; re-adding a key replaces the peer", () => {
    const s = setup(2);
    for (const c of s.clients) exchange(s, c.tunnel, c.tunnel.encapsulate(ipv4Packet("hi"), s.out, s.time.now));
    expect(s.device.indexTable.size).toBe(2);
    const gw0 = s.device.peer("client-0")!;
    expect(s.device.removePeer("client-0")).toBe(true);
    expect(s.device.indexTable.size).toBe(1);
    expect(gw0.encapsulate(ipv4Packet("x"), s.out, s.time.now).reason).toBe(DropReason.Closed);
    const pk = s.device.peer("client-1")!.peer.peerPublicKey;
    s.device.addPeer("renamed", { publicKey: pk });
    expect(s.device.peer("client-1")).toBeUndefined();
    expect(s.device.peerByPublicKey(pk)).toBe(s.device.peer("renamed"));
    expect(s.device.size).toBe(1);
  });

  test("receiver indices are unique across peers", () => {
    const s = setup(30);
    const seen = new Set<number>();
    for (const c of s.clients) {
      const init = copyOut(c.tunnel.encapsulate(ipv4Packet("x"), s.out, s.time.now));
      const resp = s.device.decapsulate(init, s.out, s.time.now);
      const idx = readU32(resp.buf, 4);
      expect(seen.has(idx)).toBe(false);
      seen.add(idx);
      expect(s.device.indexTable.get(idx)).toBe(s.device.peer(c.id));
    }
  });
});
