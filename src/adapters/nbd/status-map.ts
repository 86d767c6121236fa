/**
 * Turns BLOCK_STATUS answers for one meta context into a BlockMap over the whole export: the
 * blocks whose status flags satisfy `wanted`. Blocks are rounded outwards (a block partly in a
 * wanted extent is in the map), which is the safe direction for both uses: allocation (reading a
 * few more bytes that happen to be zero) and dirty extents (reading a few more unchanged bytes).
 */

import { BlockMap } from "../../domain/block-map.ts";
import { check } from "../../formats/nbd/limits.ts";
import type { NbdClient } from "./client.ts";

/** Largest range asked about in one request (the protocol's length field is 32 bits). */
const STATUS_REQUEST = 2 ** 31;
/** The finest grain used; coarser on huge disks so the map stays at most 2^28 bits (32 MiB). */
const MIN_GRAIN = 4096;
const MAX_BLOCKS = 2 ** 28;

export function statusGrain(capacity: number): number {
  let grain = MIN_GRAIN;
  while (Math.ceil(capacity / grain) > MAX_BLOCKS) grain *= 2;
  return grain;
}

export async function statusMap(
  client: NbdClient,
  contextId: number,
  capacity: number,
  wanted: (flags: number) => boolean,
  call: <T>(run: () => Promise<T>) => Promise<T> = (run) => run(),
): Promise<BlockMap> {
  const grain = statusGrain(capacity);
  const map = BlockMap.forCapacity(grain, capacity);
  let offset = 0;
  while (offset < capacity) {
    const length = Math.min(STATUS_REQUEST, capacity - offset);
    const byContext = await call(() => client.blockStatus(offset, length));
    const extents = byContext.get(contextId);
    check(extents !== undefined, `BLOCK_STATUS reply has no extents for context ${contextId}`);
    let at = offset;
    for (const e of extents) {
      // The last extent may run past the range asked about; only what was asked is trusted.
      const end = Math.min(at + e.length, offset + length);
      if (end <= at) break;
      if (wanted(e.flags)) {
        const first = Math.floor(at / grain);
        const last = Math.ceil(end / grain);
        map.addRange(first, last - first);
      }
      at = end;
    }
    check(at > offset, "BLOCK_STATUS made no progress");
    offset = at;
  }
  return map;
}
