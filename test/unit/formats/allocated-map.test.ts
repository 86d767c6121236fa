import { describe, expect, it } from "vitest";
import { BlockMap } from "../../../src/domain/block-map.ts";
import type { ReadAt } from "../../../src/formats/bytes.ts";
import {
  buildAllocatedMap,
  chooseGrain,
  DEFAULT_MAX_MAP_BLOCKS,
} from "../../../src/formats/disk-layout/allocated-map.ts";
import { openNtfsVolume } from "../../../src/formats/ntfs/volume.ts";
import { gunzipFixture, memoryReader } from "../../helpers/ntfs-images.ts";

const TiB = 2 ** 40;

describe("the allocated map", () => {
  it("keeps cluster grain where the volumes allow it, and no finer than their alignment", () => {
    const volume = (start: number, clusterSize = 4096) => [{ start, clusterSize, clusterCount: 1000 }];
    expect(chooseGrain(1 << 30, volume(1 << 20), DEFAULT_MAX_MAP_BLOCKS)).toBe(4096);
    expect(chooseGrain(1 << 30, volume(63 * 512), DEFAULT_MAX_MAP_BLOCKS)).toBe(512); // XP-style LBA 63
    expect(chooseGrain(1 << 30, volume(34 * 512), DEFAULT_MAX_MAP_BLOCKS)).toBe(1024); // sgdisk's LBA 34
    expect(chooseGrain(1 << 30, volume(1 << 20, 2 << 20), DEFAULT_MAX_MAP_BLOCKS)).toBe(1 << 20);
  });

  it("stays within its memory budget on a 2 TiB disk (a coarser grain only ever adds bytes)", () => {
    const grain = chooseGrain(
      2 * TiB,
      [{ start: 1 << 20, clusterSize: 4096, clusterCount: 1 }],
      DEFAULT_MAX_MAP_BLOCKS,
    );
    expect(grain).toBe(32 * 1024);
    const dense = BlockMap.full(grain, Math.ceil((2 * TiB) / grain));
    expect(dense.memoryBytes()).toBeLessThanOrEqual(8 << 20);
  });

  it("streams $Bitmap in bounded reads and counts the same at any grain", async () => {
    const volume = await gunzipFixture("volumes/dfir_ntfs__file_4k.bin.gz");
    let largest = 0;
    const read: ReadAt = (offset, length) => {
      largest = Math.max(largest, length);
      return memoryReader(volume)(offset, length);
    };
    const fine = await buildAllocatedMap(read, volume.length);
    const coarse = await buildAllocatedMap(read, volume.length, { maxBlocks: 100 });
    expect(largest).toBeLessThanOrEqual(68 * 1024);
    expect(fine.map?.grain).toBe(4096);
    expect(coarse.map?.grain).toBe(32 * 1024);
    // Every fine block is inside a coarse block: coarsening never drops allocated bytes.
    for (const i of fine.map?.indexes() ?? []) expect(coarse.map?.has(Math.floor(i / 8))).toBe(true);
    expect(coarse.layout.volumes[0]?.ntfs?.usedClusters).toBe(700);
  });

  it("counts the whole disk when the only volume's bitmap forgets a system file's clusters", async () => {
    const volume = await gunzipFixture("volumes/dfir_ntfs__file_4k.bin.gz");
    const { layout } = await buildAllocatedMap(memoryReader(volume), volume.length);
    expect(layout.volumes[0]?.sync).toBe("allocated");
    // Find $Bitmap's clusters through our own parser, then mark cluster 0 ($Boot) free in it.
    const damaged = volume.slice();
    const ntfs = await openNtfsVolume(memoryReader(volume), volume.length);
    const bitmapAt = (ntfs.bitmap.runs[0]?.lcn ?? 0) * 4096;
    damaged[bitmapAt] = (damaged[bitmapAt] as number) & 0xfe;
    const after = await buildAllocatedMap(memoryReader(damaged), damaged.length);
    expect(after.map).toBeNull();
    expect(after.layout.volumes[0]?.reason).toMatch(/cluster 0, used by a system file, is marked free/);
  });
});
