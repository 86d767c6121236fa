/**
 * Restores one disk of a restore point onto a block target, and optionally proves the target now
 * holds exactly the point's bytes by reading it back and recomputing every chunk id.
 */

import { LifeboatError } from "../domain/errors.ts";
import type { ChunkMap, ChunkRef } from "../domain/manifest.ts";
import type { RestorePoint } from "../domain/restore-point.ts";
import type { BlockTarget } from "../ports/block-target.ts";
import { isAllZero } from "./chunk-reader.ts";
import type { Repository } from "./repository/repository.ts";

export interface RestoreOptions {
  /** Read the target back and compare every chunk with the point. */
  readonly verify?: boolean;
  /** The target already reads as zeros (a new sparse file), so zero chunks need no writes. */
  readonly targetIsZeroed?: boolean;
  readonly readsInFlight?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface RestoreResult {
  readonly disk: string;
  readonly capacity: number;
  readonly bytesWritten: number;
  readonly bytesZeroed: number;
  readonly verified: boolean;
}

export async function restoreDisk(
  repo: Repository,
  point: RestorePoint,
  disk: string,
  target: BlockTarget,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const pointDisk = point.disks.find((d) => d.disk === disk);
  if (pointDisk === undefined)
    throw new LifeboatError("DISK_NOT_FOUND", `point ${point.source}@${point.seq} has no disk ${disk}`);
  const capacity = pointDisk.capacity;
  if (target.size < capacity) {
    throw new LifeboatError(
      "TARGET_TOO_SMALL",
      `target holds ${target.size} bytes; disk ${disk} needs ${capacity}`,
    );
  }
  const map = await repo.resolveDiskMap(point, disk);
  const chunkSize = map.chunkSize;
  let bytesWritten = 0;
  let bytesZeroed = 0;
  let zeroStart = -1;
  const flushZeros = async (end: number) => {
    if (zeroStart < 0) return;
    const offset = zeroStart * chunkSize;
    const length = Math.min(capacity, end * chunkSize) - offset;
    if (!options.targetIsZeroed) await target.zero(offset, length);
    bytesZeroed += length;
    zeroStart = -1;
  };
  const inFlight = options.readsInFlight ?? 4;
  const pending: Array<{ index: number; data: Promise<Uint8Array> }> = [];
  const writeNext = async () => {
    const next = pending.shift() as { index: number; data: Promise<Uint8Array> };
    const data = await next.data;
    await target.write(next.index * chunkSize, data);
    bytesWritten += data.length;
  };
  try {
    for (let index = 0; index < map.chunks; index++) {
      const ref = map.get(index);
      if (ref === undefined) {
        if (zeroStart < 0) zeroStart = index;
        continue;
      }
      await flushZeros(index);
      const data = repo.readChunk(ref);
      data.catch(() => undefined); // rethrown in order by writeNext, never unhandled
      pending.push({ index, data });
      if (pending.length >= inFlight) await writeNext();
      options.onProgress?.(index + 1, map.chunks);
    }
    while (pending.length > 0) await writeNext();
    await flushZeros(map.chunks);
  } finally {
    for (const p of pending) p.data.catch(() => undefined);
  }
  await target.flush();
  const verified = options.verify === true ? await verifyTarget(repo, map, target, capacity) : false;
  return { disk, capacity, bytesWritten, bytesZeroed, verified };
}

/** Reads the target back and checks every chunk against the map; throws VERIFY_FAILED on the first mismatch. */
async function verifyTarget(
  repo: Repository,
  map: ChunkMap,
  target: BlockTarget,
  capacity: number,
): Promise<true> {
  const chunkSize = map.chunkSize;
  for (let index = 0; index < map.chunks; index++) {
    const offset = index * chunkSize;
    const data = await target.read(offset, Math.min(chunkSize, capacity - offset));
    const ref: ChunkRef | undefined = map.get(index);
    const ok = ref === undefined ? isAllZero(data) : Buffer.from(repo.chunkId(data)).equals(ref.id);
    if (!ok) {
      throw new LifeboatError(
        "VERIFY_FAILED",
        `restored bytes at offset ${offset} differ from the restore point`,
        {
          remedy: "Check the target device for write errors and restore again.",
        },
      );
    }
  }
  return true;
}
