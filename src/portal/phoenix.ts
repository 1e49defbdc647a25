/**
 * The Phoenix channel envelope as Firezone's `phoenix-channel` crate speaks it (v1 JSON objects,
 * not the v2 arrays): `{"topic","event","payload","ref"}`. Both sides of the wire use this file:
 * the portal server and the channel client.
 *
 * Output is byte-exact with Firezone's: keys in the order topic, event, payload, ref; a message
 * without payload (a unit enum variant) has no `payload` key; a push without a ref has no `ref`.
 */

export const PHOENIX_TOPIC = "phoenix";
export const EVENT_JOIN = "phx_join";
export const EVENT_LEAVE = "phx_leave";
export const EVENT_REPLY = "phx_reply";
export const EVENT_CLOSE = "phx_close";
export const EVENT_ERROR = "phx_error";
export const EVENT_HEARTBEAT = "heartbeat";
export const EVENT_DISCONNECT = "disconnect";

/** A decoded envelope. `ref` is a number, or null when absent, null, or not a whole number. */
export interface PhoenixMessage {
  topic: string;
  event: string;
  payload: unknown;
  ref: number | null;
  /** The ref exactly as sent (Firezone's tests carry "12" as a string). */
  rawRef: unknown;
}

export type DecodeError = "malformed_json" | "not_an_object" | "missing_topic" | "missing_event";

export type DecodeResult = { ok: true; message: PhoenixMessage } | { ok: false; error: DecodeError };

/** Parses one text frame; never throws. */
export function decodeMessage(text: string): DecodeResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: "malformed_json" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, error: "not_an_object" };
  const o = value as Record<string, unknown>;
  if (typeof o.topic !== "string") return { ok: false, error: "missing_topic" };
  if (typeof o.event !== "string") return { ok: false, error: "missing_event" };
  const ref = typeof o.ref === "number" && Number.isSafeInteger(o.ref) && o.ref >= 0 ? o.ref : null;
  return { ok: true, message: { topic: o.topic, event: o.event, payload: o.payload, ref, rawRef: o.ref } };
}

/**
 * Encodes one envelope. `payload` undefined omits the key (a unit variant), `ref` undefined omits
 * the key (a server push), `ref` null writes `"ref":null`.
 */
export function encodeMessage(topic: string, event: string, payload?: unknown, ref?: number | string | null): string {
  let out = `{"topic":${JSON.stringify(topic)},"event":${JSON.stringify(event)}`;
  if (payload !== undefined) out += `,"payload":${JSON.stringify(payload)}`;
  if (ref !== undefined) out += `,"ref":${JSON.stringify(ref)}`;
  return out + "}";
}

/**
 * The application-level message as connlib serialises it before the phoenix layer wraps it:
 * `{"event":…,"payload":…}` (serde's `tag = "event", content = "payload"`).
 */
export function encodeEvent(event: string, payload?: unknown): string {
  return payload === undefined ? `{"event":${JSON.stringify(event)}}` : `{"event":${JSON.stringify(event)},"payload":${JSON.stringify(payload)}}`;
}

/** `phx_reply` with `{status:"ok", response}`. */
export function encodeReplyOk(topic: string, ref: unknown, response: unknown = {}): string {
  return encodeMessage(topic, EVENT_REPLY, { status: "ok", response }, refForReply(ref));
}

/** `phx_reply` with `{status:"error", response:{reason}}`, Firezone's error reply shape. */
export function encodeReplyError(topic: string, ref: unknown, reason: string): string {
  return encodeMessage(topic, EVENT_REPLY, { status: "error", response: { reason } }, refForReply(ref));
}

function refForReply(ref: unknown): number | string | null {
  return typeof ref === "number" || typeof ref === "string" ? ref : null;
}

/** A reply's payload, as the client reads it. */
export type ReplyPayload = { status: "ok"; response: unknown } | { status: "error"; reason: string };

export function parseReply(payload: unknown): ReplyPayload | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  const p = payload as { status?: unknown; response?: unknown };
  if (p.status === "ok") return { status: "ok", response: p.response };
  if (p.status === "error") {
    const reason = (p.response as { reason?: unknown } | null)?.reason;
    return { status: "error", reason: typeof reason === "string" ? reason : "unknown" };
  }
  return undefined;
}
