/**
 * The planner decides, per disk, how a sync runs and which chunks it must read (design §4):
 *
 * - full: no committed point holds this disk → read every allocated chunk.
 * - incremental: the base point's change token is still valid → read changed ∩ allocated chunks,
 *   plus the chunks whose allocation may have changed without a data write (partly allocated
 *   chunks, newly allocated chunks), since unallocated bytes are zeroed and stale data must never
 *   leak into a point.
 * - resync: the token is invalid (tracker lost, CBT reset, capacity changed) or the source has no
 *   tracker → read every allocated chunk and store only those whose content differs from the base.
 *
 * In every mode, chunks allocated in the base and wholly unallocated now are recorded as zeros.
 */

import { BlockMap, type Extent } from "./block-map.ts";
import type { SyncMode } from "./restore-point.ts";
import type { ChangeReset } from "./snapshot.ts";

/** What the base point recorded about a disk. */
export interface DiskBase {
  readonly seq: number;
  readonly token: string | null;
  readonly capacity: number;
  readonly chunkSize: number;
  readonly allocated: BlockMap;
  readonly partial: BlockMap;
  readonly deltasSinceCheckpoint: number;
}

export interface PlanInput {
  readonly capacity: number;
  readonly chunkSize: number;
  /** Allocated blocks at the source's grain; null = the whole capacity counts as allocated. */
  readonly allocation: BlockMap | null;
  readonly base: DiskBase | undefined;
  /**
   * Changes since the base point (any grain) from the source's tracker or an external one, a reset,
   * or undefined when nothing tracks changes.
   */
  readonly changes: BlockMap | ChangeReset | undefined;
  /** A reason to resync whatever the tracker says (e.g. the state machine saw a CBT reset). */
  readonly forceResync?: string;
  /** Positions to read whatever the tracker says: their stored copy was found damaged (self-heal). */
  readonly mustReread?: BlockMap;
  readonly checkpointEvery: number;
}

export interface DiskPlan {
  readonly mode: SyncMode;
  /** Why this is a resync; absent otherwise. */
  readonly resetReason?: string;
  /** Whether the resync was expected (a source without a tracker) rather than a degradation to warn about. */
  readonly expected: boolean;
  /** Chunks to read, at chunk grain. */
  readonly read: BlockMap;
  /** Chunks to record as all-zero without reading. */
  readonly zero: BlockMap;
  /** Chunks with any allocated byte now. */
  readonly allocated: BlockMap;
  /** Chunks only partly allocated now (their unallocated bytes are zeroed before hashing). */
  readonly partial: BlockMap;
  readonly manifestKind: "checkpoint" | "delta";
}

export function planDisk(input: PlanInput): DiskPlan {
  const plan = planByTracker(input);
  if (input.mustReread === undefined || input.mustReread.blocks !== plan.read.blocks) return plan;
  return { ...plan, read: plan.read.union(input.mustReread.intersect(plan.allocated)) };
}

function planByTracker(input: PlanInput): DiskPlan {
  const { capacity, chunkSize, base } = input;
  const { allocated, partial } = chunkAllocation(input.allocation, chunkSize, capacity);
  const sameShape = base !== undefined && base.capacity === capacity && base.chunkSize === chunkSize;
  const manifestKind =
    !sameShape || base.deltasSinceCheckpoint + 1 >= input.checkpointEvery ? "checkpoint" : "delta";
  const zero = sameShape ? base.allocated.difference(allocated) : new BlockMap(chunkSize, allocated.blocks);
  const common = { allocated, partial, zero, manifestKind } as const;

  if (base === undefined) return { mode: "full", expected: true, read: allocated, ...common };

  const resync = (reason: string, expected = false): DiskPlan => ({
    mode: "resync",
    resetReason: reason,
    expected,
    read: allocated,
    ...common,
  });
  if (!sameShape) {
    return resync(
      base.capacity !== capacity
        ? `capacity changed from ${base.capacity} to ${capacity} bytes`
        : `chunk size changed from ${base.chunkSize} to ${chunkSize}`,
    );
  }
  if (input.forceResync !== undefined) return resync(input.forceResync);
  const changes = input.changes;
  if (changes === undefined) {
    return resync("the source has no change tracker; changes are found by content hash", true);
  }
  if (!(changes instanceof BlockMap)) return resync(changes.reason);

  const changed = BlockMap.fromExtents(chunkSize, capacity, changes.extents(capacity));
  const mayDiffer = changed.union(partial).union(base.partial).union(allocated.difference(base.allocated));
  return { mode: "incremental", expected: true, read: allocated.intersect(mayDiffer), ...common };
}

/** Chunks with any allocated byte, and those of them not wholly allocated. */
export function chunkAllocation(
  allocation: BlockMap | null,
  chunkSize: number,
  capacity: number,
): { allocated: BlockMap; partial: BlockMap } {
  const chunks = Math.ceil(capacity / chunkSize);
  if (allocation === null)
    return { allocated: BlockMap.full(chunkSize, chunks), partial: new BlockMap(chunkSize, chunks) };
  const extents = [...allocation.extents(capacity)];
  const allocated = BlockMap.fromExtents(chunkSize, capacity, extents);
  const whole = new BlockMap(chunkSize, chunks);
  for (const e of extents) {
    const end = e.offset + e.length;
    const first = Math.ceil(e.offset / chunkSize);
    const last = end === capacity ? chunks : Math.floor(end / chunkSize);
    if (last > first) whole.addRange(first, last - first);
  }
  return { allocated, partial: allocated.difference(whole) };
}

/** Byte ranges inside [offset, offset+length) that are NOT allocated (to be zeroed before hashing). */
export function unallocatedWithin(allocation: BlockMap, offset: number, length: number): Extent[] {
  const grain = allocation.grain;
  const out: Extent[] = [];
  const end = offset + length;
  let holeStart = -1;
  for (let block = Math.floor(offset / grain); block * grain < end; block++) {
    const allocated = block < allocation.blocks && allocation.has(block);
    const start = Math.max(offset, block * grain);
    if (!allocated && holeStart < 0) holeStart = start;
    if (allocated && holeStart >= 0) {
      out.push({ offset: holeStart, length: start - holeStart });
      holeStart = -1;
    }
  }
  if (holeStart >= 0) out.push({ offset: holeStart, length: end - holeStart });
  return out;
}
