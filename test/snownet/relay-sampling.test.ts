import { describe, expect, test } from "bun:test";
import { rttThreshold, sampleRelay } from "../../src/snownet/index.ts";

/** Counts how often each relay is picked over a sweep of the random source. */
function picks(relays: Array<{ id: string; rtt: number | undefined }>, steps = 1000): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < steps; i++) {
    const id = sampleRelay(relays, () => i / steps);
    if (id !== undefined) out[id] = (out[id] ?? 0) + 1;
  }
  return out;
}

describe("relay sampling", () => {
  test("relays without a measured RTT are skipped; none measured → none", () => {
    expect(sampleRelay([{ id: "a", rtt: undefined }], () => 0.5)).toBeUndefined();
    expect(sampleRelay([], () => 0.5)).toBeUndefined();
    expect(picks([{ id: "a", rtt: undefined }, { id: "b", rtt: 80 }])).toEqual({ b: 1000 });
  });

  test("two relays: both when within 1.5x of the best, else only the best", () => {
    expect(rttThreshold([10, 14])).toBe(15);
    expect(picks([{ id: "a", rtt: 10 }, { id: "b", rtt: 14 }])).toEqual({ a: 500, b: 500 });
    expect(picks([{ id: "a", rtt: 10 }, { id: "b", rtt: 16 }])).toEqual({ a: 1000 });
  });

  test("three or more: median + 3 MAD, MAD floored at 2 ms", () => {
    // rtts 10, 10, 10, 200: median 10, MAD 0 → floor 2 → threshold 16.
    expect(rttThreshold([10, 10, 10, 200])).toBe(16);
    expect(picks([{ id: "a", rtt: 10 }, { id: "b", rtt: 10 }, { id: "c", rtt: 10 }, { id: "far", rtt: 200 }], 999)).toEqual({ a: 333, b: 333, c: 333 });
    // 20, 30, 40: median 30, MAD 10 → threshold 60: all three.
    expect(rttThreshold([20, 30, 40])).toBe(60);
    expect(Object.keys(picks([{ id: "a", rtt: 20 }, { id: "b", rtt: 30 }, { id: "c", rtt: 40 }])).sort()).toEqual(["a", "b", "c"]);
    // 10, 11, 50: median 11, MAD 1 → 2 → threshold 17: the far one is out.
    expect(Object.keys(picks([{ id: "a", rtt: 10 }, { id: "b", rtt: 11 }, { id: "c", rtt: 50 }])).sort()).toEqual(["a", "b"]);
  });

  test("a random source returning 1 (out of contract) still picks a valid relay", () => {
    expect(sampleRelay([{ id: "a", rtt: 5 }, { id: "b", rtt: 5 }], () => 1)).toBe("b");
  });
});
