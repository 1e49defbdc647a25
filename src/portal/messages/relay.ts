/**
 * The relay's side of the portal (`rust/relay/server/src/main.rs`): it joins topic "relay" with
 * the secret it made at start and receives `init {}`; nothing else flows on this channel.
 */
export const RELAY_TOPIC = "relay";

export interface RelayJoin {
  stamp_secret: string;
}

export function parseRelayJoin(payload: unknown): RelayJoin | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  const secret = (payload as { stamp_secret?: unknown }).stamp_secret;
  // Firezone's relay sends 64 hex characters; anything printable of sane length is accepted.
  return typeof secret === "string" && /^[\x21-\x7e]{16,256}$/.test(secret) ? { stamp_secret: secret } : undefined;
}
