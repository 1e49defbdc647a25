import { describe, expect, test } from "bun:test";
import { formatIPv4, formatIPv6, formatIp, parseIPv4, parseIPv6, parseIp } from "../../src/ip/index.ts";

describe("IPv4 text", () => {
  test("parses and formats", () => {
    expect(parseIPv4("10.0.0.1")).toBe(0x0a000001);
    expect(parseIPv4("255.255.255.255")).toBe(0xffffffff);
    expect(parseIPv4("0.0.0.0")).toBe(0);
    expect(formatIPv4(0xc0a80101)).toBe("192.168.1.1");
    expect(formatIPv4(0xffffffff)).toBe("255.255.255.255");
  });
  test("rejects malformed", () => {
    for (const s of ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "1.2.3.4 ", "a.b.c.d", "1.2.3.-4", "1234.1.1.1"]) {
      expect(parseIPv4(s)).toBeNull();
    }
  });
});

describe("IPv6 text (RFC 4291 parse, RFC 5952 format)", () => {
  const cases: [string, string][] = [
    ["::", "::"],
    ["::1", "::1"],
    ["2001:db8::1", "2001:db8::1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    // RFC 5952 §4.2.2: a single zero group is not compressed.
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    // §4.2.3: the longest run wins; on a tie the first.
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    // §4.3: lowercase.
    ["2001:DB8::ABCD", "2001:db8::abcd"],
    ["fd00:2021:1111::", "fd00:2021:1111::"],
    ["fd00:2021:1111:8000:100:100:111:0", "fd00:2021:1111:8000:100:100:111:0"],
    ["100::dead:1ce:1", "100::dead:1ce:1"],
    ["::ffff:1.2.3.4", "::ffff:1.2.3.4"],
    ["::ffff:0102:0304", "::ffff:1.2.3.4"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
  ];
  for (const [input, want] of cases) {
    test(`${input} → ${want}`, () => {
      const b = parseIPv6(input);
      expect(b).not.toBeNull();
      expect(formatIPv6(b!)).toBe(want);
      expect(formatIPv6(parseIPv6(want)!)).toBe(want);
    });
  }
  test("rejects malformed", () => {
    for (const s of [":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "1:2:3:4:5:6:7", "g::", "1:", ":1", "::1.2.3", "fe80::1%eth0", "1:2:3:4:5:6:7:8::", "::1.2.3.4.5"]) {
      expect(parseIPv6(s)).toBeNull();
    }
  });
  test("parseIp picks the family", () => {
    expect(parseIp("10.1.2.3")!.length).toBe(4);
    expect(parseIp("::1")!.length).toBe(16);
    expect(parseIp("nope")).toBeNull();
    expect(formatIp(parseIp("10.1.2.3")!)).toBe("10.1.2.3");
    expect(formatIp(parseIp("fe80::1")!)).toBe("fe80::1");
  });
});
