import { createHash, createHmac } from "node:crypto";
import { REALM } from "./constants.ts";

/**
 * Firezone's relay credentials (rust/relay/proto/src/auth.rs): the portal and the relay share a
 * secret, so the relay can check any username/password pair without storing per-user state.
 *
 *   username = "<unix expiry seconds>:<salt>"
 *   password = base64 without padding of sha256("<expiry>:<secret>:<salt>")
 *
 * The secret is used as the text given (Firezone's relay makes 64 hex characters, never decoded).
 * MESSAGE-INTEGRITY then uses the RFC 8489 long-term key MD5("<username>:firezone:<password>").
 */
export interface RelayCredentials {
  username: string;
  password: string;
  realm: string;
  /** Unix seconds; the credentials are refused once this instant has passed. */
  expiresAt: number;
}

/** Why a username cannot authenticate; the names of Firezone's `auth::Error` variants. */
export type CredentialError = "InvalidUsername" | "Expired" | "InvalidPassword";

export type CredentialCheck =
  | { ok: true; expiry: bigint; salt: string; password: string; key: Uint8Array }
  | { ok: false; error: Exclude<CredentialError, "InvalidPassword"> };

/** Credentials the portal hands to a client or gateway for this relay. */
export function issueCredentials(secret: string, expiresAt: number, salt: string = randomSalt()): RelayCredentials {
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0) throw new RangeError(`expiresAt must be whole unix seconds, got ${expiresAt}`);
  if (salt.includes(":")) throw new RangeError("a salt must not contain ':' (the username would not split in two)");
  return { username: `${expiresAt}:${salt}`, password: generatePassword(secret, expiresAt, salt), realm: REALM, expiresAt };
}

/** base64_nopad(sha256("<expiry>:<secret>:<salt>")), Firezone's `generate_password`. */
export function generatePassword(secret: string, expiry: number | bigint, salt: string): string {
  const digest = createHash("sha256").update(`${expiry}:${secret}:${salt}`).digest("base64");
  return digest.replace(/=+$/, "");
}

/**
 * Checks a username the way Firezone's relay does before MESSAGE-INTEGRITY: exactly two parts
 * split on ':', the expiry a u64, not in the past. On success it returns the password and the
 * long-term key that MESSAGE-INTEGRITY must verify under.
 *
 * Firezone rebuilds the username as "<expiry as parsed>:<salt>" for the key, so "0042:x" is checked
 * as "42:x"; we do the same so a client that signs with either form behaves as it would there.
 */
export function checkUsername(secret: string, username: string, nowUnixSeconds: number): CredentialCheck {
  const parts = username.split(":");
  if (parts.length !== 2) return { ok: false, error: "InvalidUsername" };
  const [expiryText, salt] = parts as [string, string];
  // Rust's u64::from_str: optional '+', then ASCII digits only, at most 2^64-1.
  if (!/^\+?[0-9]+$/.test(expiryText)) return { ok: false, error: "InvalidUsername" };
  const expiry = BigInt(expiryText.startsWith("+") ? expiryText.slice(1) : expiryText);
  if (expiry > 0xffff_ffff_ffff_ffffn) return { ok: false, error: "InvalidUsername" };
  // Firezone: expired when expiry < now, where now has sub-second precision.
  if (Number(expiry) < nowUnixSeconds) return { ok: false, error: "Expired" };
  const password = generatePassword(secret, expiry, salt);
  return { ok: true, expiry, salt, password, key: longTermKey(`${expiry}:${salt}`, REALM, password) };
}

/** RFC 8489 §9.2.2: key = MD5(username ":" realm ":" password) for MESSAGE-INTEGRITY. */
export function longTermKey(username: string, realm: string, password: string): Uint8Array {
  return new Uint8Array(createHash("md5").update(`${username}:${realm}:${password}`).digest());
}

/**
 * Full check of a long-term-credential HMAC as Firezone's `MessageIntegrityExt::verify` does it:
 * username rules first, then HMAC-SHA1 under the derived key over `signed` (the message up to the
 * MESSAGE-INTEGRITY attribute, header length already covering it).
 */
export function verifyMessageIntegrity(
  secret: string,
  username: string,
  nowUnixSeconds: number,
  signed: Uint8Array,
  hmac: Uint8Array,
): { ok: true } | { ok: false; error: CredentialError } {
  const check = checkUsername(secret, username, nowUnixSeconds);
  if (!check.ok) return check;
  const expected = createHmac("sha1", check.key).update(signed).digest();
  if (expected.length !== hmac.length) return { ok: false, error: "InvalidPassword" };
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected[i]! ^ hmac[i]!;
  return diff === 0 ? { ok: true } : { ok: false, error: "InvalidPassword" };
}

/** 16 URL-safe characters like the portal's salts ("n23JJ2wKKtt30oXi"), never containing ':'. */
export function randomSalt(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64url");
}

/** A fresh relay secret: 32 random bytes as 64 hex characters, as Firezone's relay makes it. */
export function generateSecret(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("hex");
}
