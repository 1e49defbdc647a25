import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  candidatePriority,
  formatCandidate,
  parseCandidate,
  parseCandidateList,
} from "../../src/ice/candidate.ts";
import { FIXTURES } from "../support/fixtures.ts";

function records(file: string): string[][] {
  return readFileSync(join(FIXTURES, file), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => l.split("\t"));
}

describe("Firezone's candidate strings", () => {
  const rows = records("ice-candidates.txt");

  test("the fixture file has rows", () => {
    expect(rows.length).toBeGreaterThan(10);
  });

  for (const [expect_, parser, , testName, line] of rows) {
    const iceless = parser!.includes("path_agent");
    test(`${expect_} ${testName}: ${line}`, () => {
      const r = parseCandidate(line!, iceless);
      if (expect_!.startsWith("ACCEPT")) {
        expect(r.ok).toBe(true);
        const prio = /priority=(\d+)/.exec(expect_!);
        if (prio && r.ok) expect(r.candidate.priority).toBe(Number(prio[1]));
        if (r.ok) expect(parseCandidate(formatCandidate(r.candidate))).toEqual(r);
      } else {
        expect(r.ok).toBe(false);
        const reason = /REJECT (\w+)/.exec(expect_!)?.[1];
        const want: Record<string, string> = {
          MissingBase: "missing-base",
          UnsupportedTransport: "unsupported-transport",
          Malformed: "not-a-candidate",
          InvalidAddress: "invalid-address",
        };
        if (reason && want[reason] && !r.ok) expect(r.reason).toBe(want[reason] as typeof r.reason);
      }
    });
  }

  test("a list keeps good candidates and counts junk (faulty_candidate_get_skipped)", () => {
    const msg = JSON.parse(readFileSync(join(FIXTURES, "client-gateway_ice_candidates-1.json"), "utf8"));
    const { candidates, skipped } = parseCandidateList(msg.candidates);
    expect(candidates.length).toBe(1);
    expect(skipped).toBe(3);
  });

  test("ICE-less encodings round-trip exactly", () => {
    for (const [, line] of records("ice-candidates-iceless-derived.txt")) {
      const r = parseCandidate(line!, true);
      expect(r.ok).toBe(true);
      if (r.ok) expect(formatCandidate(r.candidate)).toBe(line!);
    }
  });

  test("ordering by priority is host, srflx, relay", () => {
    const sorted = rows
      .filter(([e]) => /order=\d/.test(e!))
      .map(([e, , , , l]) => ({ order: Number(/order=(\d)/.exec(e!)![1]), c: parseCandidate(l!) }))
      .sort((a, b) => (b.c.ok ? b.c.candidate.priority : 0) - (a.c.ok ? a.c.candidate.priority : 0));
    expect(sorted.map((s) => s.order)).toEqual([1, 2, 3]);
  });
});

describe("priorities", () => {
  test("match the ICE-less codec's values for IPv6 and RFC 8445 type order", () => {
    expect(candidatePriority("host", 6)).toBe(2130706431);
    expect(candidatePriority("srflx", 6)).toBe(1694498815);
    expect(candidatePriority("relay", 6)).toBe(16777215);
    expect(candidatePriority("host", 4)).toBeLessThan(candidatePriority("host", 6));
    expect(candidatePriority("prflx", 4)).toBeGreaterThan(candidatePriority("srflx", 6));
  });
});

describe("addresses", () => {
  test("IPv6 is canonicalised (RFC 5952)", () => {
    const r = parseCandidate("candidate:1 1 udp 1 2001:DB8:0:0:0:0:0:1 9 typ host");
    expect(r.ok && r.candidate.ip).toBe("2001:db8::1");
    const m = parseCandidate("candidate:1 1 udp 1 ::ffff:1.2.3.4 9 typ host");
    expect(m.ok && m.candidate.ip).toBe("::ffff:1.2.3.4");
  });

  test("bad ports and addresses are reasons, not exceptions", () => {
    expect(parseCandidate("candidate:1 1 udp 1 1.2.3.4 70000 typ host")).toEqual({ ok: false, reason: "invalid-port" });
    expect(parseCandidate("candidate:1 1 udp 1 1:2:3 9 typ host")).toEqual({ ok: false, reason: "invalid-address" });
    expect(parseCandidate("candidate:1 1 udp 1 1.2.3.4 9 typ nope")).toEqual({ ok: false, reason: "unknown-type" });
    expect(parseCandidate("candidate:1 1 udp 1 1.2.3.4 9 typ srflx raddr")).toEqual({ ok: false, reason: "malformed" });
  });
});
