/**
 * `decapsulateAt(buf, off, len, …)` against `decapsulate(datagram, …)`: the same conversation is
 * run twice with the same static keys and seeded receiver indices, once through each form, and
 * every result (action, drop reason, length, where it points, the decrypted bytes, the indices in
 * handshake answers) and every counter must match. Then garbage and wrong ranges at non-zero
 * offsets, and in-place decryption in the caller's buffer.
 */
import { describe, expect, test } from "bun:test";
import { x25519GenerateKeyPair } from "../../src/crypto/index.ts";
import { Device } from "../../src/wireguard/device.ts";
import { IndexTable } from "../../src/wireguard/index-table.ts";
import { readU32 } from "../../src/wireguard/messages.ts";
import { RateLimiter } from "../../src/wireguard/rate-limiter.ts";
import { DropReason, TunnAction, type TunnResult } from "../../src/wireguard/result.ts";
import { Tunnel } from "../../src/wireguard/tunnel.ts";
import { xorshift32 } from "../support/prng.ts";
import { copyOut, FakeTime, ipv4Packet, seededRandom } from "./pair.ts";

const keysA = x25519GenerateKeyPair();
const keysB = x25519GenerateKeyPair();
const psk = new Uint8Array(32).fill(7);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const snapshot = (s: Tunnel["stats"]) => ({ ...JSON.parse(JSON.stringify(s)), drops: s.dropsByReason(), dropsTotal: s.dropsTotal });

/** msg at buf[off, off+len) with `tail` bytes after it; everything else is garbage. */
function embed(msg: Uint8Array, off: number, tail = 9): Uint8Array {
  const buf = new Uint8Array(off + msg.length + tail);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 37 + 11) & 0xff;
  buf.set(msg, off);
  return buf;
}

interface Receiver {
  decapsulate(d: Uint8Array, out: Uint8Array, now: number, a?: string, p?: number): TunnResult;
  decapsulateAt(b: Uint8Array, off: number, len: number, out: Uint8Array, now: number, a?: string, p?: number): TunnResult;
}

/** How one run hands datagrams over: the plain form, or at an offset that changes per message. */
type Deliver = (to: Receiver, msg: Uint8Array, out: Uint8Array, now: number) => TunnResult;
const plain: Deliver = (to, msg, out, now) => to.decapsulate(msg, out, now, "192.0.2.1", 51820);
function atOffsets(): Deliver {
  let n = 0;
  return (to, msg, out, now) => {
    const off = [1, 4, 7, 13, 36, 255][n++ % 6]!;
    const buf = embed(msg, off);
    const before = buf.slice();
    const r = to.decapsulateAt(buf, off, msg.length, out, now, "192.0.2.1", 51820);
    // out is not buf: the caller's bytes stay as they were.
    expect(hex(buf)).toBe(hex(before));
    return r;
  };
}

/** Everything a caller can observe in a result that does not depend on fresh randomness. */
function summary(r: TunnResult, out: Uint8Array, extra: Record<string, unknown> = {}) {
  const s: Record<string, unknown> = { action: TunnAction[r.action], reason: DropReason[r.reason], length: r.length, offset: r.offset, ...extra };
  if (r.action === TunnAction.WriteToTunnelV4 || r.action === TunnAction.WriteToTunnelV6) {
    s.inOut = r.buf === out;
    s.bytes = hex(copyOut(r));
  } else if (r.action === TunnAction.WriteToNetwork) {
    const m = copyOut(r);
    // Handshake answers carry fresh ephemerals and nonces; their type and indices are deterministic.
    s.type = m[0];
    s.index4 = readU32(m, 4);
    if (m[0] === 2) s.index8 = readU32(m, 8);
  }
  return s;
}

function tunnels(seed: number) {
  const time = new FakeTime();
  const common = { presharedKey: psk, wallClock: time.wall, rateLimiter: new RateLimiter(Infinity) };
  const a = new Tunnel({ ...common, privateKey: keysA.privateKey, peerPublicKey: keysB.publicKey, indexTable: new IndexTable(xorshift32(seed)), random: seededRandom(1) });
  const b = new Tunnel({ ...common, privateKey: keysB.privateKey, peerPublicKey: keysA.publicKey, indexTable: new IndexTable(xorshift32(seed + 1)), random: seededRandom(2) });
  // Always under load: answers every MAC1-valid initiation with a cookie reply.
  const loaded = new Tunnel({ ...common, privateKey: keysB.privateKey, peerPublicKey: keysA.publicKey, rateLimiter: new RateLimiter(0) });
  return { time, a, b, loaded };
}

/** Initiation, cookie reply, response, transport data both ways, keepalive, replays and garbage. */
function tunnelConversation(deliver: Deliver) {
  const { time, a, b, loaded } = tunnels(0x1234);
  const out = new Uint8Array(4096);
  const log: unknown[] = [];
  const step = (to: Tunnel, msg: Uint8Array) => {
    const r = deliver(to, msg, out, time.now);
    log.push(summary(r, out));
    return r.action === TunnAction.WriteToNetwork ? copyOut(r) : null;
  };
  const init = copyOut(a.encapsulate(ipv4Packet("first"), out, time.now));
  const cookie = step(loaded, init)!;
  expect(cookie[0]).toBe(3);
  expect(step(a, cookie)).toBeNull();
  expect(a.stats.cookiesReceived).toBe(1);
  const resp = step(b, init)!;
  expect(resp[0]).toBe(2);
  const first = step(a, resp)!; // the queued packet, sealed on the new session
  expect(first[0]).toBe(4);
  step(b, first);
  const data: Uint8Array[] = [];
  for (let i = 0; i < 11; i++) {
    const from = i % 2 === 0 ? a : b;
    const to = from === a ? b : a;
    const d = copyOut(from.encapsulate(ipv4Packet(new Uint8Array(i * 97).fill(i)), out, time.now));
    data.push(d);
    step(to, d);
  }
  // b received data last and sent nothing since: its passive keepalive is due after 10 s.
  time.advance(10_000);
  const keepalive = copyOut(b.handleTimeout(time.now));
  expect(keepalive.length).toBe(32);
  step(a, keepalive);
  // Drops: replays of each type, a forged tag, a wrong index, truncations, an unknown type.
  step(b, init);
  step(a, resp);
  step(a, cookie);
  step(b, data[0]!);
  // Never delivered, so it passes the replay check and fails on its tag.
  const forged = copyOut(a.encapsulate(ipv4Packet("forged"), out, time.now));
  forged[forged.length - 1] ^= 1;
  step(b, forged);
  const wrongIndex = data[4]!.slice();
  wrongIndex[4] ^= 0xff;
  step(b, wrongIndex);
  step(b, data[6]!.subarray(0, 31));
  step(b, init.subarray(0, 147));
  step(b, Uint8Array.of(9, 0, 0, 0, 1, 2, 3, 4));
  step(b, Uint8Array.of(4, 0, 0));
  return { log, stats: [a.stats, b.stats, loaded.stats].map(snapshot) };
}

/** The same through a Device on b's side: initiation matched by static key, the rest by index. */
function deviceConversation(deliver: Deliver) {
  const time = new FakeTime();
  const out = new Uint8Array(4096);
  const a = new Tunnel({
    privateKey: keysA.privateKey,
    peerPublicKey: keysB.publicKey,
    presharedKey: psk,
    wallClock: time.wall,
    indexTable: new IndexTable(xorshift32(77)),
    random: seededRandom(3),
  });
  const device = new Device<string>({ privateKey: keysB.privateKey, wallClock: time.wall, random32: xorshift32(78), random: seededRandom(4) });
  device.addPeer("a", { publicKey: keysA.publicKey, presharedKey: psk });
  const loaded = new Device<string>({ privateKey: keysB.privateKey, wallClock: time.wall, handshakeRateLimit: 0 });
  loaded.addPeer("a", { publicKey: keysA.publicKey, presharedKey: psk });
  const log: unknown[] = [];
  const step = (to: Receiver, msg: Uint8Array) => {
    const r = deliver(to, msg, out, time.now);
    log.push(summary(r, out, to === device ? { peer: device.lastPeer } : {}));
    return r.action === TunnAction.WriteToNetwork ? copyOut(r) : null;
  };
  const init = copyOut(a.encapsulate(ipv4Packet("to the device"), out, time.now));
  const cookie = step(loaded, init)!;
  expect(cookie[0]).toBe(3);
  step(a, cookie);
  const resp = step(device, init)!;
  expect(resp[0]).toBe(2);
  const first = step(a, resp)!;
  step(device, first);
  for (let i = 0; i < 6; i++) step(device, copyOut(a.encapsulate(ipv4Packet(new Uint8Array(i * 211).fill(i)), out, time.now)));
  const tunnelB = device.peer("a")!;
  for (let i = 0; i < 3; i++) {
    const d = copyOut(tunnelB.encapsulate(ipv4Packet(`back ${i}`), out, time.now));
    step(a, d);
  }
  // Drops the device itself counts, and one its tunnel counts.
  step(device, init);
  step(device, first);
  step(device, Uint8Array.of(4, 0, 0, 0, 9, 9, 9, 9, 0, 0, 0, 0));
  step(device, Uint8Array.of(7, 0, 0, 0, 1, 2, 3, 4));
  step(device, init.subarray(0, 100));
  step(device, Uint8Array.of(1, 0, 0));
  return { log, stats: [a.stats, device.stats, tunnelB.stats, loaded.stats].map(snapshot) };
}

describe("decapsulateAt matches decapsulate", () => {
  test("Tunnel: all four message types, replays and garbage, at offsets 1..255", () => {
    const p = tunnelConversation(plain);
    const o = tunnelConversation(atOffsets());
    expect(o.log).toEqual(p.log);
    expect(o.stats).toEqual(p.stats);
    // The conversation really covered every type, data and drops.
    const actions = new Set(p.log.map((s) => (s as { action: string }).action));
    expect([...actions].sort()).toEqual(["Done", "Dropped", "WriteToNetwork", "WriteToTunnelV4"]);
    expect(p.stats[1].drops).toEqual({ ReplayedTimestamp: 1, Replay: 1, DecryptFailed: 1, UnknownReceiverIndex: 1, InvalidLength: 3, UnknownType: 1 });
  });

  test("Device: all four message types routed to the peer, and the device's own drops", () => {
    const p = deviceConversation(plain);
    const o = deviceConversation(atOffsets());
    expect(o.log).toEqual(p.log);
    expect(o.stats).toEqual(p.stats);
    expect(p.log.filter((s) => (s as { action: string }).action === "WriteToTunnelV4").length).toBe(10);
    expect(p.stats[1].dropsTotal).toBeGreaterThanOrEqual(3);
  });

  test("same result object as decapsulate; in place when out is buf, the packet at off+16", () => {
    const { time, a, b } = tunnels(0x99);
    const out = new Uint8Array(4096);
    const init = copyOut(a.encapsulate(ipv4Packet("hi"), out, time.now));
    const resp = copyOut(b.decapsulate(init, out, time.now));
    const first = copyOut(a.decapsulate(resp, out, time.now));
    const r1 = b.decapsulate(first, out, time.now);
    const packet = ipv4Packet("in place, please");
    const d = copyOut(a.encapsulate(packet, out, time.now));
    const buf = embed(d, 21, 40);
    const r2 = b.decapsulateAt(buf, 21, d.length, buf, time.now);
    expect(r2).toBe(r1);
    expect(r2.action).toBe(TunnAction.WriteToTunnelV4);
    expect(r2.buf).toBe(buf);
    expect(r2.offset).toBe(21 + 16);
    expect(hex(copyOut(r2))).toBe(hex(packet));
    // Only the message's own bytes were touched: the garbage around it is intact.
    const pristine = embed(d, 21, 40);
    expect(hex(buf.subarray(0, 21))).toBe(hex(pristine.subarray(0, 21)));
    expect(hex(buf.subarray(21 + d.length))).toBe(hex(pristine.subarray(21 + d.length)));
    // A view of buf whose start is buf[off] is "the datagram at out[0]": also in place.
    const d2 = copyOut(a.encapsulate(packet, out, time.now));
    const buf2 = embed(d2, 8);
    const view = buf2.subarray(8);
    const r3 = b.decapsulateAt(buf2, 8, d2.length, view, time.now);
    expect(r3.buf).toBe(view);
    expect(r3.offset).toBe(16);
    expect(hex(copyOut(r3))).toBe(hex(packet));
  });
});

describe("wrong ranges are counted drops", () => {
  function established() {
    const t = tunnels(0x4242);
    const out = new Uint8Array(4096);
    const init = copyOut(t.a.encapsulate(ipv4Packet("x"), out, t.time.now));
    const resp = copyOut(t.b.decapsulate(init, out, t.time.now));
    const first = copyOut(t.a.decapsulate(resp, out, t.time.now));
    expect(t.b.decapsulate(first, out, t.time.now).action).toBe(TunnAction.WriteToTunnelV4);
    return { ...t, out, init, resp };
  }

  test("Tunnel: offsets and lengths that do not frame the message", () => {
    const { time, a, b, out, init } = established();
    const d = copyOut(a.encapsulate(ipv4Packet("framed"), out, time.now));
    const off = 6;
    const buf = embed(d, off, 20);
    const initBuf = embed(init, 3);
    const cases: [Uint8Array, number, number, DropReason][] = [
      [buf, off, d.length + 1, DropReason.DecryptFailed], // one trailing garbage byte taken as ciphertext
      [buf, off, d.length - 1, DropReason.DecryptFailed],
      [buf, off, 31, DropReason.InvalidLength], // shorter than a keepalive
      [buf, off + 1, d.length, DropReason.UnknownType], // the type byte is now a reserved byte
      [buf, off - 1, d.length, DropReason.UnknownType],
      [buf, off, buf.length, DropReason.InvalidLength], // runs past the end of buf
      [buf, buf.length, 0, DropReason.InvalidLength],
      [buf, buf.length - 2, 4, DropReason.InvalidLength],
      [buf, -1, d.length, DropReason.InvalidLength],
      [buf, Number.NaN, d.length, DropReason.InvalidLength],
      [buf, 2.5, d.length, DropReason.InvalidLength],
      [buf, off, -3, DropReason.InvalidLength],
      [buf, off, Infinity, DropReason.InvalidLength],
      [buf, off, 3, DropReason.InvalidLength],
      [initBuf, 3, init.length - 1, DropReason.InvalidLength],
      [initBuf, 3, init.length + 1, DropReason.InvalidLength],
    ];
    for (const [bytes, o, len, reason] of cases) {
      const before = b.stats.dropsTotal;
      const r = b.decapsulateAt(bytes, o, len, out, time.now);
      expect({ o, len, action: TunnAction[r.action], reason: DropReason[r.reason] }).toEqual({ o, len, action: "Dropped", reason: DropReason[reason] });
      expect(b.stats.dropsTotal - before).toBe(1);
    }
    // None of that disturbed the session: the framed message still opens.
    const r = b.decapsulateAt(buf, off, d.length, out, time.now);
    expect(r.action).toBe(TunnAction.WriteToTunnelV4);
    expect(new TextDecoder().decode(copyOut(r).subarray(20))).toBe("framed");
  });

  test("Device: ranges outside buf and misframed messages", () => {
    const time = new FakeTime();
    const device = new Device<string>({ privateKey: keysB.privateKey, wallClock: time.wall });
    device.addPeer("a", { publicKey: keysA.publicKey, presharedKey: psk });
    const a = new Tunnel({ privateKey: keysA.privateKey, peerPublicKey: keysB.publicKey, presharedKey: psk, wallClock: time.wall });
    const out = new Uint8Array(4096);
    const init = copyOut(a.encapsulate(ipv4Packet("x"), out, time.now));
    const buf = embed(init, 5);
    const cases: [number, number, DropReason][] = [
      [5, init.length + 1, DropReason.InvalidLength],
      [5, init.length - 1, DropReason.UnknownType], // type 1 at the wrong size falls to the index lookup
      [5, buf.length, DropReason.InvalidLength],
      [-5, 10, DropReason.InvalidLength],
      [5, 7, DropReason.InvalidLength],
      [0.5, init.length, DropReason.InvalidLength],
      [6, init.length, DropReason.UnknownType],
    ];
    for (const [o, len, reason] of cases) {
      const before = device.stats.dropsTotal + device.peer("a")!.stats.dropsTotal;
      const r = device.decapsulateAt(buf, o, len, out, time.now);
      expect(r.action).toBe(TunnAction.Dropped);
      expect(device.stats.dropsTotal + device.peer("a")!.stats.dropsTotal - before).toBe(1);
      if (o !== 5 || len !== init.length - 1) expect({ o, len, reason: DropReason[r.reason] }).toEqual({ o, len, reason: DropReason[reason] });
      expect(device.lastPeer).toBeUndefined();
    }
    const r = device.decapsulateAt(buf, 5, init.length, out, time.now);
    expect(r.action).toBe(TunnAction.WriteToNetwork);
    expect(device.lastPeer).toBe("a");
  });

  test("random garbage at random offsets: the same drop as the plain form, one counter each", () => {
    const { time, b, out, init, resp } = established();
    const device = new Device<string>({ privateKey: keysB.privateKey, wallClock: time.wall, handshakeRateLimit: Infinity });
    device.addPeer("a", { publicKey: keysA.publicKey, presharedKey: psk });
    const rnd = xorshift32(0xbad);
    const below = (n: number) => rnd() % n;
    const count = (x: Tunnel | Device<string>) => (x instanceof Device ? x.stats.dropsTotal + x.peer("a")!.stats.dropsTotal : x.stats.dropsTotal);
    for (let i = 0; i < 3000; i++) {
      let m: Uint8Array;
      if (below(4) === 0) {
        // A real handshake message with a byte flipped (not in MAC2, which is only checked under
        // load): passes the size checks, fails later.
        m = (below(2) === 0 ? init : resp).slice();
        m[4 + below(m.length - 20)] ^= 1 + below(255);
      } else {
        m = new Uint8Array(below(180));
        for (let j = 0; j < m.length; j++) m[j] = below(256);
        if (m.length >= 4 && below(2) === 0) {
          m[0] = 1 + below(4);
          m[1] = m[2] = m[3] = 0;
        }
      }
      const target = below(2) === 0 ? b : device;
      const before = count(target);
      const p = summary(target.decapsulate(m, out, time.now), out);
      const off = 1 + below(300);
      const o = summary(target.decapsulateAt(embed(m, off, below(20)), off, m.length, out, time.now), out);
      expect(o).toEqual(p);
      expect(p.action).toBe("Dropped");
      expect(count(target) - before).toBe(2);
    }
  });
});
