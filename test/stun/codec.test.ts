import { describe, expect, test } from "bun:test";
import {
  ATTR_ADDITIONAL_ADDRESS_FAMILY,
  ATTR_FINGERPRINT,
  ATTR_ICE_CONTROLLING,
  ATTR_MESSAGE_INTEGRITY,
  ATTR_REQUESTED_ADDRESS_FAMILY,
  ATTR_USE_CANDIDATE,
  ATTR_XOR_PEER_ADDRESS,
  ATTR_XOR_RELAYED_ADDRESS,
  classOf,
  encodeChannelData,
  formatIpv6,
  getAdditionalAddressFamily,
  getChannelNumber,
  getErrorCode,
  getLifetime,
  getRequestedAddressFamily,
  getRequestedTransport,
  getTieBreaker,
  getUnknownAttributes,
  getXorPeerAddress,
  getXorRelayedAddresses,
  isMalformed,
  MessageBuilder,
  messageType,
  METHOD_ALLOCATE,
  METHOD_CHANNEL_BIND,
  METHOD_REFRESH,
  methodOf,
  parseChannelData,
  parseIpv6,
  parseMessage,
  seededRandom,
  newTransactionId,
  verifyIntegrity,
  verifyIntegritySha256,
  writeChannelDataHeader,
  longTermKey,
  TRANSPORT_UDP,
  unmapIpv4,
} from "../../src/stun/index.ts";

const tx = newTransactionId(seededRandom(1));

function build(f: (b: MessageBuilder) => void, method = METHOD_ALLOCATE, cls: "request" | "success" | "error" | "indication" = "request") {
  const b = new MessageBuilder(method, cls, tx);
  f(b);
  const r = b.finish();
  if (!r.ok) throw new Error(r.reason);
  return r.bytes;
}

function parse(bytes: Uint8Array) {
  const r = parseMessage(bytes);
  if (!r.ok) throw new Error(r.reason);
  return r.message;
}

describe("message type", () => {
  test("method and class interleave as RFC 8489 §5 shows", () => {
    expect(messageType(0x001, "request")).toBe(0x0001);
    expect(messageType(0x001, "success")).toBe(0x0101);
    expect(messageType(0x001, "error")).toBe(0x0111);
    expect(messageType(0x003, "error")).toBe(0x0113);
    expect(messageType(0x009, "success")).toBe(0x0109);
    expect(messageType(0x007, "indication")).toBe(0x0017);
    for (let m = 0; m < 0x1000; m += 37)
      for (const c of ["request", "indication", "success", "error"] as const) {
        const t = messageType(m, c);
        expect(methodOf(t)).toBe(m);
        expect(classOf(t)).toBe(c);
      }
  });
});

describe("attributes round trip", () => {
  test("TURN allocate attributes", () => {
    const key = longTermKey("u", "firezone", "p");
    const bytes = build((b) =>
      b
        .addRequestedTransport(TRANSPORT_UDP)
        .addAddressFamily(ATTR_ADDITIONAL_ADDRESS_FAMILY, 6)
        .addAddressFamily(ATTR_REQUESTED_ADDRESS_FAMILY, 4)
        .addLifetime(600)
        .addUsername("u")
        .addRealm("firezone")
        .addNonce("abc")
        .addMessageIntegrity(key)
        .addFingerprint(),
    );
    const m = parse(bytes);
    expect(getRequestedTransport(m)).toBe(17);
    expect(getAdditionalAddressFamily(m)).toBe(6);
    expect(getRequestedAddressFamily(m)).toBe(4);
    expect(getLifetime(m)).toBe(600);
    expect(verifyIntegrity(m, key)).toBe(true);
    expect(verifyIntegrity(m, longTermKey("u", "firezone", "q"))).toBe(false);
  });

  test("dual-stack XOR-RELAYED-ADDRESS and XOR-PEER-ADDRESS", () => {
    const bytes = build(
      (b) =>
        b
          .addXorAddress(ATTR_XOR_RELAYED_ADDRESS, { ip: "203.0.113.5", port: 50000 })
          .addXorAddress(ATTR_XOR_RELAYED_ADDRESS, { ip: "2001:db8::5", port: 50000 })
          .addXorAddress(ATTR_XOR_PEER_ADDRESS, { ip: "::ffff:10.0.0.1", port: 1 }),
      METHOD_ALLOCATE,
      "success",
    );
    const m = parse(bytes);
    expect(getXorRelayedAddresses(m)).toEqual([
      { ip: "203.0.113.5", port: 50000 },
      { ip: "2001:db8::5", port: 50000 },
    ]);
    expect(getXorPeerAddress(m)).toEqual({ ip: "::ffff:10.0.0.1", port: 1 });
  });

  test("ERROR-CODE, UNKNOWN-ATTRIBUTES, CHANNEL-NUMBER, ICE attributes, MI-SHA256", () => {
    const key = new TextEncoder().encode("secret");
    const m = parse(
      build(
        (b) =>
          b
            .addErrorCode(438, "Stale Nonce")
            .addUnknownAttributes([0x0031, 0x7fff, 0x0002])
            .addChannelNumber(0x4abc)
            .addU64(ATTR_ICE_CONTROLLING, 0xffffffffffffffffn)
            .addFlag(ATTR_USE_CANDIDATE)
            .addMessageIntegritySha256(key)
            .addFingerprint(),
        METHOD_CHANNEL_BIND,
        "error",
      ),
    );
    expect(getErrorCode(m)).toEqual({ code: 438, reason: "Stale Nonce" });
    const padded = parse(build((b) => b.addErrorCode(400, "Bad Request\0"), METHOD_ALLOCATE, "error"));
    expect(getErrorCode(padded)).toEqual({ code: 400, reason: "Bad Request" });
    expect(getUnknownAttributes(m)).toEqual([0x0031, 0x7fff, 0x0002]);
    expect(getChannelNumber(m)).toBe(0x4abc);
    expect(getTieBreaker(m, ATTR_ICE_CONTROLLING)).toBe(0xffffffffffffffffn);
    expect(m.has(ATTR_USE_CANDIDATE)).toBe(true);
    expect(verifyIntegritySha256(m, key)).toBe(true);
    expect(verifyIntegritySha256(m, new TextEncoder().encode("other"))).toBe(false);
    expect(verifyIntegrity(m, key)).toBe(false); // no SHA1 attribute at all
  });

  test("unknown comprehension-required attributes are reported, optional ones are not", () => {
    const m = parse(build((b) => b.addBytes(0x0031, new Uint8Array(3)).addBytes(0xc001, new Uint8Array(1)).addBytes(0x0031, new Uint8Array(0))));
    expect(m.unknownComprehensionRequired()).toEqual([0x0031]);
  });

  test("malformed attribute values come back as values", () => {
    const m = parse(build((b) => b.addBytes(0x000d, new Uint8Array(3)).addBytes(ATTR_XOR_PEER_ADDRESS, new Uint8Array([0, 9, 0, 0, 1, 2, 3, 4])).addBytes(0x0009, new Uint8Array([0, 0, 9, 1]))));
    expect(isMalformed(getLifetime(m))).toBe(true);
    expect(isMalformed(getXorPeerAddress(m))).toBe(true);
    expect(isMalformed(getErrorCode(m))).toBe(true);
    expect(getRequestedTransport(m)).toBeUndefined();
  });

  test("attributes after MESSAGE-INTEGRITY are ignored; after FINGERPRINT refused", () => {
    const key = new Uint8Array(16);
    const bytes = build((b) => b.addLifetime(1).addMessageIntegrity(key));
    // Append LIFETIME after MI by hand, then fix the length.
    const extended = new Uint8Array(bytes.length + 8);
    extended.set(bytes);
    extended.set([0x00, 0x0d, 0x00, 0x04, 0, 0, 0, 9], bytes.length);
    extended[3] = extended.length - 20;
    const m = parse(extended);
    expect(getLifetime(m)).toBe(1);
    expect(verifyIntegrity(m, key)).toBe(true); // MI covers only what precedes it

    const fp = build((b) => b.addFingerprint());
    const after = new Uint8Array(fp.length + 4);
    after.set(fp);
    after.set([0x80, 0x22, 0, 0], fp.length);
    after[3] = after.length - 20;
    expect(parseMessage(after)).toEqual({ ok: false, reason: "attribute-after-fingerprint" });
  });

  test("builder errors are values", () => {
    const small = new MessageBuilder(METHOD_REFRESH, "request", tx, new Uint8Array(24));
    expect(small.addLifetime(1).finish()).toEqual({ ok: false, reason: "buffer-too-small" });
    const late = new MessageBuilder(METHOD_REFRESH, "request", tx).addFingerprint().addLifetime(1);
    expect(late.finish()).toEqual({ ok: false, reason: "after-fingerprint" });
    const afterMi = new MessageBuilder(METHOD_REFRESH, "request", tx).addMessageIntegrity(new Uint8Array(1)).addLifetime(1);
    expect(afterMi.finish()).toEqual({ ok: false, reason: "after-integrity" });
    const bad = new MessageBuilder(METHOD_REFRESH, "request", tx).addXorAddress(ATTR_XOR_PEER_ADDRESS, { ip: "1.2.3", port: 1 });
    expect(bad.finish()).toEqual({ ok: false, reason: "bad-address" });
    expect(new MessageBuilder(METHOD_REFRESH, "request", new Uint8Array(11)).finish()).toEqual({ ok: false, reason: "bad-transaction-id" });
  });
});

describe("parse errors", () => {
  const good = build((b) => b.addLifetime(5).addFingerprint());
  const mutate = (f: (b: Uint8Array) => void) => {
    const c = new Uint8Array(good);
    f(c);
    return parseMessage(c);
  };
  test("each reason", () => {
    expect(parseMessage(good.subarray(0, 19))).toEqual({ ok: false, reason: "too-short" });
    expect(mutate((b) => (b[0] = 0x40))).toEqual({ ok: false, reason: "not-stun" });
    expect(mutate((b) => (b[4] = 0))).toEqual({ ok: false, reason: "bad-magic-cookie" });
    expect(mutate((b) => (b[3] = 5))).toEqual({ ok: false, reason: "length-not-multiple-of-4" });
    expect(mutate((b) => (b[3] = 4))).toEqual({ ok: false, reason: "length-mismatch" });
    expect(mutate((b) => (b[23] = 0x40))).toEqual({ ok: false, reason: "attribute-truncated" });
    expect(mutate((b) => (b[good.length - 1] ^= 1))).toEqual({ ok: false, reason: "bad-fingerprint" });
    expect(mutate((b) => (b[25] ^= 1))).toEqual({ ok: false, reason: "bad-fingerprint" });
    expect(mutate((b) => (b[good.length - 5] = 5))).toEqual({ ok: false, reason: "attribute-truncated" });
  });
  test("MESSAGE-INTEGRITY with a wrong length", () => {
    const b = build((x) => x.addBytes(ATTR_MESSAGE_INTEGRITY, new Uint8Array(16)));
    expect(parseMessage(b)).toEqual({ ok: false, reason: "bad-message-integrity-length" });
    const f = build((x) => x.addBytes(ATTR_FINGERPRINT, new Uint8Array(8)));
    expect(parseMessage(f)).toEqual({ ok: false, reason: "bad-fingerprint-length" });
  });
});

describe("ChannelData", () => {
  test("in-place header and parse, with and without padding", () => {
    const buf = new Uint8Array(64);
    buf.set([1, 2, 3, 4, 5], 8);
    const start = writeChannelDataHeader(buf, 8, 5, 0x4001);
    expect(start).toBe(4);
    const dgram = buf.subarray(4, 13);
    const r = parseChannelData(dgram);
    expect(r.ok && r.channel).toBe(0x4001);
    expect(r.ok && Array.from(r.payload)).toEqual([1, 2, 3, 4, 5]);
    // padded to 12 bytes (4 + 8) is fine, 13 is not
    expect(parseChannelData(buf.subarray(4, 16)).ok).toBe(true);
    expect(parseChannelData(buf.subarray(4, 17))).toEqual({ ok: false, reason: "trailing-bytes" });
    expect(parseChannelData(buf.subarray(4, 12))).toEqual({ ok: false, reason: "truncated" });
    expect(parseChannelData(new Uint8Array([0x80, 0, 0, 0]))).toEqual({ ok: false, reason: "bad-channel-number" });
    expect(parseChannelData(new Uint8Array([0x40, 0]))).toEqual({ ok: false, reason: "too-short" });
    expect(writeChannelDataHeader(buf, 3, 5, 0x4001)).toBe(-1);
    expect(writeChannelDataHeader(buf, 8, 5, 0x3fff)).toBe(-1);
  });
  test("encodeChannelData copies behind a header", () => {
    const out = new Uint8Array(10);
    const d = encodeChannelData(0x7fff, new Uint8Array([9, 9]), out);
    expect(d && Array.from(d)).toEqual([0x7f, 0xff, 0, 2, 9, 9]);
    expect(encodeChannelData(0x4000, new Uint8Array(7), out)).toBeNull();
  });
});

describe("IP text", () => {
  test("IPv4-mapped IPv6 text unmaps to IPv4", () => {
    expect(unmapIpv4("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(unmapIpv4("::FFFF:10.1.2.3")).toBe("10.1.2.3");
    expect(unmapIpv4("::1")).toBe("::1");
    expect(unmapIpv4("10.0.0.1")).toBe("10.0.0.1");
  });

  test("RFC 5952 formatting and parsing", () => {
    const cases: [string, string][] = [
      ["::", "::"],
      ["::1", "::1"],
      ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
      ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
      ["fe80::", "fe80::"],
      ["::ffff:1.2.3.4", "::ffff:1.2.3.4"],
      ["FE80::1%eth0", "fe80::1"],
    ];
    for (const [input, out] of cases) {
      const b = parseIpv6(input);
      expect(b).not.toBeNull();
      expect(formatIpv6(b!)).toBe(out);
    }
    for (const bad of [":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "g::", "::1.2.3"]) expect(parseIpv6(bad)).toBeNull();
  });
});
