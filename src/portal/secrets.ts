/**
 * The per-authorization secrets the portal mints: a WireGuard pre-shared key and ICE credentials
 * for both ends (shaped like the portal's: 4-character ufrag, 22-character password, [a-z0-9]).
 */
import type { IceCredentials } from "./messages/common.ts";

const ICE_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

export function newPresharedKey(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64");
}

export function newIceCredentials(): IceCredentials {
  return { username: randomText(4), password: randomText(22) };
}

/** An opaque, unguessable reference for `create_authorization.ref`. */
export function newReference(): string {
  const bytes = new Uint8Array(24);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64url");
}

function randomText(n: number): string {
  // 252 is the largest multiple of 36 below 256: rejecting above it keeps the choice uniform.
  const out: string[] = [];
  const bytes = new Uint8Array(n * 2);
  while (out.length < n) {
    crypto.getRandomValues(bytes);
    for (const b of bytes) {
      if (b < 252 && out.length < n) out.push(ICE_ALPHABET[b % 36]!);
    }
  }
  return out.join("");
}
