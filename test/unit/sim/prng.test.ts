import { describe, expect, it } from "vitest";
import { Prng } from "../../../src/adapters/sim/prng.ts";
import { VirtualClock } from "../../../src/adapters/sim/virtual-clock.ts";

const draws = (p: Prng, n = 32) => Array.from({ length: n }, () => p.u32());

describe("Prng", () => {
  it("replays the same stream for the same seed and a different one for another seed", () => {
    expect(draws(new Prng(7))).toEqual(draws(new Prng(7)));
    expect(draws(new Prng(7))).not.toEqual(draws(new Prng(8)));
    expect(new Prng("abc").bytes(37)).toEqual(new Prng("abc").bytes(37));
  });

  it("derives forks from seed and label only, so draws elsewhere do not shift them", () => {
    const quiet = new Prng(1);
    const busy = new Prng(1);
    draws(busy, 1000);
    expect(draws(busy.fork("disk-0"))).toEqual(draws(quiet.fork("disk-0")));
    expect(draws(quiet.fork("disk-0"))).not.toEqual(draws(quiet.fork("disk-1")));
  });

  it("keeps int, next and pick within their ranges", () => {
    const p = new Prng(3);
    for (let i = 0; i < 2000; i++) {
      const x = p.next();
      expect(x >= 0 && x < 1).toBe(true);
      const n = p.int(-5, 5);
      expect(n >= -5 && n < 5 && Number.isInteger(n)).toBe(true);
      const big = p.int(0, 2 ** 41);
      expect(big >= 0 && big < 2 ** 41).toBe(true);
    }
    expect(["a", "b"]).toContain(p.pick(["a", "b"]));
    expect(() => p.int(3, 3)).toThrow(RangeError);
    expect(() => p.pick([])).toThrow(RangeError);
  });

  it("hits every value of a small range roughly uniformly", () => {
    const p = new Prng(11);
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 8000; i++) {
      const v = p.int(0, 8);
      counts[v] = (counts[v] ?? 0) + 1;
    }
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });
});

describe("VirtualClock", () => {
  it("advances virtual time on sleep without really waiting", async () => {
    const clock = new VirtualClock(1000);
    const started = performance.now();
    await clock.sleep(3_600_000);
    expect(clock.now()).toBe(1000 + 3_600_000);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it("accumulates sub-millisecond advances exactly", () => {
    const clock = new VirtualClock(0);
    for (let i = 0; i < 10; i++) clock.advance(0.25);
    expect(clock.now()).toBe(2);
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });
});
