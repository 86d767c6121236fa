import { fc, test } from "@fast-check/vitest";
import { describe, expect } from "vitest";
import { BlockMap } from "../../src/domain/block-map.ts";

const SIZE = 140_000; // spans three bitmap pages
const ranges = fc.array(fc.tuple(fc.nat(SIZE - 1), fc.integer({ min: 1, max: 3000 })), { maxLength: 20 });

function model(rs: Array<[number, number]>): Set<number> {
  const s = new Set<number>();
  for (const [start, count] of rs) for (let i = start; i < Math.min(SIZE, start + count); i++) s.add(i);
  return s;
}

function build(rs: Array<[number, number]>): BlockMap {
  const m = new BlockMap(512, SIZE);
  for (const [start, count] of rs) m.addRange(start, Math.min(count, SIZE - start));
  return m;
}

describe("BlockMap agrees with a set model", () => {
  test.prop([ranges, ranges], { seed: 20261122, numRuns: 60 })("set algebra", (ra, rb) => {
    const a = build(ra);
    const b = build(rb);
    const ma = model(ra);
    const mb = model(rb);
    expect(new Set(a.union(b).indexes())).toEqual(new Set([...ma, ...mb]));
    expect(new Set(a.intersect(b).indexes())).toEqual(new Set([...ma].filter((i) => mb.has(i))));
    expect(new Set(a.difference(b).indexes())).toEqual(new Set([...ma].filter((i) => !mb.has(i))));
    expect(a.count()).toBe(ma.size);
    expect(BlockMap.deserialize(a.serialize()).equals(a)).toBe(true);
  });

  test.prop([ranges], { seed: 7, numRuns: 60 })(
    "runs are maximal, ascending and cover exactly the set",
    (ra) => {
      const runs = [...build(ra).runs()];
      const covered = new Set<number>();
      for (const [i, r] of runs.entries()) {
        if (i > 0) expect(r.start).toBeGreaterThan((runs[i - 1]?.start ?? 0) + (runs[i - 1]?.count ?? 0));
        for (let k = 0; k < r.count; k++) covered.add(r.start + k);
      }
      expect(covered).toEqual(model(ra));
    },
  );
});
