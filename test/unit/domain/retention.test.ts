import { describe, expect, it } from "vitest";
import { applyRetention } from "../../../src/domain/retention.ts";

const H = 3600_000;
const t0 = Date.UTC(2026, 10, 2, 0, 30); // Monday 2026-11-02 00:30 UTC

// One point every 6 hours for 20 days: seq 1 is the oldest.
const points = Array.from({ length: 80 }, (_, i) => ({ seq: i + 1, takenAt: t0 + i * 6 * H }));

describe("retention", () => {
  it("keeps the newest N with keep-last", () => {
    expect([...applyRetention(points, { keepLast: 3 }).keep].sort((a, b) => a - b)).toEqual([78, 79, 80]);
  });

  it("keeps the newest point of each of the last N days", () => {
    const kept = applyRetention(points, { keepDaily: 3 });
    // Days 20, 19, 18: each day's newest point is its 18:30 one (every 4th seq).
    expect([...kept.keep].sort((a, b) => a - b)).toEqual([72, 76, 80]);
    expect(kept.reasons.get(80)).toEqual(["daily 2026-11-21"]);
  });

  it("combines rules: a point kept by several rules is listed once with every reason", () => {
    const kept = applyRetention(points, { keepLast: 1, keepWeekly: 2, keepMonthly: 1 });
    expect(kept.reasons.get(80)).toEqual(["last", "weekly 2026-W47", "monthly 2026-11"]);
    // The newest of ISO week 46 (Mon 9 Nov … Sun 15 Nov) is Sun 15 Nov 18:30, seq 56.
    expect([...kept.keep].sort((a, b) => a - b)).toEqual([56, 80]);
  });

  it("always keeps the newest point, whatever the policy", () => {
    expect([...applyRetention(points, {}).keep]).toEqual([80]);
    expect([...applyRetention(points, { keepLast: 0 }).keep]).toEqual([80]);
  });

  it("does not depend on the order points are given in", () => {
    const shuffled = [...points].reverse();
    expect(applyRetention(shuffled, { keepDaily: 5, keepLast: 2 }).keep).toEqual(
      applyRetention(points, { keepDaily: 5, keepLast: 2 }).keep,
    );
  });

  it("refuses a negative or fractional count", () => {
    expect(() => applyRetention(points, { keepLast: -1 })).toThrow(RangeError);
    expect(() => applyRetention(points, { keepDaily: 1.5 })).toThrow(RangeError);
  });
});
