/**
 * Which device serves each byte of a disk at snapshot time: ranges inside a shadow-copied volume
 * come from its shadow device (at the volume offset), everything else — partition tables, gaps,
 * partitions VSS cannot shadow such as a FAT32 EFI system partition — from the disk itself.
 */

import { BlockMap } from "../../domain/block-map.ts";
import type { HostDisk, HostVolume } from "./host-model.ts";

export interface ShadowSegment {
  readonly kind: "shadow";
  readonly start: number;
  readonly length: number;
  readonly volume: HostVolume;
  readonly device: string;
  /** Volume offset of the segment's first byte. */
  readonly volumeOffset: number;
}

export interface LiveSegment {
  readonly kind: "live";
  readonly start: number;
  readonly length: number;
}

export type Segment = ShadowSegment | LiveSegment;

/** The disk cut into segments, in order, covering it exactly. */
export function diskSegments(
  disk: HostDisk,
  volumes: readonly HostVolume[],
  shadowDevices: ReadonlyMap<string, string>,
): Segment[] {
  const shadows: ShadowSegment[] = [];
  for (const volume of volumes) {
    const device = shadowDevices.get(volume.guidPath);
    if (device === undefined) continue;
    for (const e of volume.extents) {
      if (e.diskNumber !== disk.number) continue;
      const length = Math.min(e.length, disk.capacity - e.startingOffset);
      if (length > 0)
        shadows.push({
          kind: "shadow",
          start: e.startingOffset,
          length,
          volume,
          device,
          volumeOffset: e.volumeOffset,
        });
    }
  }
  shadows.sort((a, b) => a.start - b.start);
  const segments: Segment[] = [];
  let at = 0;
  for (const s of shadows) {
    if (s.start < at) throw new RangeError(`volumes overlap on disk ${disk.id} at byte ${s.start}`);
    if (s.start > at) segments.push({ kind: "live", start: at, length: s.start - at });
    segments.push(s);
    at = s.start + s.length;
  }
  if (at < disk.capacity) segments.push({ kind: "live", start: at, length: disk.capacity - at });
  return segments;
}

/** The pieces of [offset, offset+length) and the segment serving each. */
export function* pieces(
  segments: readonly Segment[],
  offset: number,
  length: number,
): Generator<{ segment: Segment; offset: number; length: number }> {
  const end = offset + length;
  for (const segment of segments) {
    const from = Math.max(offset, segment.start);
    const to = Math.min(end, segment.start + segment.length);
    if (from < to) yield { segment, offset: from, length: to - from };
  }
}

/** NTFS volumes' segments, whose allocation the volume bitmap tells; everything else counts as allocated. */
export function isBitmapSegment(s: Segment): s is ShadowSegment {
  return (
    s.kind === "shadow" && s.volume.fileSystem.toUpperCase() === "NTFS" && (s.volume.clusterSize ?? 0) > 0
  );
}

/**
 * The finest grain that keeps every NTFS cluster on block boundaries of the disk (at most the
 * cluster size, at least 512): a 1 MiB-aligned partition gives the cluster size, an XP-era
 * partition at sector 63 gives 512.
 */
export function allocationGrain(segments: readonly Segment[]): number {
  let grain = 4096;
  for (const s of segments) {
    if (!isBitmapSegment(s)) continue;
    const base = s.start - s.volumeOffset;
    const low = base === 0 ? Number.MAX_SAFE_INTEGER : base & -base;
    grain = Math.min(grain, s.volume.clusterSize as number, low);
  }
  return Math.max(512, grain);
}

/**
 * The disk's allocation map from its volumes' cluster bitmaps. `clusters(volume)` gives the
 * allocated clusters of a shadow-copied NTFS volume (at cluster grain, volume-relative).
 */
export async function diskAllocation(
  capacity: number,
  segments: readonly Segment[],
  clusters: (segment: ShadowSegment) => Promise<BlockMap>,
): Promise<BlockMap> {
  const grain = allocationGrain(segments);
  const map = BlockMap.forCapacity(grain, capacity);
  for (const s of segments) {
    const first = Math.floor(s.start / grain);
    const last = Math.ceil((s.start + s.length) / grain);
    if (!isBitmapSegment(s)) {
      map.addRange(first, last - first);
      continue;
    }
    const clusterSize = s.volume.clusterSize as number;
    const perCluster = clusterSize / grain;
    const bitmap = await clusters(s);
    const firstCluster = Math.floor(s.volumeOffset / clusterSize);
    const lastCluster = Math.ceil((s.volumeOffset + s.length) / clusterSize);
    const base = s.start - s.volumeOffset;
    for (const run of bitmap.runs()) {
      const from = Math.max(run.start, firstCluster);
      const to = Math.min(run.start + run.count, lastCluster);
      if (from >= to) continue;
      const block = (base + from * clusterSize) / grain;
      const count = (to - from) * perCluster;
      const clippedEnd = Math.min(block + count, last, map.blocks);
      map.addRange(Math.max(block, first), clippedEnd - Math.max(block, first));
    }
    // The tail of a volume past its last whole cluster (and the backup boot sector) is metadata.
    const tail = base + bitmap.blocks * clusterSize;
    if (tail < s.start + s.length) {
      const from = Math.max(first, Math.floor(tail / grain));
      map.addRange(from, last - from);
    }
  }
  return map;
}
