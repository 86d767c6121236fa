import { describe, expect, it } from "vitest";
import { ContentGenerator } from "../../../src/adapters/sim/content.ts";
import { PAGE_SIZE } from "../../../src/adapters/sim/pages.ts";
import { Prng } from "../../../src/adapters/sim/prng.ts";
import { METADATA_BYTES, SimDisk } from "../../../src/adapters/sim/sim-disk.ts";
import { isZero, sameBytes } from "./bytes.ts";

const MiB = 1 << 20;
const newDisk = (capacity = 4 * MiB) =>
  new SimDisk({ id: "d", capacity, content: new ContentGenerator(new Prng("disk")) });

describe("SimDisk", () => {
  it("replaces only the touched pages, so an earlier capture keeps its bytes and shares the rest", () => {
    const disk = newDisk();
    disk.write(2 * MiB, new Uint8Array(PAGE_SIZE).fill(1));
    const before = disk.capturePages();
    disk.write(2 * MiB + 512, new Uint8Array(1024).fill(2));
    const after = disk.capturePages();
    const page = (2 * MiB) / PAGE_SIZE;
    expect(before[page]?.[512]).toBe(1);
    expect(after[page]?.[512]).toBe(2);
    expect(after[page]).not.toBe(before[page]);
    expect(after[0]).toBe(before[0]);
  });

  it("accepts writes at any sector offset, across page boundaries, and refuses unaligned ones", () => {
    const disk = newDisk();
    const data = new Prng(1).bytes(3 * 512);
    disk.write(PAGE_SIZE - 512, data);
    expect(disk.read(PAGE_SIZE - 512, data.length)).toEqual(data);
    expect(() => disk.write(100, new Uint8Array(512))).toThrow(RangeError);
    expect(() => disk.write(0, new Uint8Array(100))).toThrow(RangeError);
    expect(() => disk.write(disk.capacity, new Uint8Array(512))).toThrow(RangeError);
  });

  it("keeps the metadata region allocated and allocates first-fit from a moving cursor", () => {
    const disk = newDisk();
    const metadataClusters = METADATA_BYTES / disk.clusterSize;
    for (let c = 0; c < metadataClusters; c++) expect(disk.isAllocated(c)).toBe(true);
    const a = disk.allocate(3);
    const b = disk.allocate(2);
    expect(a).toEqual([{ offset: METADATA_BYTES, length: 3 * 4096 }]);
    expect(b).toEqual([{ offset: METADATA_BYTES + 3 * 4096, length: 2 * 4096 }]);
    disk.free(a);
    // The cursor moves on: the hole is reused only after the allocator wraps around.
    expect(disk.allocate(1)[0]?.offset).toBe(METADATA_BYTES + 5 * 4096);
  });

  it("fills holes when it wraps, giving fragmented extents", () => {
    const disk = newDisk();
    const free = disk.clusterCount - disk.allocatedClusters;
    const all = disk.allocate(free);
    const first = all[0];
    if (first === undefined) throw new Error("no extent");
    disk.free([{ offset: first.offset, length: 4096 }]);
    disk.free([{ offset: first.offset + 3 * 4096, length: 2 * 4096 }]);
    expect(disk.allocate(3)).toEqual([
      { offset: first.offset, length: 4096 },
      { offset: first.offset + 3 * 4096, length: 2 * 4096 },
    ]);
    expect(() => disk.allocate(1)).toThrow(/full/);
  });

  it("writes the $Bitmap sectors on every allocation change, with the allocation bits", () => {
    const disk = newDisk();
    const writes: Array<[number, number]> = [];
    disk.onWrite((offset, length) => writes.push([offset, length]));
    const [extent] = disk.allocate(1);
    if (extent === undefined) throw new Error("no extent");
    expect(writes.length).toBeGreaterThan(0);
    for (const [offset, length] of writes) expect(offset + length).toBeLessThanOrEqual(METADATA_BYTES);
    const cluster = extent.offset / disk.clusterSize;
    const bitmapByte = disk.read(4096, 512)[cluster >> 3] ?? 0;
    expect((bitmapByte >> (cluster & 7)) & 1).toBe(1);
    writes.length = 0;
    disk.free([extent]);
    expect(writes.length).toBeGreaterThan(0);
    expect(((disk.read(4096, 512)[cluster >> 3] ?? 0) >> (cluster & 7)) & 1).toBe(0);
  });

  it("leaves stale bytes in clusters freed by a delete", () => {
    const disk = newDisk();
    const file = disk.createFile(256 * 1024);
    const extents = [...file.extents];
    const before = extents.map((e) => disk.read(e.offset, e.length));
    expect(before.some((b) => !isZero(b))).toBe(true);
    disk.deleteFile(file);
    extents.forEach((e, i) => {
      expect(disk.isAllocated(e.offset / disk.clusterSize)).toBe(false);
      expect(sameBytes(disk.read(e.offset, e.length), before[i] as Uint8Array)).toBe(true);
    });
  });

  it("grows files by appending and tracks their size in sectors", () => {
    const disk = newDisk();
    const file = disk.createFile(1000);
    expect(file.size).toBe(1024);
    const allocated = disk.allocatedClusters;
    disk.appendFile(file, 10_000);
    expect(file.size).toBe(1024 + 10_240);
    expect(disk.allocatedClusters).toBe(allocated + 2);
    disk.overwrite(file, 512, 4096);
    expect(() => disk.overwrite(file, 512, file.size)).toThrow(RangeError);
  });

  it("grows the volume and keeps its bytes and allocation", () => {
    const disk = newDisk();
    const file = disk.createFile(64 * 1024);
    const before = disk.read(0, disk.capacity);
    disk.resize(8 * MiB);
    expect(disk.capacity).toBe(8 * MiB);
    expect(disk.clusterCount).toBe((8 * MiB) / 4096);
    expect(sameBytes(disk.read(512, 4 * MiB - 512), before.subarray(512))).toBe(true);
    expect(disk.isAllocated((file.extents[0]?.offset ?? 0) / 4096)).toBe(true);
    expect(() => disk.resize(4 * MiB)).toThrow(RangeError);
  });
});
