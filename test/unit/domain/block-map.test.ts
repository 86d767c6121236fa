import { describe, expect, it } from "vitest";
import { BlockMap } from "../../../src/domain/block-map.ts";

describe("BlockMap", () => {
  it("reports runs in ascending order, merging adjacent ranges across page boundaries", () => {
    const map = new BlockMap(4096, 200_000).addRange(65_530, 10).addRange(65_540, 5).add(3);
    expect([...map.runs()]).toEqual([
      { start: 3, count: 1 },
      { start: 65_530, count: 15 },
    ]);
    expect(map.count()).toBe(16);
  });

  it("supports union, intersection and difference", () => {
    const a = new BlockMap(1, 100).addRange(0, 50);
    const b = new BlockMap(1, 100).addRange(40, 20);
    expect([...a.union(b).runs()]).toEqual([{ start: 0, count: 60 }]);
    expect([...a.intersect(b).runs()]).toEqual([{ start: 40, count: 10 }]);
    expect([...a.difference(b).runs()]).toEqual([{ start: 0, count: 40 }]);
    expect([...b.difference(a).runs()]).toEqual([{ start: 50, count: 10 }]);
  });

  it("removes ranges and frees emptied pages", () => {
    const map = new BlockMap(1, 200_000).addRange(70_000, 100);
    map.removeRange(70_000, 100);
    expect(map.isEmpty()).toBe(true);
    expect(map.memoryBytes()).toBe(0);
  });

  it("coarsens with any/all semantics, counting a short last block as whole", () => {
    // 10 fine blocks, factor 4 → coarse blocks [0-3] [4-7] [8-9].
    const fine = new BlockMap(1, 10).addRange(2, 8);
    expect([...fine.coarsen(4, "any").indexes()]).toEqual([0, 1, 2]);
    expect([...fine.coarsen(4, "all").indexes()]).toEqual([1, 2]);
  });

  it("round-trips through its compact serialisation", () => {
    const map = new BlockMap(65536, 1_000_000).addRange(5, 100).addRange(900_000, 7).add(999_999);
    const bytes = map.serialize();
    expect(bytes.length).toBeLessThan(20);
    expect(BlockMap.deserialize(bytes).equals(map)).toBe(true);
  });

  it("rejects corrupted serialisations instead of guessing", () => {
    const bytes = new BlockMap(512, 100).addRange(10, 5).serialize();
    expect(() => BlockMap.deserialize(bytes.subarray(0, bytes.length - 1))).toThrow(RangeError);
    expect(() => BlockMap.deserialize(Uint8Array.from([...bytes, 0]))).toThrow(RangeError);
  });

  it("stays within 4 MiB for a fully set 2 TiB disk at 64 KiB grain", () => {
    const blocks = (2 * 1024 ** 4) / 65536;
    const map = BlockMap.full(65536, blocks);
    expect(map.count()).toBe(blocks);
    expect(map.memoryBytes()).toBeLessThanOrEqual(4 * 1024 * 1024);
    const sparse = new BlockMap(65536, blocks).add(blocks - 1).add(0);
    expect(sparse.memoryBytes()).toBeLessThanOrEqual(16 * 1024);
  });

  it("maps byte extents to every block they touch", () => {
    const map = BlockMap.fromExtents(4096, 100_000, [
      { offset: 4095, length: 2 },
      { offset: 99_999, length: 1 },
    ]);
    expect([...map.indexes()]).toEqual([0, 1, 24]);
    expect([...map.extents(100_000)].at(-1)).toEqual({ offset: 98_304, length: 1_696 });
  });

  it("refuses ranges outside the map", () => {
    expect(() => new BlockMap(1, 10).addRange(5, 6)).toThrow(RangeError);
    expect(() => new BlockMap(1, 10).add(-1)).toThrow(RangeError);
  });
});
