import { OutBuffer } from "./out-buffer.ts";
import { COLOR_RESET, escapeControls, localMinute, renderLine, renderObject, SEVERITY_COLORS, strictTimeKey, timeKey } from "./pretty.ts";
import { SEVERITIES } from "./severity.ts";

export interface LineFormatOptions {
  /** Colour the severity column. */
  color: boolean;
  /** Show local time instead of UTC. */
  local: boolean;
  /** Pass matching lines through unchanged instead of rendering them (`--json`). */
  json: boolean;
  /** Lowest severity rank shown; 0 shows all. */
  minRank: number;
  /** Only targets starting with this text. */
  targetPrefix: string | undefined;
  /** Only records at or after / at or before these instants (ms since the epoch). */
  since: number | undefined;
  until: number | undefined;
  /** Only records whose message and fields (as shown) match. */
  grep: RegExp | undefined;
}

export const enum LineResult {
  Shown,
  Filtered,
  Malformed,
  Empty,
}

const FALLBACK = -1;

// Value kinds recorded by the fast scanner.
const BARE = 1; // string that renders as itself
const QUOTED = 2; // string that renders JSON-quoted: its raw slice plus quotes
const INT = 3; // integer whose text is its canonical JSON form
const NUM = 4; // other number: rendered through Number() and JSON.stringify
const LIT = 5; // true, false, null

const MAX_KEYS = 64;
const ascii = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));
const MALFORMED_PLAIN = "[malformed] ";
const MALFORMED_COLOR = "\x1b[31m[malformed]\x1b[0m ";
const SEV_BYTES_PLAIN = SEVERITIES.map((s) => ascii((s + "     ").slice(0, 5) + " "));
const SEV_BYTES_COLOR = SEVERITIES.map((s, i) => ascii(SEVERITY_COLORS[i] + (s + "     ").slice(0, 5) + COLOR_RESET + " "));

/**
 * Turns one JSONL line into one output line. Lines in the shape our logger writes (flat object,
 * ASCII strings without escapes, the four header keys once each) are rendered straight from the
 * bytes; anything else goes through `JSON.parse` and the reference renderer in `pretty.ts`. Both
 * paths produce the same bytes for every line the fast one accepts (checked by a test), so the
 * fast path is an optimisation, never a second format.
 */
export class LineFormatter {
  /** Lines that are not JSON objects; shown with a marker unless a filter hides them. */
  malformed = 0;
  malformedHidden = 0;
  shown = 0;
  /** Lines the fast path handled, for profiling. */
  fast = 0;
  private readonly ks = new Int32Array(MAX_KEYS);
  private readonly ke = new Int32Array(MAX_KEYS);
  private readonly vs = new Int32Array(MAX_KEYS);
  private readonly ve = new Int32Array(MAX_KEYS);
  private readonly vk = new Uint8Array(MAX_KEYS);
  private readonly sevBytes: Uint8Array[];
  private readonly targetPrefix: Uint8Array | undefined;
  private readonly decoder = new TextDecoder();
  private readonly lastMinute = new Uint8Array(16);
  private localPrefix = new Uint8Array(16);
  private localOffset = new Uint8Array(0);
  private haveMinute = false;

  constructor(private readonly opts: LineFormatOptions, readonly out: OutBuffer) {
    this.sevBytes = opts.color ? SEV_BYTES_COLOR : SEV_BYTES_PLAIN;
    this.targetPrefix = opts.targetPrefix ? new TextEncoder().encode(opts.targetPrefix) : undefined;
  }

  line(b: Buffer, s: number, e: number): LineResult {
    let p = s;
    while (p < e && (b[p] === 0x20 || b[p] === 0x09 || b[p] === 0x0d || b[p] === 0x0a)) p++;
    if (p === e) return LineResult.Empty;
    const r = this.fastLine(b, s, e);
    if (r !== FALLBACK) {
      this.fast++;
      if (r === LineResult.Shown) this.shown++;
      return r;
    }
    return this.slowLine(b, s, e);
  }

  /** Exposed for the equivalence test: the reference path alone. */
  slowLine(b: Buffer, s: number, e: number): LineResult {
    const text = this.decoder.decode(b.subarray(s, e));
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch {
      return this.malformedLine(text);
    }
    if (typeof o !== "object" || o === null || Array.isArray(o)) return this.malformedLine(text);
    const rec = o as Record<string, unknown>;
    const r = renderObject(rec, this.opts.local);
    const opts = this.opts;
    if (opts.minRank > 0 && (r.rank >= 0 ? r.rank : 2) < opts.minRank) return LineResult.Filtered;
    if (opts.targetPrefix !== undefined) {
      const target = typeof rec.target === "string" ? rec.target : r.target;
      if (!target.startsWith(opts.targetPrefix)) return LineResult.Filtered;
    }
    if (opts.since !== undefined || opts.until !== undefined) {
      const key = r.rawTime === undefined ? NaN : timeKey(r.rawTime);
      if (!(key >= (opts.since ?? -Infinity) && key <= (opts.until ?? Infinity))) return LineResult.Filtered;
    }
    if (opts.grep && !opts.grep.test(r.message + r.fields)) return LineResult.Filtered;
    const out = this.out;
    out.begin();
    if (opts.json) {
      out.bytes(b, s, e);
      out.ensure(1);
      out.buf[out.pos++] = 0x0a;
    } else out.string(renderLine(r, opts.color) + "\n");
    this.shown++;
    return LineResult.Shown;
  }

  private malformedLine(text: string): LineResult {
    this.malformed++;
    const o = this.opts;
    if (o.json) return LineResult.Malformed;
    // A broken line has no severity, target or time that could match; only --grep can see it.
    if (o.minRank > 0 || o.targetPrefix !== undefined || o.since !== undefined || o.until !== undefined || (o.grep && !o.grep.test(text))) {
      this.malformedHidden++;
      return LineResult.Filtered;
    }
    this.out.begin();
    this.out.string((this.opts.color ? MALFORMED_COLOR : MALFORMED_PLAIN) + escapeControls(text) + "\n");
    return LineResult.Malformed;
  }

  /** The byte-level path; FALLBACK whenever the line is not in the simple shape. */
  private fastLine(b: Buffer, s: number, e: number): number {
    const ks = this.ks;
    const ke = this.ke;
    const vs = this.vs;
    const ve = this.ve;
    const vk = this.vk;
    let p = s;
    let c = 0;
    while (p < e && ((c = b[p]!) === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a)) p++;
    if (p >= e || b[p] !== 0x7b) return FALLBACK;
    p++;
    while (p < e && ((c = b[p]!) === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a)) p++;
    let n = 0;
    let timeI = -1;
    let sevI = -1;
    let targetI = -1;
    let msgI = -1;
    if (p < e && b[p] === 0x7d) p++;
    else {
      for (;;) {
        if (p >= e || b[p] !== 0x22 || n === MAX_KEYS) return FALLBACK;
        const keyStart = ++p;
        let digitsOnly = true;
        for (;;) {
          if (p >= e) return FALLBACK;
          c = b[p]!;
          if (c === 0x22) break;
          if (c < 0x20 || c > 0x7e || c === 0x5c) return FALLBACK;
          if (c < 0x30 || c > 0x39) digitsOnly = false;
          p++;
        }
        const keyEnd = p++;
        // Integer-like keys are reordered by JSON.parse; leave them to it.
        if (digitsOnly) return FALLBACK;
        while (p < e && ((c = b[p]!) === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a)) p++;
        if (p >= e || b[p] !== 0x3a) return FALLBACK;
        p++;
        while (p < e && ((c = b[p]!) === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a)) p++;
        if (p >= e) return FALLBACK;
        c = b[p]!;
        let valueStart: number;
        let kind: number;
        if (c === 0x22) {
          valueStart = ++p;
          kind = BARE;
          for (;;) {
            if (p >= e) return FALLBACK;
            c = b[p]!;
            if (c === 0x22) break;
            if (c <= 0x20) {
              if (c !== 0x20) return FALLBACK;
              kind = QUOTED;
            } else if (c > 0x7e || c === 0x5c) return FALLBACK;
            p++;
          }
          if (p === valueStart) kind = QUOTED;
          vs[n] = valueStart;
          ve[n] = p++;
        } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
          valueStart = p;
          kind = INT;
          if (c === 0x2d) {
            p++;
            if (p >= e) return FALLBACK;
            c = b[p]!;
            if (c < 0x30 || c > 0x39) return FALLBACK;
          }
          if (c === 0x30) {
            p++;
            if (p < e && (c = b[p]!) >= 0x30 && c <= 0x39) return FALLBACK;
          } else while (p < e && (c = b[p]!) >= 0x30 && c <= 0x39) p++;
          if (p < e && b[p] === 0x2e) {
            kind = NUM;
            p++;
            if (p >= e || (c = b[p]!) < 0x30 || c > 0x39) return FALLBACK;
            while (p < e && (c = b[p]!) >= 0x30 && c <= 0x39) p++;
          }
          if (p < e && ((c = b[p]!) === 0x65 || c === 0x45)) {
            kind = NUM;
            p++;
            if (p < e && ((c = b[p]!) === 0x2b || c === 0x2d)) p++;
            if (p >= e || (c = b[p]!) < 0x30 || c > 0x39) return FALLBACK;
            while (p < e && (c = b[p]!) >= 0x30 && c <= 0x39) p++;
          }
          // Canonical only without a sign on zero and within exact double range.
          if (kind === INT && (p - valueStart > 15 || (b[valueStart] === 0x2d && b[valueStart + 1] === 0x30))) kind = NUM;
          vs[n] = valueStart;
          ve[n] = p;
        } else if (c === 0x74 && p + 3 < e && b[p + 1] === 0x72 && b[p + 2] === 0x75 && b[p + 3] === 0x65) {
          kind = LIT;
          vs[n] = p;
          ve[n] = p += 4;
        } else if (c === 0x66 && p + 4 < e && b[p + 1] === 0x61 && b[p + 2] === 0x6c && b[p + 3] === 0x73 && b[p + 4] === 0x65) {
          kind = LIT;
          vs[n] = p;
          ve[n] = p += 5;
        } else if (c === 0x6e && p + 3 < e && b[p + 1] === 0x75 && b[p + 2] === 0x6c && b[p + 3] === 0x6c) {
          kind = LIT;
          vs[n] = p;
          ve[n] = p += 4;
        } else return FALLBACK;
        ks[n] = keyStart;
        ke[n] = keyEnd;
        vk[n] = kind;
        // Header keys and the other spellings the reference renderer treats specially.
        const len = keyEnd - keyStart;
        const k0 = b[keyStart]!;
        if (len === 4 && k0 === 0x74 && b[keyStart + 1] === 0x69 && b[keyStart + 2] === 0x6d && b[keyStart + 3] === 0x65) {
          if (timeI >= 0 || kind !== BARE) return FALLBACK;
          timeI = n;
        } else if (len === 8 && k0 === 0x73 && eq(b, keyStart, "severity")) {
          if (sevI >= 0 || kind !== BARE) return FALLBACK;
          sevI = n;
        } else if (len === 6 && k0 === 0x74 && eq(b, keyStart, "target")) {
          if (targetI >= 0 || kind !== BARE) return FALLBACK;
          targetI = n;
        } else if (len === 7 && k0 === 0x6d && eq(b, keyStart, "message")) {
          if (msgI >= 0 || (kind !== BARE && kind !== QUOTED)) return FALLBACK;
          msgI = n;
        } else if (
          (len === 9 && k0 === 0x74 && eq(b, keyStart, "timestamp")) ||
          (len === 5 && k0 === 0x6c && eq(b, keyStart, "level")) ||
          (len === 6 && k0 === 0x66 && eq(b, keyStart, "fields")) ||
          (len === 4 && k0 === 0x73 && eq(b, keyStart, "span")) ||
          (len === 5 && k0 === 0x73 && eq(b, keyStart, "spans")) ||
          (len >= 23 && k0 === 0x6c && eq(b, keyStart, "logging.googleapis.com/"))
        ) {
          return FALLBACK;
        }
        n++;
        while (p < e && ((c = b[p]!) === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a)) p++;
        if (p >= e) return FALLBACK;
        c = b[p++]!;
        if (c === 0x7d) break;
        if (c !== 0x2c) return FALLBACK;
        while (p < e && ((c = b[p]!) === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a)) p++;
      }
    }
    while (p < e && ((c = b[p]!) === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a)) p++;
    if (p !== e || timeI < 0 || sevI < 0 || targetI < 0 || msgI < 0) return FALLBACK;
    if (ve[targetI] === vs[targetI]) return FALLBACK;
    // A repeated field key: JSON.parse keeps the last value at the first position.
    for (let i = 0; i < n; i++) {
      const li = ke[i]! - ks[i]!;
      for (let j = i + 1; j < n; j++) {
        if (ke[j]! - ks[j]! !== li) continue;
        let k = 0;
        while (k < li && b[ks[i]! + k] === b[ks[j]! + k]) k++;
        if (k === li) return FALLBACK;
      }
    }
    const rank = severityRankBytes(b, vs[sevI]!, ve[sevI]!);
    if (rank < 0) return FALLBACK;
    const ts = vs[timeI]!;
    const te = ve[timeI]!;
    if (!strictUtcBytes(b, ts, te)) return FALLBACK;

    const opts = this.opts;
    if (rank < opts.minRank) return LineResult.Filtered;
    const prefix = this.targetPrefix;
    if (prefix !== undefined) {
      const tgs = vs[targetI]!;
      if (ve[targetI]! - tgs < prefix.length) return LineResult.Filtered;
      for (let i = 0; i < prefix.length; i++) if (b[tgs + i] !== prefix[i]) return LineResult.Filtered;
    }
    if (opts.since !== undefined || opts.until !== undefined) {
      const key = strictTimeKey(latin1(b, ts, te));
      if (!(key >= (opts.since ?? -Infinity) && key <= (opts.until ?? Infinity))) return LineResult.Filtered;
    }

    const out = this.out;
    out.begin();
    if (opts.json && !opts.grep) {
      out.bytes(b, s, e);
      out.ensure(1);
      out.buf[out.pos++] = 0x0a;
      return LineResult.Shown;
    }
    // Upper bound of the rendered size: every part is copied once, plus fixed decorations.
    out.ensure(e - s + 4 * n + 64);
    let o = out.buf;
    let q = out.pos;
    let lineBase = q;
    if (opts.local) {
      this.localMinuteBytes(b, ts);
      const lp = this.localPrefix;
      for (let i = 0; i < 16; i++) o[q++] = lp[i]!;
      for (let i = ts + 16; i < te - 1; i++) o[q++] = b[i]!;
      const off = this.localOffset;
      for (let i = 0; i < off.length; i++) o[q++] = off[i]!;
    } else q += b.copy(o, q, ts, te);
    o[q++] = 0x20;
    const sev = this.sevBytes[rank]!;
    for (let i = 0; i < sev.length; i++) o[q++] = sev[i]!;
    for (let i = vs[targetI]!, end = ve[targetI]!; i < end; i++) o[q++] = b[i]!;
    o[q++] = 0x3a;
    o[q++] = 0x20;
    let msgStart = q;
    const ms = vs[msgI]!;
    const me = ve[msgI]!;
    // Native copy wins from about 24 bytes; below that the call costs more than the loop.
    if (me - ms > 24) q += b.copy(o, q, ms, me);
    else for (let i = ms; i < me; i++) o[q++] = b[i]!;
    for (let f = 0; f < n; f++) {
      if (f === timeI || f === sevI || f === targetI || f === msgI) continue;
      o[q++] = 0x20;
      for (let i = ks[f]!, end = ke[f]!; i < end; i++) o[q++] = b[i]!;
      o[q++] = 0x3d;
      const kind = vk[f]!;
      if (kind === NUM) {
        const text = JSON.stringify(Number(latin1(b, vs[f]!, ve[f]!)));
        // Growing may move the line to the front of the buffer; keep msgStart relative to it.
        const written = q - lineBase;
        out.pos = q;
        out.ensure(text.length + (e - s) + 64);
        o = out.buf;
        q = out.pos;
        msgStart += q - written - lineBase;
        lineBase = q - written;
        for (let i = 0; i < text.length; i++) o[q++] = text.charCodeAt(i);
        continue;
      }
      if (kind === QUOTED) o[q++] = 0x22;
      const fs = vs[f]!;
      const fe = ve[f]!;
      if (fe - fs > 24) q += b.copy(o, q, fs, fe);
      else for (let i = fs; i < fe; i++) o[q++] = b[i]!;
      if (kind === QUOTED) o[q++] = 0x22;
    }
    if (opts.grep && !opts.grep.test(o.toString("latin1", msgStart, q))) {
      out.rollback();
      return LineResult.Filtered;
    }
    if (opts.json) {
      out.rollback();
      out.bytes(b, s, e);
      out.ensure(1);
      out.buf[out.pos++] = 0x0a;
      return LineResult.Shown;
    }
    o[q++] = 0x0a;
    out.pos = q;
    return LineResult.Shown;
  }

  /** The local `YYYY-MM-DDTHH:MM` and offset for the UTC minute at b[ts..ts+16), cached per minute. */
  private localMinuteBytes(b: Uint8Array, ts: number): void {
    const last = this.lastMinute;
    if (this.haveMinute) {
      let same = true;
      for (let i = 15; i >= 0; i--) {
        if (last[i] !== b[ts + i]) {
          same = false;
          break;
        }
      }
      if (same) return;
    }
    for (let i = 0; i < 16; i++) last[i] = b[ts + i]!;
    this.haveMinute = true;
    const local = localMinute(latin1(b, ts, ts + 16));
    const bar = local.indexOf("|");
    this.localPrefix = ascii(local.slice(0, bar));
    this.localOffset = ascii(local.slice(bar + 1));
  }
}

function eq(b: Uint8Array, at: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) if (b[at + i] !== word.charCodeAt(i)) return false;
  return true;
}

function latin1(b: Uint8Array, s: number, e: number): string {
  return String.fromCharCode.apply(null, b.subarray(s, e) as unknown as number[]);
}

/** Only the canonical upper-case names; other spellings take the reference path. */
function severityRankBytes(b: Uint8Array, s: number, e: number): number {
  const len = e - s;
  const c = b[s];
  if (len === 4) {
    if (c === 0x49 && b[s + 1] === 0x4e && b[s + 2] === 0x46 && b[s + 3] === 0x4f) return 2;
    if (c === 0x57 && b[s + 1] === 0x41 && b[s + 2] === 0x52 && b[s + 3] === 0x4e) return 3;
  } else if (len === 5) {
    if (c === 0x44 && eq(b, s, "DEBUG")) return 1;
    if (c === 0x45 && eq(b, s, "ERROR")) return 4;
    if (c === 0x54 && eq(b, s, "TRACE")) return 0;
  }
  return -1;
}

/** `YYYY-MM-DDTHH:MM:SS(.d{1,9})?Z`, as `isStrictUtc` tests it on text. */
function strictUtcBytes(b: Uint8Array, s: number, e: number): boolean {
  const len = e - s;
  if (len < 20 || len === 21 || len > 30 || b[e - 1] !== 0x5a) return false;
  for (let i = 0; i < 19; i++) {
    const c = b[s + i]!;
    const want = i === 4 || i === 7 ? 0x2d : i === 10 ? 0x54 : i === 13 || i === 16 ? 0x3a : -1;
    if (want >= 0 ? c !== want : c < 0x30 || c > 0x39) return false;
  }
  if (len > 20) {
    if (b[s + 19] !== 0x2e) return false;
    for (let i = s + 20; i < e - 1; i++) if (b[i]! < 0x30 || b[i]! > 0x39) return false;
  }
  return true;
}
