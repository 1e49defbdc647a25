import { describe, expect, test } from "bun:test";
import { nowNanos, nowRfc3339, recordToJson, rfc3339Nanos, type LogRecord } from "../../src/log/index.ts";
import { strictTimeKey } from "../../src/log/pretty.ts";

const base = { time: "2026-11-26T04:51:45.123456789Z", severity: "INFO", target: "t", message: "m" } as const;
const rec = (fields: Record<string, unknown>): LogRecord => ({ ...base, fields });

describe("recordToJson", () => {
  test("header keys first, then the fields in order", () => {
    expect(recordToJson(rec({ b: 1, a: "x", n: null, ok: true }))).toBe(
      '{"time":"2026-11-26T04:51:45.123456789Z","severity":"INFO","target":"t","message":"m","b":1,"a":"x","n":null,"ok":true}',
    );
  });

  test("a field named like a header key or an inherited property is renamed, never lost", () => {
    const j = JSON.parse(recordToJson(rec({ time: 1, message: "shadow", constructor: "c", ["__proto__"]: "p" })));
    expect(j).toMatchObject({ time: base.time, message: "m", "field.time": 1, "field.message": "shadow", "field.constructor": "c" });
    expect(j["field.__proto__"]).toBe("p");
  });

  test("BigInt, Error and bytes become readable strings, also nested", () => {
    const j = JSON.parse(recordToJson(rec({ big: 2n ** 70n, err: new Error("boom"), bytes: new Uint8Array([0, 255]), nested: { n: 1n, list: [new Error("x")] } })));
    expect(j).toMatchObject({ big: "1180591620717411303424", err: "boom", bytes: "00ff", nested: { n: "1", list: ["x"] } });
  });
});

describe("nowRfc3339", () => {
  test("RFC 3339 UTC with nine digits, never going backwards, on the same clock as nowNanos", () => {
    let prev = "";
    for (let i = 0; i < 20_000; i++) {
      const t = nowRfc3339();
      expect(t.length).toBe(30);
      if (t < prev) throw new Error(`clock went backwards: ${prev} then ${t}`);
      prev = t;
    }
    expect(prev).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    const a = strictTimeKey(rfc3339Nanos(nowNanos()));
    const b = strictTimeKey(nowRfc3339());
    const c = strictTimeKey(rfc3339Nanos(nowNanos()));
    expect(b).toBeGreaterThanOrEqual(a - 0.001);
    expect(b).toBeLessThanOrEqual(c + 0.001);
  });
});
