import { createHash } from "node:crypto";
import type { Store, Token, TokenKind } from "./store/store.ts";

/**
 * Portal tokens: 32 random bytes, shown once, stored only as their SHA-256. The kind is in the
 * text (`fzp_gateway_…`) so a person can tell tokens apart; it is not trusted, the stored kind is.
 */
export function newTokenSecret(kind: TokenKind): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return `fzp_${kind}_${Buffer.from(bytes).toString("base64url")}`;
}

export function hashTokenSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export type TokenCheck = { ok: true; token: Token } | { ok: false; reason: "missing_token" | "invalid_token" | "token_revoked" | "token_expired" };

/** Looks a presented secret up and says why it cannot be used, if it cannot. */
export function checkToken(store: Store, secret: string | null | undefined, now: number): TokenCheck {
  if (!secret) return { ok: false, reason: "missing_token" };
  const token = store.findTokenByHash(hashTokenSecret(secret));
  return token ? tokenState(token, now) : { ok: false, reason: "invalid_token" };
}

export function tokenState(token: Token, now: number): TokenCheck {
  if (token.revokedAt !== null) return { ok: false, reason: "token_revoked" };
  if (token.expiresAt !== null && token.expiresAt <= now) return { ok: false, reason: "token_expired" };
  return { ok: true, token };
}

/** Creates a token with a fresh secret (or a given one, for configuration files) and returns both. */
export function issueToken(
  store: Store,
  input: Parameters<Store["createToken"]>[0],
  now: number,
  secret: string = newTokenSecret(input.kind),
): { token: Token; secret: string } {
  return { token: store.createToken(input, hashTokenSecret(secret), now), secret };
}
