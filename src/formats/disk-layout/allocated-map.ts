/**
 * The allocated map of a disk: every byte that must be synced. Partition-table areas, gaps between
 * partitions, and every volume Lifeboat does not fully trust count whole; trusted NTFS volumes count
 * only the clusters their $Bitmap marks allocated.
 *
 * Memory is bounded: the map's grain is the finest that both keeps cluster-exact accounting (the
 * smallest trusted cluster size, and no finer than the volumes' alignment allows) and keeps the map
 * at most `maxBlocks` bits. Coarsening only ever adds bytes (a block with any allocated byte is
 * allocated), so a coarser map reads a little more, never less.
 */

import { BlockMap } from "../../domain/block-map.ts";
import { LifeboatError } from "../../domain/errors.ts";
import type { ReadAt } from "../bytes.ts";
import type { TableOptions } from "../partition-table.ts";
import { analyzeDisk, type ClusterArea, type DiskLayout } from "./disk-layout.ts";

/** 2^26 bits = 8 MiB: cluster-exact at 4 KiB up to 256 GiB, 32 KiB grain at 2 TiB. */
export const DEFAULT_MAX_MAP_BLOCKS = 2 ** 26;
const MIN_GRAIN = 512;

export interface AllocatedMapOptions extends TableOptions {
  readonly maxBlocks?: number;
}

export interface AllocatedMap {
  readonly layout: DiskLayout;
  /** Null when the whole disk counts as allocated (no trusted NTFS volume). */
  readonly map: BlockMap | null;
}

export async function buildAllocatedMap(
  read: ReadAt,
  capacity: number,
  options: AllocatedMapOptions = {},
): Promise<AllocatedMap> {
  const maxBlocks = options.maxBlocks ?? DEFAULT_MAX_MAP_BLOCKS;
  let map: BlockMap | undefined;
  const layout = await analyzeDisk(read, capacity, {
    ...options,
    onTrusted: (areas) => {
      if (areas.length === 0) return () => undefined;
      const built = BlockMap.forCapacity(chooseGrain(capacity, areas, maxBlocks), capacity);
      map = built;
      return (area, lcn, count) =>
        addBytes(built, capacity, area.start + lcn * area.clusterSize, count * area.clusterSize);
    },
  });
  const trusted = layout.volumes.filter((v) => v.sync === "allocated");
  if (map === undefined || trusted.length === 0) return { layout, map: null };
  // Everything outside the trusted volumes' cluster areas is synced whole.
  let cursor = 0;
  const areas = trusted
    .map((v) => ({ start: v.start, end: v.start + (v.ntfs?.clusterCount ?? 0) * (v.ntfs?.clusterSize ?? 0) }))
    .sort((a, b) => a.start - b.start);
  for (const area of areas) {
    if (area.start < cursor) throw new LifeboatError("INTERNAL", "trusted volumes overlap");
    addBytes(map, capacity, cursor, area.start - cursor);
    cursor = area.end;
  }
  addBytes(map, capacity, cursor, capacity - cursor);
  return { layout, map };
}

/** A power of two ≥ 512 that divides every trusted volume's start and cluster size, within the bit budget. */
export function chooseGrain(capacity: number, areas: readonly ClusterArea[], maxBlocks: number): number {
  let grain = Math.min(...areas.map((a) => Math.min(a.clusterSize, lowestPowerOfTwo(a.start))));
  grain = Math.max(MIN_GRAIN, grain);
  while (Math.ceil(capacity / grain) > maxBlocks) grain *= 2;
  return grain;
}

function lowestPowerOfTwo(n: number): number {
  if (n === 0) return Number.POSITIVE_INFINITY;
  let p = 1;
  while (n % (p * 2) === 0) p *= 2;
  return p;
}

/** Marks every block that [offset, offset+length) touches, clipped to the disk. */
function addBytes(map: BlockMap, capacity: number, offset: number, length: number): void {
  const end = Math.min(capacity, offset + length);
  if (end <= offset || offset >= capacity) return;
  const first = Math.floor(offset / map.grain);
  const last = Math.floor((end - 1) / map.grain);
  map.addRange(first, last - first + 1);
}
