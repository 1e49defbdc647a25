import { SEVERITIES } from "./severity.ts";

/**
 * The human form of a log record, `TIME SEVERITY target: message key=value…`, shared by the
 * console sink and `firezone logs`. This file is the reference: the byte-level fast path in
 * `line-format.ts` must produce exactly what `renderObject` produces (a test checks it).
 */

/** Rank of a severity name, also Firezone's older and Stackdriver spellings; -1 when unknown. */
export function severityRank(name: string): number {
  switch (name.toUpperCase()) {
    case "TRACE":
      return 0;
    case "DEBUG":
      return 1;
    case "INFO":
    case "NOTICE":
    case "DEFAULT":
      return 2;
    case "WARN":
    case "WARNING":
      return 3;
    case "ERROR":
    case "ERR":
    case "CRITICAL":
    case "ALERT":
    case "EMERGENCY":
    case "FATAL":
      return 4;
    default:
      return -1;
  }
}

/** The severity column: the canonical name padded to five characters. */
export function severityLabel(name: string): string {
  const rank = severityRank(name);
  const label = rank >= 0 ? SEVERITIES[rank]! : escapeControls(name);
  return label.length >= 5 ? label : (label + "     ").slice(0, 5);
}

export const SEVERITY_COLORS: readonly string[] = ["\x1b[35m", "\x1b[34m", "\x1b[32m", "\x1b[33m", "\x1b[31m"];
export const COLOR_RESET = "\x1b[0m";

/** Keeps one record on one line and terminal escapes out of the terminal. */
export function escapeControls(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\x00-\x1f\x7f-\x9f]/.test(s)) return s;
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => {
    switch (c) {
      case "\n":
        return "\\n";
      case "\r":
        return "\\r";
      case "\t":
        return "\\t";
      default:
        return "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
    }
  });
}

/** A bare string stays bare only when it is visibly one token; anything else is JSON-quoted. */
export function isBare(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x22 || c === 0x5c || (c >= 0x7f && c <= 0xa0) || (c >= 0xd800 && c <= 0xdfff)) return false;
  }
  return true;
}

export function renderValue(v: unknown): string {
  if (typeof v === "string") return isBare(v) ? v : JSON.stringify(v);
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Error) return JSON.stringify(v.message);
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  const json = safeStringify(v);
  return json === undefined ? "undefined" : json;
}

function safeStringify(v: unknown): string | undefined {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x instanceof Error ? x.message : x));
  } catch {
    return '"[unserialisable]"';
  }
}

const STRICT_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z$/;
const WITH_OFFSET = /^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(\.\d{1,9})?([Zz]|[+-]\d\d:?\d\d)$/;

/** `2026-11-26T04:51:45.123456789Z` exactly, the form our logger writes. */
export function isStrictUtc(time: string): boolean {
  return STRICT_UTC.test(time);
}

const localCache = new Map<string, string>();

/**
 * Local wall time for a UTC minute `YYYY-MM-DDTHH:MM`, with its offset after a `|`. Offsets are
 * whole minutes, so seconds and fractions carry over unchanged; records arrive in time order,
 * so one minute's answer serves many lines.
 */
export function localMinute(utcMinute: string): string {
  let hit = localCache.get(utcMinute);
  if (hit !== undefined) return hit;
  const d = new Date(utcMinute + ":00Z");
  const offset = -d.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  hit =
    `${d.getFullYear().toString().padStart(4, "0")}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}` +
    `|${sign}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
  if (localCache.size > 4096) localCache.clear();
  localCache.set(utcMinute, hit);
  return hit;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/** Converts a strict UTC time to local time, keeping every fractional digit. */
export function strictUtcToLocal(time: string): string {
  const local = localMinute(time.slice(0, 16));
  const bar = local.indexOf("|");
  return local.slice(0, bar) + time.slice(16, time.length - 1) + local.slice(bar + 1);
}

/** A record's time as shown: UTC (RFC 3339, fraction kept) or local; unparseable text as-is. */
export function renderTime(time: string, local: boolean): string {
  if (isStrictUtc(time)) return local ? strictUtcToLocal(time) : time;
  const m = WITH_OFFSET.exec(time);
  if (!m) return escapeControls(time);
  let ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  const zone = m[8]!;
  if (zone !== "Z" && zone !== "z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    ms -= sign * (+digits.slice(0, 2) * 60 + +digits.slice(2)) * 60_000;
  }
  if (!Number.isFinite(ms)) return escapeControls(time);
  const utc = new Date(ms).toISOString().slice(0, 19) + (m[7] ?? "") + "Z";
  return local ? strictUtcToLocal(utc) : utc;
}

/** Milliseconds since the epoch (with fraction) of a record time, NaN when it has none. */
export function timeKey(time: string): number {
  if (isStrictUtc(time)) return strictTimeKey(time);
  const utc = renderTime(time, false);
  return isStrictUtc(utc) ? strictTimeKey(utc) : NaN;
}

const minuteCache = new Map<string, number>();

/** Shared by both render paths so they agree to the last bit. */
export function strictTimeKey(time: string): number {
  const minute = time.slice(0, 16);
  let base = minuteCache.get(minute);
  if (base === undefined) {
    base = Date.parse(minute + ":00Z");
    if (minuteCache.size > 4096) minuteCache.clear();
    minuteCache.set(minute, base);
  }
  const seconds = (time.charCodeAt(17) - 48) * 10 + (time.charCodeAt(18) - 48);
  let frac = 0;
  let scale = 100;
  for (let i = 20; i < time.length - 1; i++) {
    frac += (time.charCodeAt(i) - 48) * scale;
    scale /= 10;
  }
  return base + seconds * 1000 + frac;
}

/** What the reference renderer extracts from a parsed record, for display and for filters. */
export interface RenderedRecord {
  /** The time as shown (already UTC or local). Empty when the record has none. */
  time: string;
  /** Raw time text for `--since`/`--until`. */
  rawTime: string | undefined;
  rank: number;
  severity: string;
  target: string;
  /** `span{k=v}:span2` or empty. */
  spans: string;
  message: string;
  /** ` k=v k2=v2` with a leading space per field, or empty. */
  fields: string;
}

const HIDDEN = new Set(["time", "timestamp", "severity", "level", "target", "message", "span", "spans"]);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Reads our JSONL records and Firezone's (`fields`, `span`, `spans`, `timestamp`, `level`). */
export function renderObject(o: Record<string, unknown>, local: boolean): RenderedRecord {
  const t = "time" in o ? o.time : o.timestamp;
  const rawTime = t === undefined ? undefined : typeof t === "string" ? t : renderValue(t);
  const sev = "severity" in o ? o.severity : o.level;
  const sevText = sev === undefined ? "" : typeof sev === "string" ? sev : renderValue(sev);
  const nested = isPlainObject(o.fields) ? o.fields : undefined;
  let msg: unknown = o.message;
  let messageFromFields = false;
  if (msg === undefined && nested && "message" in nested) {
    msg = nested.message;
    messageFromFields = true;
  }
  let fields = "";
  for (const key of Object.keys(o)) {
    if (HIDDEN.has(key) || key.startsWith("logging.googleapis.com/")) continue;
    const v = o[key];
    if (key === "fields" && nested) {
      for (const k of Object.keys(nested)) {
        if (k === "message" && messageFromFields) continue;
        const nv = nested[k];
        if (nv !== undefined) fields += ` ${escapeControls(k)}=${renderValue(nv)}`;
      }
      continue;
    }
    if (v !== undefined) fields += ` ${escapeControls(key)}=${renderValue(v)}`;
  }
  let spans = "";
  if (Array.isArray(o.spans) && o.spans.length > 0) spans = o.spans.map(renderSpan).join(":");
  else if (o.span !== undefined) spans = renderSpan(o.span);
  const target = o.target === undefined ? "" : typeof o.target === "string" ? escapeControls(o.target) : renderValue(o.target);
  return {
    time: rawTime === undefined ? "" : renderTime(rawTime, local),
    rawTime,
    rank: severityRank(sevText),
    severity: sev === undefined ? "" : severityLabel(sevText),
    target,
    spans,
    message: msg === undefined ? "" : typeof msg === "string" ? escapeControls(msg) : renderValue(msg),
    fields,
  };
}

function renderSpan(span: unknown): string {
  if (!isPlainObject(span)) return renderValue(span);
  const name = typeof span.name === "string" ? escapeControls(span.name) : "span";
  let inner = "";
  for (const k of Object.keys(span)) {
    if (k === "name" || span[k] === undefined) continue;
    inner += `${inner ? " " : ""}${escapeControls(k)}=${renderValue(span[k])}`;
  }
  return inner ? `${name}{${inner}}` : name;
}

/** Joins the parts: `TIME SEVERITY target: spans: message fields`, severity coloured if asked. */
export function renderLine(r: RenderedRecord, color: boolean): string {
  let line = "";
  if (r.time) line += r.time + " ";
  if (r.severity) line += (color && r.rank >= 0 ? SEVERITY_COLORS[r.rank] + r.severity + COLOR_RESET : r.severity) + " ";
  if (r.target) line += r.target + ": ";
  if (r.spans) line += r.spans + ": ";
  // A record with nothing but fields starts with its first field, not a space.
  return line === "" && r.message === "" ? r.fields.slice(1) : line + r.message + r.fields;
}
