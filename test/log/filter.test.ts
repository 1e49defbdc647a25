import { describe, expect, test } from "bun:test";
import { LogFilter, LogFilterError } from "../../src/log/filter.ts";

describe("LogFilter", () => {
  test("the most specific target wins", () => {
    const f = LogFilter.parse("info,snownet=debug,snownet::ice=trace");
    expect(f.rankFor("portal")).toBe(2);
    expect(f.rankFor("snownet")).toBe(1);
    expect(f.rankFor("snownet::node")).toBe(1);
    expect(f.rankFor("snownet::ice")).toBe(0);
    expect(f.rankFor("snownet::ice::pair")).toBe(0);
    expect(f.rankFor("snownetx")).toBe(2);
  });

  test("order of directives does not matter", () => {
    const f = LogFilter.parse("snownet::ice=trace,snownet=warn,error");
    expect(f.rankFor("snownet::ice")).toBe(0);
    expect(f.rankFor("snownet::x")).toBe(3);
    expect(f.rankFor("other")).toBe(4);
  });

  test("off silences a target", () => {
    const f = LogFilter.parse("debug,wireguard=off");
    expect(f.enabled("wireguard::session", 4)).toBe(false);
    expect(f.enabled("turn", 1)).toBe(true);
  });

  test("empty spec falls back", () => {
    expect(LogFilter.parse("", "warn").rankFor("x")).toBe(3);
    expect(LogFilter.parse(undefined).rankFor("x")).toBe(2);
  });

  test("bad directives name themselves", () => {
    expect(() => LogFilter.parse("info,snownet=loud")).toThrow(LogFilterError);
    expect(() => LogFilter.parse("info,snownet=loud")).toThrow(/snownet=loud/);
  });
});
