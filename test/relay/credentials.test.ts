import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  checkUsername,
  generatePassword,
  generateSecret,
  issueCredentials,
  longTermKey,
  randomSalt,
  verifyMessageIntegrity,
} from "../../src/relay/credentials.ts";
import { FIXTURES, hexFixture } from "../support/fixtures.ts";

const vectors = JSON.parse(readFileSync(join(FIXTURES, "relay-auth-vectors.json"), "utf8"));

/** The auth.rs sample: a BINDING request (transaction id all zero) with only MESSAGE-INTEGRITY. */
function sampleSigned(): Uint8Array {
  const m = new Uint8Array(20);
  m.set([0x00, 0x01, 0x00, 0x18, 0x21, 0x12, 0xa4, 0x42]);
  return m;
}

describe("Firezone relay credential vectors", () => {
  for (const v of vectors.vectors.filter((v: any) => v.kind === "generate_password")) {
    test(`${v.test}: password`, () => {
      expect(generatePassword(v.secret, v.expiry, v.salt)).toBe(v.password);
      const issued = issueCredentials(v.secret, v.expiry, v.salt);
      expect(issued.username).toBe(v.username);
      expect(issued.password).toBe(v.password);
      expect(issued.realm).toBe("firezone");
    });
  }

  for (const v of vectors.vectors.filter((v: any) => v.kind === "verify_message_integrity")) {
    test(`${v.test}: ${v.expected_valid ? "valid" : v.expected_error}`, () => {
      // The HMAC in the vector was made with signing_secret/signing_username; verify as the relay would.
      const mi = Buffer.from(v.message_integrity_hmac_sha1_hex, "hex");
      const result = verifyMessageIntegrity(v.secret, v.username, v.now, sampleSigned(), new Uint8Array(mi));
      if (v.expected_valid) expect(result).toEqual({ ok: true });
      else expect(result).toEqual({ ok: false, error: v.expected_error });
    });
  }

  test("the DERIVED smoke message's MESSAGE-INTEGRITY verifies with the relay secret", () => {
    const msg = hexFixture("stun-binding-request-message-integrity-smoke.hex");
    expect(msg.length).toBe(44);
    const ok = verifyMessageIntegrity(vectors.relay_secret_1, "1685200000:n23JJ2wKKtt30oXi", 1685199000, msg.subarray(0, 20), msg.subarray(24, 44));
    expect(ok).toEqual({ ok: true });
    const wrongSecret = verifyMessageIntegrity(vectors.relay_secret_2, "1685200000:n23JJ2wKKtt30oXi", 1685199000, msg.subarray(0, 20), msg.subarray(24, 44));
    expect(wrongSecret).toEqual({ ok: false, error: "InvalidPassword" });
  });
});

describe("checkUsername", () => {
  const secret = "s3cret";
  test("accepts the expiry instant itself, refuses one second after", () => {
    expect(checkUsername(secret, "100:salt", 100).ok).toBe(true);
    expect(checkUsername(secret, "100:salt", 100.5)).toEqual({ ok: false, error: "Expired" });
  });
  test("username shape errors", () => {
    for (const bad of ["", "foobar", "1:2:3", ":salt", "-1:salt", "12a:salt", " 12:salt", "18446744073709551616:s"]) {
      expect(checkUsername(secret, bad, 0)).toEqual({ ok: false, error: "InvalidUsername" });
    }
    expect(checkUsername(secret, "18446744073709551615:s", 0).ok).toBe(true);
    expect(checkUsername(secret, "100:", 0).ok).toBe(true);
  });
  test("the key is built from the normalised username, as Firezone rebuilds it", () => {
    const a = checkUsername(secret, "+0042:x", 0);
    const b = checkUsername(secret, "42:x", 0);
    if (!a.ok || !b.ok) throw new Error("both must pass");
    expect(a.password).toBe(b.password);
    expect(a.key).toEqual(longTermKey("42:x", "firezone", b.password));
  });
});

describe("issuing", () => {
  test("random salts are 16 url-safe characters and secrets 64 hex", () => {
    const s = randomSalt();
    expect(s).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(randomSalt()).not.toBe(s);
    expect(generateSecret()).toMatch(/^[0-9a-f]{64}$/);
  });
  test("issued credentials verify; bad inputs are refused", () => {
    const c = issueCredentials("k", 2_000_000_000);
    const check = checkUsername("k", c.username, 1_900_000_000);
    expect(check.ok && check.password === c.password).toBe(true);
    expect(() => issueCredentials("k", 1.5)).toThrow(RangeError);
    expect(() => issueCredentials("k", 5, "a:b")).toThrow(RangeError);
  });
});
