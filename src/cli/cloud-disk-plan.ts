/**
 * Which chunk positions a cloud-disk pass must write (see cloud-disk.ts): the difference between
 * the point the replica holds and the new one, widened by what an interrupted pass may have
 * touched, or everything when the replica cannot be trusted to hold the point it should.
 */

import { BlockMap } from "../domain/block-map.ts";
import { isLifeboatError } from "../domain/errors.ts";
import type { ChunkMap } from "../domain/manifest.ts";
import type { RestorePoint } from "../domain/restore-point.ts";
import { isAllZero } from "../engine/chunk-reader.ts";
import type { Repository } from "../engine/repository/repository.ts";
import type { BlockTarget } from "../ports/block-target.ts";
import type { ReplicaRecord } from "./cloud-disk.ts";

/** How many positions outside the pass are read back to check the replica still holds its point. */
const SAMPLES = 8;

export interface Pass {
  /** The point the untouched positions of the replica hold; null = rewrite everything. */
  readonly fromSeq: number | null;
  readonly positions: BlockMap;
  readonly resumeFrom: number;
}

export async function planPass(
  repo: Repository,
  point: RestorePoint,
  disk: string,
  map: ChunkMap,
  target: BlockTarget,
  record: ReplicaRecord | undefined,
  warnings: string[],
): Promise<Pass> {
  const full = (why?: string, resumeFrom = 0): Pass => {
    if (why !== undefined) warnings.push(`rewriting the replica whole: ${why}`);
    return { fromSeq: null, positions: BlockMap.full(map.chunkSize, map.chunks), resumeFrom };
  };
  if (record === undefined) return full();
  if (record.size !== target.size)
    return full(`the target's size changed from ${record.size} to ${target.size} bytes`);
  const fromSeq = record.pass !== undefined ? record.pass.fromSeq : record.seq;
  if (fromSeq === null) {
    // An interrupted full pass: towards the same point it goes on where it durably got to.
    const pass = record.pass;
    return full(undefined, pass !== undefined && pass.toSeq === point.seq ? pass.doneBelow : 0);
  }
  const from = await mapAt(repo, point, disk, fromSeq);
  if (from === undefined || from.chunkSize !== map.chunkSize || from.capacity !== map.capacity) {
    return full(`point ${point.source}@${fromSeq}, which the replica held, is gone or has another shape`);
  }
  const positions = difference(from, map);
  let resumeFrom = 0;
  if (record.pass !== undefined) {
    if (record.pass.toSeq === point.seq) resumeFrom = record.pass.doneBelow;
    else {
      const interrupted = await mapAt(repo, point, disk, record.pass.toSeq);
      if (
        interrupted === undefined ||
        interrupted.chunkSize !== map.chunkSize ||
        interrupted.capacity !== map.capacity
      ) {
        return full(`the interrupted pass towards ${point.source}@${record.pass.toSeq} cannot be retraced`);
      }
      for (const i of difference(from, interrupted).indexes()) positions.add(i);
    }
  }
  const mismatch = await sampleMismatch(repo, from, positions, target);
  if (mismatch !== undefined) {
    return full(
      `the target differs from ${point.source}@${fromSeq} at offset ${mismatch} (was it written by someone else, or replaced?)`,
    );
  }
  return { fromSeq, positions, resumeFrom };
}

async function mapAt(
  repo: Repository,
  point: RestorePoint,
  disk: string,
  seq: number,
): Promise<ChunkMap | undefined> {
  try {
    const other = seq === point.seq ? point : await repo.readPoint(point.source, seq);
    return await repo.resolveDiskMap(other, disk);
  } catch (e) {
    if (isLifeboatError(e, "POINT_NOT_FOUND") || isLifeboatError(e, "DISK_NOT_FOUND")) return undefined;
    throw e;
  }
}

/** Positions whose content differs between two maps of the same shape. */
function difference(a: ChunkMap, b: ChunkMap): BlockMap {
  const out = new BlockMap(b.chunkSize, b.chunks);
  for (const [index, ref] of b.entries()) {
    const other = a.get(index);
    if (other === undefined || !Buffer.from(other.id).equals(ref.id)) out.add(index);
  }
  for (const [index] of a.entries()) if (b.get(index) === undefined) out.add(index);
  return out;
}

/** Reads a few positions the pass will not touch and checks they still hold `from`'s bytes. */
async function sampleMismatch(
  repo: Repository,
  from: ChunkMap,
  skip: BlockMap,
  target: BlockTarget,
): Promise<number | undefined> {
  const stored = from.entries().filter(([i]) => !skip.has(i));
  const picks = new Set<number>();
  if (!skip.has(0)) picks.add(0);
  for (let k = 0; k < SAMPLES && stored.length > 0; k++)
    picks.add((stored[Math.floor((k * stored.length) / SAMPLES)] as [number, unknown])[0]);
  for (const index of picks) {
    const offset = index * from.chunkSize;
    const data = await target.read(offset, Math.min(from.chunkSize, from.capacity - offset));
    const ref = from.get(index);
    const same = ref === undefined ? isAllZero(data) : Buffer.from(repo.chunkId(data)).equals(ref.id);
    if (!same) return offset;
  }
  return undefined;
}
