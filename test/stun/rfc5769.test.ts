import { describe, expect, test } from "bun:test";
import {
  ATTR_ICE_CONTROLLED,
  ATTR_SOFTWARE,
  ATTR_USERNAME,
  getNonce,
  getPriority,
  getRealm,
  getSoftware,
  getTieBreaker,
  getUsername,
  getXorMappedAddress,
  longTermKey,
  MessageBuilder,
  METHOD_BINDING,
  parseMessage,
  shortTermKey,
  verifyIntegrity,
  type StunMessage,
} from "../../src/stun/index.ts";

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));

// RFC 5769 §2.1: sample request (short-term credentials, ICE attributes, FINGERPRINT).
const REQUEST = hex(`
  000100582112a442b7e7a701bc34d686fa87dfae
  80220010 5354554e207465737420636c69656e74
  00240004 6e0001ff
  80290008 932ff9b151263b36
  00060009 6576746a3a68367659202020
  00080014 9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2
  80280004 e57a3bcf`);
// §2.2: IPv4 success response, XOR-MAPPED-ADDRESS 192.0.2.1:32853.
const RESPONSE_V4 = hex(`
  0101003c2112a442b7e7a701bc34d686fa87dfae
  8022000b 7465737420766563746f7220
  00200008 0001a147e112a643
  00080014 2b91f599fd9e90c38c7489f92af9ba53f06be7d7
  80280004 c07d4c96`);
// §2.3: IPv6 success response, XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const RESPONSE_V6 = hex(`
  010100482112a442b7e7a701bc34d686fa87dfae
  8022000b 7465737420766563746f7220
  00200014 0002a1470113a9faa5d3f179bc25f4b5bed2b9d9
  00080014 a382954e4be67bf11784c97c8292c275bfe3ed41
  80280004 c8fb0b4c`);
// §2.4: request with long-term authentication (USERNAME "マトリックス", NONCE, REALM "example.org").
const LONG_TERM = hex(`
  000100602112a44278ad3433c6ad72c029da412e
  00060012 e3839ee38388e383aae38383e382afe382b90000
  0015001c 662f2f3439396b39353464364f4c33346f4c39465354767936347341
  0014000b 6578616d706c652e6f726700
  00080014 f67024656dd64a3e02b8e0712e85c9a28ca89666`);

const PASSWORD = "VOkJxbRl1RmTxUk/WvJxBt";

function parsed(bytes: Uint8Array): StunMessage {
  const r = parseMessage(bytes);
  if (!r.ok) throw new Error(`parse failed: ${r.reason}`);
  return r.message;
}

describe("RFC 5769 test vectors", () => {
  test("2.1 sample request parses, FINGERPRINT and short-term MESSAGE-INTEGRITY verify", () => {
    const m = parsed(REQUEST);
    expect(m.method).toBe(METHOD_BINDING);
    expect(m.cls).toBe("request");
    expect(getSoftware(m)).toBe("STUN test client");
    expect(getPriority(m)).toBe(0x6e0001ff);
    expect(getTieBreaker(m, ATTR_ICE_CONTROLLED)).toBe(0x932ff9b151263b36n);
    expect(getUsername(m)).toBe("evtj:h6vY");
    expect(verifyIntegrity(m, shortTermKey(PASSWORD))).toBe(true);
    expect(verifyIntegrity(m, shortTermKey("wrong"))).toBe(false);
  });

  test("2.1 sample request is rebuilt byte for byte", () => {
    const m = parsed(REQUEST);
    const b = new MessageBuilder(METHOD_BINDING, "request", m.transactionId);
    b.addSoftware("STUN test client").addPriority(0x6e0001ff).addU64(ATTR_ICE_CONTROLLED, 0x932ff9b151263b36n);
    // The RFC pads USERNAME with spaces where we pad with zeros: write the spaces as value bytes,
    // then declare the 9-byte length so they become padding, exactly as on the RFC's wire.
    b.addBytes(ATTR_USERNAME, new TextEncoder().encode("evtj:h6vY   "));
    b.out[63] = 9;
    b.addMessageIntegrity(shortTermKey(PASSWORD)).addFingerprint();
    const r = b.finish();
    expect(r.ok && Buffer.from(r.bytes).toString("hex")).toBe(Buffer.from(REQUEST).toString("hex"));
  });

  test("2.2 IPv4 response: XOR-MAPPED-ADDRESS, MI, FINGERPRINT; rebuilt byte for byte", () => {
    const m = parsed(RESPONSE_V4);
    expect(m.cls).toBe("success");
    expect(getXorMappedAddress(m)).toEqual({ ip: "192.0.2.1", port: 32853 });
    expect(verifyIntegrity(m, shortTermKey(PASSWORD))).toBe(true);
    // SOFTWARE "test vector" is 11 bytes padded with one space in the RFC; build with the space
    // included in the padding position by writing the 12-byte value and fixing the length.
    const b = new MessageBuilder(METHOD_BINDING, "success", m.transactionId);
    b.addBytes(ATTR_SOFTWARE, new TextEncoder().encode("test vector "));
    const out = b.out;
    out[23] = 0x0b; // declare 11 bytes; the 12th (a space) becomes padding, as in the RFC
    b.addAddress(0x0020, { ip: "192.0.2.1", port: 32853 }).addMessageIntegrity(shortTermKey(PASSWORD)).addFingerprint();
    const r = b.finish();
    expect(r.ok && Buffer.from(r.bytes).toString("hex")).toBe(Buffer.from(RESPONSE_V4).toString("hex"));
  });

  test("2.3 IPv6 response: XOR-MAPPED-ADDRESS, MI, FINGERPRINT; rebuilt byte for byte", () => {
    const m = parsed(RESPONSE_V6);
    expect(getXorMappedAddress(m)).toEqual({ ip: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853 });
    expect(verifyIntegrity(m, shortTermKey(PASSWORD))).toBe(true);
    const b = new MessageBuilder(METHOD_BINDING, "success", m.transactionId);
    b.addBytes(ATTR_SOFTWARE, new TextEncoder().encode("test vector "));
    b.out[23] = 0x0b;
    b.addAddress(0x0020, { ip: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853 });
    b.addMessageIntegrity(shortTermKey(PASSWORD)).addFingerprint();
    const r = b.finish();
    expect(r.ok && Buffer.from(r.bytes).toString("hex")).toBe(Buffer.from(RESPONSE_V6).toString("hex"));
  });

  test("2.4 long-term authentication: MD5 key and MESSAGE-INTEGRITY; rebuilt byte for byte", () => {
    const m = parsed(LONG_TERM);
    expect(getUsername(m)).toBe("マトリックス");
    expect(getNonce(m)).toBe("f//499k954d6OL34oL9FSTvy64sA");
    expect(getRealm(m)).toBe("example.org");
    // "The<U+00AD>M<U+00AA>tr<U+2168>" after SASLprep (RFC 5769 §2.4).
    const key = longTermKey("マトリックス", "example.org", "TheMatrIX");
    expect(verifyIntegrity(m, key)).toBe(true);
    expect(verifyIntegrity(m, longTermKey("マトリックス", "example.org", "TheMatrix"))).toBe(false);
    const b = new MessageBuilder(METHOD_BINDING, "request", m.transactionId);
    b.addUsername("マトリックス").addNonce("f//499k954d6OL34oL9FSTvy64sA").addRealm("example.org").addMessageIntegrity(key);
    const r = b.finish();
    expect(r.ok && Buffer.from(r.bytes).toString("hex")).toBe(Buffer.from(LONG_TERM).toString("hex"));
  });

  test("integrity is checked over the received bytes without modifying them", () => {
    const copy = new Uint8Array(REQUEST);
    const m = parsed(copy);
    verifyIntegrity(m, shortTermKey(PASSWORD));
    expect(Buffer.from(copy).equals(Buffer.from(REQUEST))).toBe(true);
    expect(m.value(ATTR_USERNAME)?.length).toBe(9);
  });
});
