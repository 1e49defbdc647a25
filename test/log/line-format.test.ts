import { describe, expect, test } from "bun:test";
import { LineFormatter, LineResult, type LineFormatOptions } from "../../src/log/line-format.ts";
import { OutBuffer } from "../../src/log/out-buffer.ts";
import { mulberry32 as rng } from "../support/prng.ts";

// An offset of +05:45 (and +05:30 before 1986) makes local-time mistakes visible.
process.env.TZ = "Asia/Kathmandu";

const BASE: LineFormatOptions = {
  color: false,
  local: false,
  json: false,
  minRank: 0,
  targetPrefix: undefined,
  since: undefined,
  until: undefined,
  grep: undefined,
};

function formatter(opts: Partial<LineFormatOptions> = {}) {
  const chunks: Uint8Array[] = [];
  const out = new OutBuffer((b) => chunks.push(new Uint8Array(b)), 256);
  const fmt = new LineFormatter({ ...BASE, ...opts }, out);
  const text = () => {
    out.flush();
    const s = Buffer.concat(chunks).toString("utf8");
    chunks.length = 0;
    return s;
  };
  return { fmt, text };
}

function render(line: string, opts: Partial<LineFormatOptions> = {}): string {
  const { fmt, text } = formatter(opts);
  const b = Buffer.from(line);
  fmt.line(b, 0, b.length);
  return text();
}

describe("rendering", () => {
  test("our records: TIME SEVERITY target: message key=value", () => {
    expect(
      render('{"time":"2026-11-26T04:51:45.123456789Z","severity":"WARN","target":"tunnel::dns","message":"upstream slow","upstream":"1.1.1.1:53","ms":2000,"ok":false,"why":"a b","e":"","n":null,"x":[1,2]}'),
    ).toBe('2026-11-26T04:51:45.123456789Z WARN  tunnel::dns: upstream slow upstream=1.1.1.1:53 ms=2000 ok=false why="a b" e="" n=null x=[1,2]\n');
  });

  test("numbers are shown in their JSON form", () => {
    expect(render('{"time":"2026-11-26T04:51:45Z","severity":"INFO","target":"t","message":"m","a":1.50,"b":1e3,"c":-0,"d":12345678901234567890}')).toBe(
      "2026-11-26T04:51:45Z INFO  t: m a=1.5 b=1000 c=0 d=12345678901234567000\n",
    );
  });

  test("escapes in messages are decoded, control characters stay visible", () => {
    expect(render('{"time":"2026-11-26T04:51:45Z","severity":"ERROR","target":"t","message":"say \\"hi\\"\\n\\u001b[2J","v":"tab\\there"}')).toBe(
      '2026-11-26T04:51:45Z ERROR t: say "hi"\\n\\u001b[2J v="tab\\there"\n',
    );
  });

  test("Firezone's JSONL: fields, span, spans, timestamp, level, offsets", () => {
    expect(
      render('{"timestamp":"2026-11-26T05:51:54.118+01:00","level":"WARNING","fields":{"message":"Resolved","qname":"a.example"},"target":"firezone_tunnel::dns","span":{"name":"x"},"spans":[{"name":"tunnel"},{"name":"dns","qid":7}]}'),
    ).toBe("2026-11-26T04:51:54.118Z WARN  firezone_tunnel::dns: tunnel:dns{qid=7}: Resolved qname=a.example\n");
    expect(render('{"time":"2026-11-26T04:51:54Z","severity":"INFO","target":"t","logging.googleapis.com/sourceLocation":{"file":"a.rs"},"span":{"name":"connect","account":"acme"},"message":"ready"}')).toBe(
      "2026-11-26T04:51:54Z INFO  t: connect{account=acme}: ready\n",
    );
  });

  test("local time keeps every fractional digit and names the offset", () => {
    const line = '{"time":"2026-11-26T04:51:45.123456789Z","severity":"INFO","target":"t","message":"m"}';
    expect(render(line, { local: true })).toBe("2026-11-26T10:36:45.123456789+05:45 INFO  t: m\n");
  });

  test("severity is coloured when asked", () => {
    expect(render('{"time":"2026-11-26T04:51:45Z","severity":"ERROR","target":"t","message":"m"}', { color: true })).toBe(
      "2026-11-26T04:51:45Z \x1b[31mERROR\x1b[0m t: m\n",
    );
  });

  test("malformed and truncated lines are shown with a marker and counted", () => {
    const { fmt, text } = formatter();
    for (const line of ['{"time":"2026-11-26T04:5', "[1,2]", "plain text \x1b[31m", "{}", "   "]) {
      const b = Buffer.from(line);
      fmt.line(b, 0, b.length);
    }
    expect(text()).toBe('[malformed] {"time":"2026-11-26T04:5\n[malformed] [1,2]\n[malformed] plain text \\u001b[31m\n\n');
    expect(fmt.malformed).toBe(3);
  });

  test("filters: level, target prefix, time range, grep, json", () => {
    const lines = [
      '{"time":"2026-11-26T04:00:00Z","severity":"DEBUG","target":"snownet::ice","message":"pair","rtt":5}',
      '{"time":"2026-11-26T04:10:00.5Z","severity":"WARN","target":"tunnel::dns","message":"slow","upstream":"1.1.1.1"}',
      '{"time":"2026-11-26T04:20:00Z","severity":"ERROR","target":"snownet::relay","message":"refresh failed"}',
      '{"timestamp":"2026-11-26T04:30:00Z","level":"warn","target":"snownet","fields":{"message":"idle"}}',
    ];
    const shown = (opts: Partial<LineFormatOptions>) => {
      const { fmt, text } = formatter(opts);
      for (const l of lines) {
        const b = Buffer.from(l);
        fmt.line(b, 0, b.length);
      }
      return text().trimEnd().split("\n").filter(Boolean);
    };
    expect(shown({ minRank: 3 }).map((l) => l.split(" ")[1])).toEqual(["WARN", "ERROR", "WARN"]);
    expect(shown({ targetPrefix: "snownet" }).length).toBe(3);
    expect(shown({ targetPrefix: "snownet::" }).length).toBe(2);
    const t = (s: string) => Date.parse(s);
    expect(shown({ since: t("2026-11-26T04:10:00.5Z"), until: t("2026-11-26T04:20:00Z") }).length).toBe(2);
    expect(shown({ since: t("2026-11-26T04:10:00.6Z") }).length).toBe(2);
    expect(shown({ grep: /1\.1\.1/ }).length).toBe(1);
    expect(shown({ grep: /^idle$/ }).length).toBe(1);
    expect(shown({ json: true, minRank: 4 })).toEqual([lines[2]!]);
    expect(shown({ json: true, grep: /rtt=5/ })).toEqual([lines[0]!]);
  });
});

function generateLine(r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  // Half the lines are in our logger's shape (the fast path's domain), half anything goes.
  if (r() < 0.5) return mutate(r, cleanLine(r, pick));
  const strs = ["a", "gitlab.corp.example", "a b", "", "x=y", 'q"uote', "back\\slash", "tab\tx", "é", "€", "\u007f", "\u0085", "emoji 😀", "1.1.1.1:53"];
  const nums = ["0", "-0", "7", "-12", "1.5", "1.50", "1e3", "2E-2", "123456789012345", "1234567890123456", "12345678901234567890", "1e400", "0.1"];
  const value = (): string => {
    const k = r();
    if (k < 0.45) return JSON.stringify(pick(strs));
    if (k < 0.75) return pick(nums);
    if (k < 0.85) return pick(["true", "false", "null"]);
    if (k < 0.9) return pick(['"with \\"escape\\""', '"\\u0041"', '"\\/"']);
    return pick(["[1,2]", '{"a":1}', "[]", '{"b":[true,{"c":"d e"}]}', "[ 1 , 2 ]"]);
  };
  const time = pick([
    "2026-11-26T04:51:45.123456789Z",
    "2026-11-26T04:51:45Z",
    "2026-11-26T04:51:45.1Z",
    "1980-01-01T00:00:00.5Z",
    "2026-11-26T05:51:45.25+01:00",
    "2026-11-26 04:51:45Z",
    "yesterday",
  ]);
  const entries: Array<[string, string]> = [
    ["time", JSON.stringify(time)],
    ["severity", JSON.stringify(pick(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "warn", "WARNING", "LOUD"]))],
    ["target", JSON.stringify(pick(["snownet::ice", "tunnel::dns", "", "a b"]))],
    ["message", r() < 0.9 ? JSON.stringify(pick(["pair nominated", "", "say \"hi\"", "ok", "déjà vu"])) : value()],
  ];
  const nFields = Math.floor(r() * 6);
  for (let i = 0; i < nFields; i++) entries.push([pick(["rtt_ms", "peer", "a", "b", "10", "fields", "span", "time", "level", "message", "k v", "__proto__"]), value()]);
  if (r() < 0.3) entries.sort(() => r() - 0.5);
  if (r() < 0.15) entries.splice(Math.floor(r() * entries.length), 1);
  const ws = () => (r() < 0.1 ? pick([" ", "\t", "  "]) : "");
  const line = ws() + "{" + entries.map(([k, v]) => `${ws()}"${k}"${ws()}:${ws()}${v}${ws()}`).join(",") + "}" + ws();
  return mutate(r, line);
}

function cleanLine(r: () => number, pick: <T>(xs: readonly T[]) => T): string {
  const value = () =>
    r() < 0.5
      ? JSON.stringify(pick(["a", "gitlab.corp.example", "a b", "", "x=y", "203.0.113.10:3478", "-"]))
      : pick(["0", "7", "-12", "1.5", "1e3", "123456789012345", "1234567890123456", "true", "false", "null", "-0"]);
  const time = pick(["2026-11-26T04:51:45.123456789Z", "2026-11-26T04:51:45Z", "2026-11-26T04:59:59.9Z", "1980-01-01T00:00:00.5Z"]);
  let line = `{"time":"${time}","severity":"${pick(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"])}","target":"${pick(["snownet::ice", "tunnel::dns", "snownet"])}","message":${JSON.stringify(pick(["pair nominated", "", "ok", "rtt high"]))}`;
  const keys = ["rtt_ms", "peer", "a", "b", "k v", "__proto__", "a"];
  const nFields = Math.floor(r() * 5);
  for (let i = 0; i < nFields; i++) line += `,"${pick(keys)}":${value()}`;
  return line + "}";
}

function mutate(r: () => number, input: string): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  let line = input;
  const m = r();
  if (m < 0.05) line = line.slice(0, Math.floor(r() * line.length));
  else if (m < 0.1) {
    const at = Math.floor(r() * line.length);
    line = line.slice(0, at) + pick(['"', ",", "}", "x", "\\", "\u0001", " "]) + line.slice(at);
  } else if (m < 0.13) {
    const at = Math.floor(r() * line.length);
    line = line.slice(0, at) + line.slice(at + 1);
  }
  return line;
}

describe("the fast path renders exactly what the JSON.parse reference renders", () => {
  const variants: Array<Partial<LineFormatOptions>> = [
    {},
    { color: true },
    { local: true },
    { minRank: 2, targetPrefix: "snownet" },
    { since: Date.parse("2026-11-26T04:51:45.1Z"), until: Date.parse("2026-11-26T05:00:00Z") },
    { grep: /rtt|a b|1\.5/ },
    { json: true },
    { json: true, grep: /nominated/, local: true },
  ];
  for (const [i, opts] of variants.entries()) {
    test(`variant ${i}: ${JSON.stringify(opts, (_k, v) => (v instanceof RegExp ? String(v) : v))}`, () => {
      const r = rng(1000 + i);
      const fast = formatter(opts);
      const slow = formatter(opts);
      let slowMalformed = 0;
      for (let n = 0; n < 15_000; n++) {
        const line = generateLine(r);
        const b = Buffer.from(line);
        const a = fast.fmt.line(b, 0, b.length);
        const before = slow.fmt.malformed;
        const c = slow.fmt.slowLine(b, 0, b.length);
        const fastText = fast.text();
        const slowText = slow.text();
        if (a === LineResult.Empty) continue; // blank lines are skipped before either path
        slowMalformed += slow.fmt.malformed - before;
        if (a !== c || fastText !== slowText) {
          throw new Error(`mismatch on line ${JSON.stringify(line)}:\nfast ${a} ${JSON.stringify(fastText)}\nslow ${c} ${JSON.stringify(slowText)}`);
        }
      }
      // Otherwise the test would only compare the reference with itself.
      expect(fast.fmt.fast).toBeGreaterThan(1000);
      expect(fast.fmt.malformed).toBe(slowMalformed);
    });
  }
});
