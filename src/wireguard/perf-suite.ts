import { registerSuite } from "../perf/registry.ts";

/** The data-path packet: a full 1420-byte MTU IP packet. */
const PACKET = 1420;

/**
 * `firezone perf wireguard`: the engine's own cost on top of the AEAD. Two tunnels back to back
 * in one process on fake time: encapsulate + decapsulate of 1420-byte packets (against a bare
 * AEAD seal + open of the same size as baseline), and complete handshakes (messages 1, 2 and the
 * confirming keepalive). The AEAD backend is the process's (FIREZONE_CRYPTO picks it).
 */
registerSuite({
  name: "wireguard",
  description: "WireGuard engine: encapsulate+decapsulate 1420-byte packets through two tunnels, full handshakes/s",
  async run(bench) {
    const { aeadKey, cryptoBackend, cryptoImplementations, x25519GenerateKeyPair } = await import("../crypto/index.ts");
    const { Tunnel } = await import("./tunnel.ts");
    const { RateLimiter } = await import("./rate-limiter.ts");
    const { TunnAction } = await import("./result.ts");

    let now = 1_000_000;
    const wall = () => 1_764_000_000_000 + now;
    const ka = x25519GenerateKeyPair();
    const kb = x25519GenerateKeyPair();
    const psk = new Uint8Array(32).fill(5);
    // No cookies: the limiter would otherwise (rightly) declare a benchmark a flood.
    const common = { presharedKey: psk, wallClock: wall, rateLimiter: new RateLimiter(Infinity) };
    const a = new Tunnel({ ...common, privateKey: ka.privateKey, peerPublicKey: kb.publicKey });
    const b = new Tunnel({ ...common, privateKey: kb.privateKey, peerPublicKey: ka.publicKey, rateLimiter: new RateLimiter(Infinity) });

    const buf = new Uint8Array(new ArrayBuffer(2048));
    const packet = new Uint8Array(PACKET);
    packet[0] = 0x45;
    packet[2] = PACKET >> 8;
    packet[3] = PACKET & 0xff;
    for (let i = 20; i < PACKET; i++) packet[i] = i & 0xff;

    const send = (from: InstanceType<typeof Tunnel>, to: InstanceType<typeof Tunnel>, r: { action: number; buf: Uint8Array; offset: number; length: number }) => {
      if (r.action === TunnAction.WriteToNetwork) return to.decapsulate(r.buf.subarray(r.offset, r.offset + r.length), buf, now);
      return r;
    };
    // Establish a session a → b (a's keepalive confirms it at b).
    let r = send(a, b, a.encapsulate(packet, buf, now));
    r = send(b, a, r);
    send(a, b, r);
    for (let q = a.pollTransmit(now); q.action === TunnAction.WriteToNetwork; q = a.pollTransmit(now)) send(a, b, q);
    if (!a.hasSession(now) || !b.hasSession(now)) throw new Error("wireguard perf: handshake did not complete");

    const key = aeadKey(new Uint8Array(32).fill(7));
    const raw = new Uint8Array(new ArrayBuffer(2048));
    raw.set(packet, 16);
    let counter = 0;
    const inPlace = buf.subarray(16, 16 + PACKET);
    // Relayed: the datagram sits behind a 4-byte ChannelData header and is opened in another
    // buffer, as the snownet Node does it (decapsulateAt, native copy, no view).
    const frame = new Uint8Array(new ArrayBuffer(2048));
    const wgOut = frame.subarray(4);
    const frameInPlace = frame.subarray(4 + 16, 4 + 16 + PACKET);
    const recv = new Uint8Array(new ArrayBuffer(2048));
    let failures = 0;
    bench.measureGroup({
      group: "encapsulate+decapsulate 1420 B",
      baseline: "aead seal+open",
      bytesPerOp: PACKET,
      contenders: [
        {
          name: "aead seal+open",
          op: () => {
            const n = counter++;
            key.seal(n, raw, 16, PACKET);
            return key.open(n, raw, 16, PACKET + 16);
          },
        },
        {
          name: "engine a→b",
          op: () => {
            // The packet already sits at buf[16]: the zero-copy path a TUN reader would use.
            inPlace.set(packet);
            const e = a.encapsulate(inPlace, buf, now);
            const d = b.decapsulate(buf.subarray(0, e.length), buf, now);
            if (d.action !== TunnAction.WriteToTunnelV4) failures++;
            return d.length;
          },
        },
        {
          name: "engine a→b, decapsulateAt in place",
          op: () => {
            inPlace.set(packet);
            const e = a.encapsulate(inPlace, buf, now);
            const d = b.decapsulateAt(buf, 0, e.length, buf, now);
            if (d.action !== TunnAction.WriteToTunnelV4) failures++;
            return d.length;
          },
        },
        {
          name: "engine a→b, at offset 4, copied out",
          op: () => {
            frameInPlace.set(packet);
            const e = a.encapsulate(frameInPlace, wgOut, now);
            const d = b.decapsulateAt(frame, 4, e.length, recv, now);
            if (d.action !== TunnAction.WriteToTunnelV4) failures++;
            return d.length;
          },
        },
      ],
    });
    bench.measureGroup({
      group: "one direction 1420 B",
      baseline: "aead seal",
      bytesPerOp: PACKET,
      contenders: [
        { name: "aead seal", op: () => key.seal(counter++, raw, 16, PACKET) },
        {
          name: "engine encapsulate",
          op: () => {
            inPlace.set(packet);
            return a.encapsulate(inPlace, buf, now).length;
          },
        },
      ],
    });
    key.dispose();

    bench.measure({
      group: "handshake",
      name: "full handshake (init, response, keepalive)",
      op: () => {
        // 25 ms apart: past the responder's 20 ms flood guard and TAI64N's 16.7 ms granularity.
        now += 25;
        const init = a.rollOver(now);
        const resp = b.decapsulate(init.buf.subarray(0, init.length), buf, now);
        const ka = a.decapsulate(resp.buf.subarray(0, resp.length), buf, now);
        const done = b.decapsulate(ka.buf.subarray(0, ka.length), buf, now);
        if (done.action !== TunnAction.Done) failures++;
        return done.action;
      },
    });
    if (failures > 0) throw new Error(`wireguard perf: ${failures} operations failed`);
    a.close();
    b.close();
    return {
      environment: { "aead backend": cryptoBackend, x25519: cryptoImplementations.x25519, blake2s: cryptoImplementations.blake2s },
      notes: [
        "engine a→b = one encapsulate and one decapsulate per op, 1420-byte IPv4 packet, in place in one pinned buffer",
        "decapsulate alone ≈ 1 / (1/rate(a→b) − 1/rate(encapsulate))",
        "decapsulateAt in place = no view at all; at offset 4, copied out = the relayed (ChannelData) receive of a snownet Node",
        "full handshake = initiation + response + confirming keepalive, both sides' work, in one thread",
      ],
    };
  },
});
