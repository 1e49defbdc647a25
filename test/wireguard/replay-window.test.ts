import { describe, expect, test } from "bun:test";
import { MAX_COUNTER, REPLAY_WINDOW_SIZE } from "../../src/wireguard/constants.ts";
import { ReplayWindow } from "../../src/wireguard/replay-window.ts";

describe("ReplayWindow", () => {
  test("window is at least 2048 packets", () => {
    expect(REPLAY_WINDOW_SIZE).toBeGreaterThanOrEqual(2048);
  });

  test("in-order counters from 0 are accepted once", () => {
    const w = new ReplayWindow();
    for (let i = 0; i < 20_000; i++) expect(w.update(i)).toBe(true);
    for (let i = 20_000 - REPLAY_WINDOW_SIZE; i < 20_000; i++) expect(w.update(i)).toBe(false);
    expect(w.highest).toBe(19_999);
  });

  test("check does not change state; update does", () => {
    const w = new ReplayWindow();
    expect(w.check(5)).toBe(true);
    expect(w.check(5)).toBe(true);
    expect(w.update(5)).toBe(true);
    expect(w.check(5)).toBe(false);
    expect(w.update(5)).toBe(false);
  });

  test("reordering inside the window is accepted, duplicates are not", () => {
    const w = new ReplayWindow();
    expect(w.update(100)).toBe(true);
    for (let i = 99; i >= 0; i--) expect(w.update(i)).toBe(true);
    for (let i = 0; i <= 100; i++) expect(w.update(i)).toBe(false);
  });

  test("exact window edges", () => {
    const w = new ReplayWindow();
    const top = 100_000;
    expect(w.update(top)).toBe(true);
    // The oldest counter still inside the window...
    expect(w.check(top - REPLAY_WINDOW_SIZE + 1)).toBe(true);
    // ...and the first one outside it.
    expect(w.check(top - REPLAY_WINDOW_SIZE)).toBe(false);
    expect(w.update(top - REPLAY_WINDOW_SIZE)).toBe(false);
    expect(w.update(top - REPLAY_WINDOW_SIZE + 1)).toBe(true);
    expect(w.update(top - REPLAY_WINDOW_SIZE + 1)).toBe(false);
  });

  test("a jump larger than the ring forgets everything before the window", () => {
    const w = new ReplayWindow();
    for (let i = 0; i < 64; i++) w.update(i);
    const far = 10 * REPLAY_WINDOW_SIZE + 7;
    expect(w.update(far)).toBe(true);
    for (let i = 0; i < 64; i++) expect(w.check(i)).toBe(false);
    // Counters just below the jump were never seen and are inside the window.
    for (let i = far - 1; i > far - 200; i--) expect(w.update(i)).toBe(true);
  });

  test("a jump of exactly one word boundary clears the recycled word", () => {
    const w = new ReplayWindow();
    // Fill word 0 (counters 0..31), then move so that word 0's ring slot is reused.
    for (let i = 0; i < 32; i++) w.update(i);
    const slotReuse = 256 * 32; // same ring slot as counter 0
    expect(w.update(slotReuse)).toBe(true);
    // Stale bits from counter 0..31 must not make counters of the reused word look replayed.
    for (let i = slotReuse + 1; i < slotReuse + 32; i++) expect(w.update(i)).toBe(true);
  });

  test("bits of a recycled word do not leak into new counters after a medium jump", () => {
    const w = new ReplayWindow();
    for (let i = 0; i < 4000; i++) w.update(i);
    const next = 4000 + REPLAY_WINDOW_SIZE / 2;
    expect(w.update(next)).toBe(true);
    for (let i = 4000; i < next; i++) expect(w.check(i)).toBe(true);
  });

  test("invalid counters are refused", () => {
    const w = new ReplayWindow();
    expect(w.update(-1)).toBe(false);
    expect(w.update(Number.NaN)).toBe(false);
    expect(w.update(MAX_COUNTER + 2)).toBe(false);
    expect(w.update(MAX_COUNTER)).toBe(true);
    expect(w.update(MAX_COUNTER)).toBe(false);
  });

  test("random reordering against a reference set", () => {
    const w = new ReplayWindow();
    const seen = new Set<number>();
    let highest = -1;
    let s = 12345;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 0x1_0000_0000);
    let base = 0;
    for (let i = 0; i < 50_000; i++) {
      base += rnd() < 0.7 ? 1 : 0;
      const c = Math.max(0, Math.floor(base + (rnd() - 0.8) * 3 * REPLAY_WINDOW_SIZE));
      const expected = !seen.has(c) && (c > highest || highest - c < REPLAY_WINDOW_SIZE);
      expect(w.update(c)).toBe(expected);
      if (expected) {
        seen.add(c);
        highest = Math.max(highest, c);
      }
    }
  });

  test("reset forgets everything", () => {
    const w = new ReplayWindow();
    w.update(7);
    w.reset();
    expect(w.highest).toBe(-1);
    expect(w.update(7)).toBe(true);
  });
});
