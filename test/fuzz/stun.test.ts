/**
 * Mutation fuzzing of the STUN and ChannelData parsers: 100k seeded mutations of valid messages.
 * The only acceptable outcomes are a parsed message (whose getters return values or
 * MalformedAttribute) or an error value — never an exception.
 */
import { expect, test } from "bun:test";
import * as stun from "../../src/stun/index.ts";
import { xorshift32 as rng } from "../support/prng.ts";

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

function corpus(): Uint8Array[] {
  const tx = stun.newTransactionId(stun.seededRandom(7));
  const key = stun.longTermKey("1685200000:salt", "firezone", "pw");
  const out: Uint8Array[] = [];
  const add = (f: (b: stun.MessageBuilder) => void, method: number, cls: stun.StunClass) => {
    const b = new stun.MessageBuilder(method, cls, tx, new Uint8Array(512));
    f(b);
    const r = b.finish();
    if (r.ok) out.push(new Uint8Array(r.bytes));
  };
  add((b) => b.addRequestedTransport(17).addAddressFamily(stun.ATTR_ADDITIONAL_ADDRESS_FAMILY, 6).addUsername("1685200000:salt").addRealm("firezone").addNonce("n").addMessageIntegrity(key).addFingerprint(), stun.METHOD_ALLOCATE, "request");
  add((b) => b.addXorAddress(stun.ATTR_XOR_RELAYED_ADDRESS, { ip: "203.0.113.1", port: 49152 }).addXorAddress(stun.ATTR_XOR_RELAYED_ADDRESS, { ip: "2001:db8::1", port: 49152 }).addXorAddress(stun.ATTR_XOR_MAPPED_ADDRESS, { ip: "198.51.100.2", port: 4000 }).addLifetime(600).addSoftware("snownet").addMessageIntegrity(key), stun.METHOD_ALLOCATE, "success");
  add((b) => b.addErrorCode(401, "Unauthorized").addRealm("firezone").addNonce("abcdef").addUnknownAttributes([0x31, 0x32]), stun.METHOD_ALLOCATE, "error");
  add((b) => b.addChannelNumber(0x4000).addXorAddress(stun.ATTR_XOR_PEER_ADDRESS, { ip: "::1", port: 9 }).addMessageIntegritySha256(key).addFingerprint(), stun.METHOD_CHANNEL_BIND, "request");
  add((b) => b.addPriority(1).addU64(stun.ATTR_ICE_CONTROLLING, 5n).addFlag(stun.ATTR_USE_CANDIDATE).addUsername("a:b").addMessageIntegrity(key).addFingerprint(), stun.METHOD_BINDING, "request");
  const cd = new Uint8Array(4 + 33);
  stun.encodeChannelData(0x4001, new Uint8Array(33).fill(7), cd);
  out.push(cd);
  return out;
}

function exercise(bytes: Uint8Array, key: Uint8Array): number {
  let touched = 0;
  const cd = stun.parseChannelData(bytes);
  if (cd.ok) touched += cd.payload.length;
  const r = stun.parseMessage(bytes);
  if (!r.ok) return touched;
  const m = r.message;
  const values: unknown[] = [
    stun.getXorMappedAddress(m), stun.getXorPeerAddress(m), stun.getXorRelayedAddresses(m), stun.getXorPeerAddresses(m),
    stun.getMappedAddress(m), stun.getUsername(m), stun.getRealm(m), stun.getNonce(m), stun.getSoftware(m),
    stun.getErrorCode(m), stun.getUnknownAttributes(m), stun.getLifetime(m), stun.getChannelNumber(m),
    stun.getRequestedTransport(m), stun.getRequestedAddressFamily(m), stun.getAdditionalAddressFamily(m),
    stun.getPriority(m), stun.getTieBreaker(m, stun.ATTR_ICE_CONTROLLING), stun.getTieBreaker(m, stun.ATTR_ICE_CONTROLLED),
    m.unknownComprehensionRequired(), stun.verifyIntegrity(m, key), stun.verifyIntegritySha256(m, key),
  ];
  return touched + values.length;
}

test(`${ITERATIONS} mutated messages never throw (seed ${SEED})`, () => {
  const next = rng(SEED);
  const seeds = corpus();
  const key = stun.longTermKey("1685200000:salt", "firezone", "pw");
  const buf = new Uint8Array(600);
  let parsedOk = 0;
  let thrown = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const src = seeds[next() % seeds.length];
    let len = src.length;
    buf.set(src);
    const edits = 1 + (next() % 4);
    for (let e = 0; e < edits; e++) {
      const op = next() % 7;
      const at = next() % Math.max(1, len);
      if (op === 0) buf[at] ^= 1 << (next() % 8);
      else if (op === 1) buf[at] = next() & 0xff;
      else if (op === 2) len = next() % (len + 1); // truncate
      else if (op === 3 && len + 4 <= buf.length) {
        for (let k = 0; k < 4; k++) buf[len + k] = next() & 0xff; // append junk
        len += 4;
      } else if (op === 4) {
        // Keep the header length consistent with the datagram so the attribute walker gets exercised.
        const l = Math.max(0, len - 20);
        buf[2] = l >> 8;
        buf[3] = l & 0xff;
      } else if (op === 5 && at + 3 < len) {
        // Rewrite an attribute length field-ish pair.
        buf[at] = next() & 0xff;
        buf[at + 1] = next() & 0xff;
      } else if (op === 6 && at + 1 < len) {
        buf[at] = 0;
        buf[at + 1] = (next() % 0x30) | (next() & 1 ? 0x80 : 0);
      }
    }
    try {
      const bytes = buf.subarray(0, len);
      exercise(bytes, key);
      if (stun.parseMessage(bytes).ok) parsedOk++;
    } catch (err) {
      thrown++;
      if (thrown < 3) console.error("parser threw", err, Buffer.from(buf.subarray(0, len)).toString("hex"));
    }
  }
  if (process.env.FUZZ_VERBOSE) console.error("fuzz done", { iterations: ITERATIONS, parsedOk, thrown });
  expect(thrown).toBe(0);
  // The mutations must not all be rejected at the header: some must reach the attribute getters.
  expect(parsedOk).toBeGreaterThan(ITERATIONS / 50);
});

/**
 * The TURN client's input path under mutated relay answers: every datagram must come back as a
 * result value (not-mine / consumed / channel-data), never an exception, and the client must keep
 * a consistent timer (pollTimeout never in the past after handleTimeout).
 */
test("TURN client survives 20k mutated relay answers", async () => {
  const { Allocation } = await import("../../src/turn/index.ts");
  const { FakeRelay } = await import("../turn/fake-relay.ts");
  const next = rng(SEED ^ 0xabcdef);
  const relay = new FakeRelay("1:u", "p");
  const local = { ip: "10.0.0.2", port: 5000 };
  let thrown = 0;
  let allocatedSeen = 0;
  let now = 1000;
  let a = new Allocation({ server: { v4: relay.addr }, username: "1:u", password: "p", now, random: stun.seededRandom(11) });
  const buf = new Uint8Array(1500);
  for (let i = 0; i < 20_000; i++) {
    try {
      if (a.isGone()) a = new Allocation({ server: { v4: relay.addr }, username: "1:u", password: "p", now, random: stun.seededRandom(i) });
      if (i % 50 === 0) a.bindChannel({ ip: "198.51.100.1", port: 1000 + (i % 7) }, now);
      const t = a.pollTransmit();
      if (!t) {
        const to = a.pollTimeout();
        now = Math.max(now, to ? to.at : now + 1000);
        a.handleTimeout(now);
        continue;
      }
      const answer = relay.handle(local, t.payload);
      if (!answer) continue;
      let len = answer.length;
      buf.set(answer);
      // Half the answers go through unmodified so the client gets far into its states.
      if (next() & 1) {
        for (let e = 0; e < 1 + (next() % 3); e++) {
          const op = next() % 3;
          const at = next() % len;
          if (op === 0) buf[at] ^= 1 << (next() % 8);
          else if (op === 1) buf[at] = next() & 0xff;
          else len = Math.max(1, next() % (len + 1));
        }
      }
      a.handleInput(relay.addr, local, buf.subarray(0, len), now);
      // Random ChannelData too.
      const cd = new Uint8Array([0x40, next() % 4, 0, next() % 8, 1, 2, 3, 4, 5, 6, 7]);
      a.handleInput(relay.addr, local, cd.subarray(0, 4 + (next() % 8)), now);
      if (a.hasAllocation()) allocatedSeen++;
    } catch (err) {
      thrown++;
      if (thrown < 3) console.error("client threw", err);
    }
  }
  expect(thrown).toBe(0);
  // The mutations must not keep the client from ever allocating, or the deep states go untested.
  expect(allocatedSeen).toBeGreaterThan(1000);
});
