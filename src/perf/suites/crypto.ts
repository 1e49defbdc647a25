import { registerSuite } from "../registry.ts";

/** WireGuard's MTU-sized packet: what the data path seals and opens. */
export const PACKET = 1420;

registerSuite({
  name: "crypto",
  description: "AEAD (1420-byte packets, in place) per backend, X25519, BLAKE2s, HMAC and KDF, against @noble",
  async run(bench) {
    const { aeadKeyOn, availableBackends, probeBackends } = await import("../../crypto/backend.ts");
    const { generateKeyPair, nodeX25519, nobleX25519, nodeX25519Keys, nobleX25519Keys, nodeX25519Works } = await import("../../crypto/x25519.ts");
    const { blake2sTs, hmacBlake2sTs, HmacBlake2sKey } = await import("../../crypto/blake2s-ts.ts");
    const { nativeBlake2s, nobleBlake2s, nativeBlake2sWorks } = await import("../../crypto/blake2s.ts");
    const { nativeHmacBlake2s, nobleHmacBlake2s } = await import("../../crypto/hmac.ts");
    const { hkdfTs, hkdfWith } = await import("../../crypto/hkdf.ts");
    const { xchachaSeal } = await import("../../crypto/xchacha.ts");
    const { cryptoBackend, cryptoImplementations } = await import("../../crypto/index.ts");

    const fill = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed) & 0xff);
    const rawKey = fill(32, 1);
    const aad = fill(16, 2);

    // AEAD: every backend, plus libcrypto with one EVP context for both directions.
    const contenders: { name: string; backend: "libcrypto" | "libsodium" | "noble"; shared?: boolean }[] = [];
    for (const b of availableBackends()) {
      contenders.push({ name: b, backend: b });
      if (b === "libcrypto") contenders.push({ name: "libcrypto-1ctx", backend: b, shared: true });
    }
    const keys = contenders.map((c) => {
      const key = aeadKeyOn(c.backend, rawKey, { sharedContext: c.shared });
      // Pinned buffers, as the data path has them: headroom before the packet, tag room after.
      const buf = new Uint8Array(new ArrayBuffer(2048));
      buf.set(fill(PACKET, 3), 16);
      const sealed = new Uint8Array(new ArrayBuffer(2048));
      sealed.set(fill(PACKET, 3), 16);
      key.seal(7, sealed, 16, PACKET);
      return { name: c.name, key, buf, packet: sealed.subarray(16, 16 + PACKET + 16), counter: 0 };
    });
    bench.measureGroup({
      group: "aead seal 1420 B",
      baseline: "noble",
      bytesPerOp: PACKET,
      contenders: keys.map((k) => ({ name: k.name, op: () => k.key.seal(k.counter++, k.buf, 16, PACKET) })),
    });
    bench.measureGroup({
      group: "aead open 1420 B",
      baseline: "noble",
      bytesPerOp: PACKET,
      contenders: keys.map((k) => ({
        name: k.name,
        op: () => {
          k.buf.set(k.packet, 16);
          return k.key.open(7, k.buf, 16, PACKET + 16);
        },
      })),
    });
    bench.measureGroup({
      group: "aead seal+open 1420 B",
      baseline: "noble",
      bytesPerOp: PACKET,
      contenders: keys.map((k) => ({
        name: k.name,
        op: () => {
          const n = k.counter++;
          k.key.seal(n, k.buf, 16, PACKET, aad);
          return k.key.open(n, k.buf, 16, PACKET + 16, aad);
        },
      })),
    });
    for (const k of keys) k.key.dispose();

    // A handshake field (32-byte static key + tag) under a key used once: a new key per field vs
    // one kept key re-keyed (what aeadSealOnce does).
    const field = new Uint8Array(new ArrayBuffer(64));
    const reused = availableBackends().map((b) => ({ b, key: aeadKeyOn(b, rawKey, { usage: "seal" }) }));
    bench.measureGroup({
      group: "handshake field seal 32 B, key used once",
      baseline: `${availableBackends()[0]} new key`,
      contenders: reused.flatMap(({ b, key }) => [
        {
          name: `${b} new key`,
          op: () => {
            const k = aeadKeyOn(b, rawKey, { usage: "seal" });
            const n = k.seal(0, field, 0, 32, aad);
            k.dispose();
            return n;
          },
        },
        { name: `${b} re-keyed`, op: () => (key.rekey(rawKey) ? key.seal(0, field, 0, 32, aad) : -1) },
      ]),
    });
    for (const r of reused) r.key.dispose();

    // X25519: one DH is a handshake's unit of work.
    const a = fill(32, 4);
    const bPub = nobleX25519.publicKey(fill(32, 5));
    const x25519Impls = nodeX25519Works() ? [nodeX25519, nobleX25519] : [nobleX25519];
    const label = (impl: { name: string }) => (impl.name === "node" ? "node:crypto" : "noble");
    const dhContenders = x25519Impls.map((impl) => ({ name: label(impl), op: () => impl.sharedSecret(a, bPub)[0] }));
    if (nodeX25519Works()) {
      const prepared = nodeX25519Keys.importPrivate(a);
      dhContenders.unshift({ name: "node:crypto prepared key", op: () => nodeX25519Keys.sharedWith(prepared, bPub)[0] });
    }
    bench.measureGroup({ group: "x25519 DH", baseline: "noble", contenders: dhContenders });
    bench.measureGroup({ group: "x25519 public key", baseline: "noble", contenders: x25519Impls.map((impl) => ({ name: label(impl), op: () => impl.publicKey(a)[0] })) });
    const genContenders = [{ name: "noble", op: () => nobleX25519Keys.generate().publicKey[0] }];
    if (nodeX25519Works()) {
      genContenders.unshift(
        { name: "node:crypto generateKeyPairSync", op: () => nodeX25519Keys.generate().publicKey[0] },
        { name: "node:crypto from random bytes", op: () => generateKeyPair(nodeX25519).publicKey[0] },
      );
    }
    bench.measureGroup({ group: "x25519 ephemeral key pair", baseline: "noble", contenders: genContenders });

    // BLAKE2s family, at handshake sizes.
    const m32 = fill(32, 6);
    const m148 = fill(148, 7);
    const mPacket = fill(PACKET, 8);
    const native = nativeBlake2sWorks();
    for (const [size, data] of [["32 B", m32], ["1420 B", mPacket]] as const) {
      const contenders = [{ name: "noble", op: () => nobleBlake2s(data)[0] }, { name: "TypeScript", op: () => blake2sTs(data)[0] }];
      if (native) contenders.unshift({ name: "Bun.CryptoHasher", op: () => nativeBlake2s(data)[0] });
      bench.measureGroup({ group: `blake2s ${size}`, baseline: "noble", bytesPerOp: data.length, contenders });
    }
    bench.measureGroup({
      group: "blake2s keyed 16 B out (MAC1)",
      baseline: "noble",
      contenders: [
        { name: "noble", op: () => nobleBlake2s(m148, 16, rawKey)[0] },
        { name: "TypeScript", op: () => blake2sTs(m148, 16, rawKey)[0] },
      ],
    });
    const preparedHmac = new HmacBlake2sKey(rawKey);
    const hmacs = [
      { name: "noble", op: () => nobleHmacBlake2s(rawKey, m32)[0] },
      { name: "TypeScript", op: () => hmacBlake2sTs(rawKey, m32)[0] },
      { name: "TypeScript, pads precomputed", op: () => preparedHmac.mac(m32)[0] },
    ];
    const kdfs = [
      { name: "noble", op: () => hkdfWith(nobleHmacBlake2s, rawKey, m32, 3)[2][0] },
      { name: "TypeScript", op: () => hkdfTs(rawKey, m32, 3)[2][0] },
    ];
    if (native) {
      hmacs.unshift({ name: "native (by hand)", op: () => nativeHmacBlake2s(rawKey, m32)[0] });
      kdfs.unshift({ name: "native (by hand)", op: () => hkdfWith(nativeHmacBlake2s, rawKey, m32, 3)[2][0] });
    }
    bench.measureGroup({ group: "hmac-blake2s 32 B", baseline: "noble", contenders: hmacs });
    bench.measureGroup({ group: "kdf3", baseline: "noble", contenders: kdfs });
    const cookieNonce = fill(24, 9);
    bench.measure({ group: "xchacha seal (cookie)", name: "noble", op: () => xchachaSeal(rawKey, cookieNonce, fill(16, 10), m32)[0] });

    const environment: Record<string, string> = {
      "aead backend in use": cryptoBackend,
      x25519: cryptoImplementations.x25519,
      blake2s: cryptoImplementations.blake2s,
    };
    for (const p of probeBackends()) environment[p.backend] = `${p.available ? "available" : "unavailable"}: ${p.detail}`;
    const notes = [
      "aead open includes restoring the ciphertext (a 1436-byte copy) before each open",
      "libcrypto-1ctx = one EVP context for both directions (re-initialised per call) instead of one per direction",
    ];
    return { environment, notes };
  },
});
