/**
 * Fuzz: mutated valid WireGuard messages of all four types, fed to `decapsulate` of a tunnel and
 * of a device, or to `decapsulateAt` with the message at a random offset in a larger buffer
 * (copied out, or opened in place in that buffer). Every valid original is delivered once first (and must succeed); after that every
 * mutation, and every replay, must come back as a drop with exactly one drop counter bumped. No
 * exception may escape. Seeded, so a failure names the seed and iteration to reproduce it.
 */
import { expect, test } from "bun:test";
import { x25519GenerateKeyPair } from "../../src/crypto/index.ts";
import { Device } from "../../src/wireguard/device.ts";
import { RateLimiter } from "../../src/wireguard/rate-limiter.ts";
import { TunnAction, type TunnResult } from "../../src/wireguard/result.ts";
import { Tunnel } from "../../src/wireguard/tunnel.ts";
import { xorshift32 as prng } from "../support/prng.ts";
import { copyOut, FakeTime, ipv4Packet } from "../wireguard/pair.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_0003);
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 120_000);

const rnd = prng(SEED);
const below = (n: number) => rnd() % n;

function mutate(msg: Uint8Array): Uint8Array {
  const kind = below(7);
  let m = msg.slice();
  switch (kind) {
    case 0: // flip 1-4 bits anywhere
      for (let i = 0, n = 1 + below(4); i < n; i++) m[below(m.length)] ^= 1 << below(8);
      break;
    case 1: // overwrite a byte, biased toward headers and MACs
      m[below(2) === 0 ? below(Math.min(16, m.length)) : m.length - 1 - below(Math.min(32, m.length))] = below(256);
      break;
    case 2: // truncate
      m = m.slice(0, below(m.length));
      break;
    case 3: {
      // extend with random bytes
      const ext = new Uint8Array(m.length + 1 + below(64));
      ext.set(m);
      for (let i = m.length; i < ext.length; i++) ext[i] = below(256);
      m = ext;
      break;
    }
    case 4: // another message type in the type byte (sizes now mismatch, or garbage)
      m[0] = below(6);
      break;
    case 5: // random run of bytes
      for (let i = below(m.length), n = 1 + below(24); n > 0 && i < m.length; i++, n--) m[i] = below(256);
      break;
    case 6: // reserved bytes
      m[1 + below(3)] = 1 + below(255);
      break;
  }
  // A mutation that changed nothing is still a replay of a consumed message: also a drop.
  return m;
}

/** msg at buf[off, off+len) inside random bytes (0..15 of them after it). */
function framed(msg: Uint8Array, off: number): Uint8Array {
  const buf = new Uint8Array(off + msg.length + below(16));
  for (let i = 0; i < buf.length; i++) buf[i] = below(256);
  buf.set(msg, off);
  return buf;
}

test(`fuzz decapsulate with ${ITERATIONS} mutated messages (seed ${SEED})`, () => {
  const time = new FakeTime();
  const ka = x25519GenerateKeyPair();
  const kb = x25519GenerateKeyPair();
  const psk = new Uint8Array(32).fill(3);
  const out = new Uint8Array(4096);
  // Never under load here (fake time stands still, so a real limiter would trip and answer
  // MAC1-valid mutations with cookie replies); the loaded tunnel below covers that path.
  const noLimit = () => new RateLimiter(Infinity);
  const a = new Tunnel({ privateKey: ka.privateKey, peerPublicKey: kb.publicKey, presharedKey: psk, wallClock: time.wall, rateLimiter: noLimit() });
  const b = new Tunnel({ privateKey: kb.privateKey, peerPublicKey: ka.publicKey, presharedKey: psk, wallClock: time.wall, rateLimiter: noLimit() });
  const device = new Device<string>({ privateKey: kb.privateKey, wallClock: time.wall, handshakeRateLimit: Infinity });
  device.addPeer("a", { publicKey: ka.publicKey, presharedKey: psk });
  // A responder that always wants cookies, to get a real cookie reply for `a` to consume.
  const loaded = new Tunnel({ privateKey: kb.privateKey, peerPublicKey: ka.publicKey, presharedKey: psk, wallClock: time.wall, rateLimiter: new RateLimiter(0) });

  const expectOk = (r: TunnResult, what: string) => {
    expect(r.action === TunnAction.Dropped ? `dropped ${r.reason}` : "ok", what).toBe("ok");
  };

  // Valid originals of every type, each consumed once.
  const init = copyOut(a.encapsulate(ipv4Packet("first"), out, time.now));
  const cookie = copyOut(loaded.decapsulate(init, out, time.now, "192.0.2.1", 1));
  expect(cookie[0]).toBe(3);
  expectOk(a.decapsulate(cookie, out, time.now), "cookie reply");
  const resp = copyOut(b.decapsulate(init, out, time.now));
  expect(resp[0]).toBe(2);
  expectOk(device.decapsulate(init, out, time.now), "initiation via device");
  const firstData = copyOut(a.decapsulate(resp, out, time.now)); // the queued packet, now sealed
  expect(firstData[0]).toBe(4);
  expectOk(b.decapsulate(firstData, out, time.now), "first data");
  const transports: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) {
    const payload = new Uint8Array(below(200));
    const d = copyOut(a.encapsulate(ipv4Packet(payload), out, time.now));
    expectOk(b.decapsulate(d, out, time.now), "data");
    transports.push(d);
  }
  const keepalive = (() => {
    // b received data and sent nothing: its passive keepalive is due after 10 s.
    time.advance(10_000);
    const r = b.handleTimeout(time.now);
    expect(r.length).toBe(32);
    return copyOut(r);
  })();
  expectOk(a.decapsulate(keepalive, out, time.now), "keepalive");

  const corpus: { msg: Uint8Array; target: "a" | "b" | "device" | "loaded" }[] = [
    { msg: init, target: "b" },
    { msg: init, target: "loaded" },
    { msg: init, target: "device" },
    { msg: resp, target: "a" },
    { msg: resp, target: "device" },
    { msg: cookie, target: "a" },
    { msg: keepalive, target: "a" },
    ...transports.map((msg) => ({ msg, target: "b" as const })),
    ...transports.slice(0, 8).map((msg) => ({ msg, target: "device" as const })),
  ];
  // Handshake types get as many iterations as transport ones.
  const pick = () => (below(2) === 0 ? corpus[below(7)] : corpus[7 + below(corpus.length - 7)]);

  let drops = 0;
  let cookies = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const { msg, target } = pick();
    const m = mutate(msg);
    const tunnel = target === "a" ? a : target === "b" ? b : target === "loaded" ? loaded : null;
    const counted = () => (tunnel ? tunnel.stats.dropsTotal + tunnel.stats.cookieRepliesSent : device.stats.dropsTotal + device.peer("a")!.stats.dropsTotal);
    const before = counted();
    // 0: plain form; 1: at a random offset, opened in `out`; 2: at a random offset, in place.
    const form = below(3);
    const off = form === 0 ? 0 : below(64);
    const buf = form === 0 ? m : framed(m, off);
    const dst = form === 2 ? buf : out;
    let r: TunnResult;
    try {
      if (form === 0) r = tunnel ? tunnel.decapsulate(m, out, time.now, "192.0.2.1", 1) : device.decapsulate(m, out, time.now, "192.0.2.1", 1);
      else if (tunnel) r = tunnel.decapsulateAt(buf, off, m.length, dst, time.now, "192.0.2.1", 1);
      else r = device.decapsulateAt(buf, off, m.length, dst, time.now, "192.0.2.1", 1);
    } catch (e) {
      throw new Error(`seed ${SEED} iteration ${i} (form ${form}, offset ${off}): exception ${e} for ${Buffer.from(m).toString("hex")}`);
    }
    // Under load a MAC1-valid initiation earns a cookie reply instead of a DH: the one other
    // legitimate answer to a mutated message, and only from the loaded responder.
    const cookieReply = target === "loaded" && r.action === TunnAction.WriteToNetwork && r.length === 64 && r.buf[0] === 3;
    if (r.action !== TunnAction.Dropped && !cookieReply) {
      throw new Error(`seed ${SEED} iteration ${i} (form ${form}, offset ${off}): mutated ${target} message gave action ${r.action}: ${Buffer.from(m).toString("hex")}`);
    }
    expect(counted() - before).toBe(1);
    if (cookieReply) cookies++;
    else drops++;
  }
  expect(drops + cookies).toBe(ITERATIONS);
  expect(cookies).toBeGreaterThan(0);
  // The tunnels still work after all that.
  const d = copyOut(a.encapsulate(ipv4Packet("still alive"), out, time.now));
  expect(b.decapsulate(d, out, time.now).action).toBe(TunnAction.WriteToTunnelV4);
  const d2 = copyOut(a.encapsulate(ipv4Packet("at an offset too"), out, time.now));
  const f = framed(d2, 29);
  const r = b.decapsulateAt(f, 29, d2.length, f, time.now);
  expect(r.action).toBe(TunnAction.WriteToTunnelV4);
  expect(r.buf).toBe(f);
  expect(r.offset).toBe(29 + 16);
});
