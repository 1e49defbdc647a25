import { describe, expect, test } from "bun:test";
import {
  ATTR_MESSAGE_INTEGRITY,
  getXorMappedAddress,
  longTermKey,
  METHOD_BINDING,
  parseChannelData,
  parseMessage,
  looksLikeChannelData,
  looksLikeStun,
  verifyIntegrity,
} from "../../src/stun/index.ts";
import { hexFixture as fixture } from "../support/fixtures.ts";


describe("Firezone STUN fixtures", () => {
  test("minimal binding request", () => {
    const b = fixture("stun-binding-request-minimal.hex");
    expect(looksLikeStun(b)).toBe(true);
    const r = parseMessage(b);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.message.method).toBe(METHOD_BINDING);
    expect(r.message.cls).toBe("request");
    expect(r.message.attributes.length).toBe(0);
    expect(r.message.transactionKey()).toBe("0123456789abcdef01234567");
  });

  test("binding success response as forwarded by the relay", () => {
    const r = parseMessage(fixture("stun-binding-success-response.hex"));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.message.cls).toBe("success");
    expect(r.message.transactionKey()).toBe("93d108418ca2a8fdf7e8930e");
    expect(getXorMappedAddress(r.message)).toEqual({ ip: "172.28.0.105", port: 38871 });
    expect(r.message.has(ATTR_MESSAGE_INTEGRITY)).toBe(true);
    expect(r.message.fingerprintOffset).toBeGreaterThan(0); // parse verified the CRC
  });

  test("ChannelData wrapping that response: channel 0x4001, 64 bytes", () => {
    const b = fixture("stun-channel-data-binding-response.hex");
    expect(looksLikeChannelData(b)).toBe(true);
    expect(looksLikeStun(b)).toBe(false);
    const cd = parseChannelData(b);
    expect(cd.ok).toBe(true);
    if (!cd.ok) return;
    expect(cd.channel).toBe(0x4001);
    expect(cd.payload.length).toBe(64);
    expect(Buffer.from(cd.payload).equals(Buffer.from(fixture("stun-binding-success-response.hex")))).toBe(true);
    expect(parseMessage(cd.payload).ok).toBe(true);
  });

  test("ChannelData proptest regression: channel 0x565e, 40 bytes", () => {
    const cd = parseChannelData(fixture("stun-channel-data-proptest-regression.hex"));
    expect(cd.ok && cd.channel).toBe(0x565e);
    expect(cd.ok && cd.payload.length).toBe(40);
  });

  test("MESSAGE-INTEGRITY with Firezone relay long-term credentials", () => {
    const r = parseMessage(fixture("stun-binding-request-message-integrity-smoke.hex"));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const user = "1685200000:n23JJ2wKKtt30oXi";
    const pass = "KWFQGJs2EUSjn+RbrNzNrxjZJQJTx52zyr8FYpk/e20";
    expect(verifyIntegrity(r.message, longTermKey(user, "firezone", pass))).toBe(true);
    expect(verifyIntegrity(r.message, longTermKey(user, "firezone", "hLi5kjxFW2JMtQEtnwyTen7eQesMa1Pb54l0vQi4hdE"))).toBe(false);
  });
});
