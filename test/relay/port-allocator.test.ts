import { describe, expect, test } from "bun:test";
import { PortAllocator } from "../../src/relay/port-allocator.ts";
import { randomBelow, SeededRandom } from "../../src/relay/random-source.ts";

describe("PortAllocator", () => {
  test("hands out every port of the range exactly once, then null; released ports come back", () => {
    const ports = new PortAllocator(50000, 50099, new SeededRandom(1));
    const seen = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const p = ports.take();
      expect(p).not.toBeNull();
      expect(p!).toBeGreaterThanOrEqual(50000);
      expect(p!).toBeLessThanOrEqual(50099);
      seen.add(p!);
    }
    expect(seen.size).toBe(100);
    expect(ports.take()).toBeNull();
    ports.release(50042);
    expect(ports.take()).toBe(50042);
  });

  test("picks are spread over the range, not sequential", () => {
    const ports = new PortAllocator(49152, 65535, new SeededRandom(7));
    const picks = Array.from({ length: 50 }, () => ports.take()!);
    const sorted = [...picks].sort((a, b) => a - b);
    expect(picks).not.toEqual(sorted);
    expect(sorted[49]! - sorted[0]!).toBeGreaterThan(8000);
  });

  test("even ports on request, also when the range is nearly full", () => {
    const ports = new PortAllocator(60001, 60010, new SeededRandom(3));
    const evens = [ports.take(true), ports.take(true), ports.take(true), ports.take(true), ports.take(true)];
    expect(evens.sort()).toEqual([60002, 60004, 60006, 60008, 60010]);
    expect(ports.take(true)).toBeNull();
    expect(ports.take()! % 2).toBe(1);
  });

  test("refused ports are avoided while others are free, used as a last resort", () => {
    const ports = new PortAllocator(100, 102, new SeededRandom(9));
    ports.markRefused(101);
    const first = [ports.take(), ports.take()].sort();
    expect(first).toEqual([100, 102]);
    expect(ports.take()).toBe(101);
  });

  test("bad ranges are refused", () => {
    expect(() => new PortAllocator(10, 5, new SeededRandom(1))).toThrow(RangeError);
    expect(() => new PortAllocator(0, 5, new SeededRandom(1))).toThrow(RangeError);
    expect(() => new PortAllocator(1, 65536, new SeededRandom(1))).toThrow(RangeError);
  });

  test("randomBelow is unbiased enough and in range", () => {
    const r = new SeededRandom(5);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30000; i++) counts[randomBelow(r, 3)]!++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(500);
  });
});
