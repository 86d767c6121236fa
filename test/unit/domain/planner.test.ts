import { describe, expect, it } from "vitest";
import { BlockMap } from "../../../src/domain/block-map.ts";
import { chunkAllocation, type DiskBase, planDisk, unallocatedWithin } from "../../../src/domain/planner.ts";

const CHUNK = 65536;
const CAP = 16 * CHUNK; // 16 chunks
const CLUSTER = 4096;

function clusters(...ranges: Array<[number, number]>): BlockMap {
  const m = BlockMap.forCapacity(CLUSTER, CAP);
  for (const [start, count] of ranges) m.addRange(start, count);
  return m;
}

function baseFrom(allocation: BlockMap, overrides: Partial<DiskBase> = {}): DiskBase {
  const { allocated, partial } = chunkAllocation(allocation, CHUNK, CAP);
  return {
    seq: 1,
    token: "g:1",
    capacity: CAP,
    chunkSize: CHUNK,
    allocated,
    partial,
    deltasSinceCheckpoint: 0,
    ...overrides,
  };
}

const idx = (m: BlockMap) => [...m.indexes()];

describe("planner", () => {
  it("reads every allocated chunk on the first sync and writes a checkpoint", () => {
    const plan = planDisk({
      capacity: CAP,
      chunkSize: CHUNK,
      allocation: clusters([0, 16], [64, 20]),
      base: undefined,
      changes: undefined,
      checkpointEvery: 8,
    });
    expect(plan.mode).toBe("full");
    expect(plan.manifestKind).toBe("checkpoint");
    expect(idx(plan.read)).toEqual([0, 4, 5]);
    expect(idx(plan.partial)).toEqual([5]);
  });

  it("reads the whole capacity of a source without allocation information", () => {
    const plan = planDisk({
      capacity: CAP + 100,
      chunkSize: CHUNK,
      allocation: null,
      base: undefined,
      changes: undefined,
      checkpointEvery: 8,
    });
    expect(plan.read.count()).toBe(17);
    expect(plan.partial.isEmpty()).toBe(true);
  });

  it("reads only changed ∩ allocated chunks on an incremental when allocation is whole-chunk", () => {
    const allocation = clusters([0, 16 * 8]); // chunks 0-7 fully allocated
    const changes = BlockMap.forCapacity(16384, CAP).add(1).add(20).add(60); // bytes in chunks 0, 5 and 15
    const plan = planDisk({
      capacity: CAP,
      chunkSize: CHUNK,
      allocation,
      base: baseFrom(allocation),
      changes,
      checkpointEvery: 8,
    });
    expect(plan.mode).toBe("incremental");
    expect(plan.manifestKind).toBe("delta");
    expect(idx(plan.read)).toEqual([0, 5]);
    expect(plan.zero.isEmpty()).toBe(true);
  });

  it("re-reads partly and newly allocated chunks, and zeroes chunks freed since the base", () => {
    const before = clusters([0, 32], [48, 8]); // chunks 0,1 full, chunk 3 half
    const now = clusters([0, 16], [80, 16]); // chunk 0 full, chunk 5 full (new), chunk 1 and 3 freed
    const plan = planDisk({
      capacity: CAP,
      chunkSize: CHUNK,
      allocation: now,
      base: baseFrom(before),
      changes: BlockMap.forCapacity(CHUNK, CAP),
      checkpointEvery: 8,
    });
    expect(idx(plan.read)).toEqual([5]);
    expect(idx(plan.zero)).toEqual([1, 3]);
  });

  it("resyncs when the tracker was lost, and says why", () => {
    const allocation = clusters([0, 32]);
    const plan = planDisk({
      capacity: CAP,
      chunkSize: CHUNK,
      allocation,
      base: baseFrom(allocation),
      changes: { kind: "reset", reason: "tracker lost at unclean reboot" },
      checkpointEvery: 8,
    });
    expect(plan.mode).toBe("resync");
    expect(plan.expected).toBe(false);
    expect(plan.resetReason).toMatch(/unclean reboot/);
    expect(idx(plan.read)).toEqual([0, 1]);
    expect(plan.manifestKind).toBe("delta");
  });

  it("resyncs with a checkpoint when the capacity changed", () => {
    const allocation = clusters([0, 32]);
    const plan = planDisk({
      capacity: CAP * 2,
      chunkSize: CHUNK,
      allocation: BlockMap.forCapacity(CLUSTER, CAP * 2).addRange(0, 32),
      base: baseFrom(allocation),
      changes: BlockMap.forCapacity(CHUNK, CAP * 2),
      checkpointEvery: 8,
    });
    expect(plan.mode).toBe("resync");
    expect(plan.resetReason).toMatch(/capacity changed/);
    expect(plan.manifestKind).toBe("checkpoint");
  });

  it("treats a source without a tracker as an expected resync by content hash", () => {
    const plan = planDisk({
      capacity: CAP,
      chunkSize: CHUNK,
      allocation: null,
      base: baseFrom(clusters([0, 256]), { token: null }),
      changes: undefined,
      checkpointEvery: 8,
    });
    expect(plan.mode).toBe("resync");
    expect(plan.expected).toBe(true);
  });

  it("writes a checkpoint once the chain reaches K manifests", () => {
    const allocation = clusters([0, 32]);
    const input = {
      capacity: CAP,
      chunkSize: CHUNK,
      allocation,
      changes: BlockMap.forCapacity(CHUNK, CAP),
      checkpointEvery: 4,
    };
    expect(
      planDisk({ ...input, base: baseFrom(allocation, { deltasSinceCheckpoint: 2 }) }).manifestKind,
    ).toBe("delta");
    expect(
      planDisk({ ...input, base: baseFrom(allocation, { deltasSinceCheckpoint: 3 }) }).manifestKind,
    ).toBe("checkpoint");
  });

  it("finds the unallocated byte ranges inside a chunk", () => {
    const allocation = clusters([1, 2], [5, 1]);
    expect(unallocatedWithin(allocation, 0, 8 * CLUSTER)).toEqual([
      { offset: 0, length: CLUSTER },
      { offset: 3 * CLUSTER, length: 2 * CLUSTER },
      { offset: 6 * CLUSTER, length: 2 * CLUSTER },
    ]);
  });
});
