/**
 * Cloud disk mode: after each committed point, bring a replica disk (any BlockTarget, in practice
 * an NBD export) to exactly that point's bytes, writing only the chunk positions that differ from
 * the point the replica held before.
 *
 * It runs alongside a repository, not instead of one: the repository's chunk maps say which
 * positions changed for every kind of source (tracker or content hash), the replica is always
 * exactly some committed point (so "consistent" means something checkable), and a lost or damaged
 * replica is rebuilt from the repository without touching the source (docs/nbd.md).
 *
 * Crash safety, through the state store: before the first write of a pass the record is marked
 * dirty ({fromSeq, toSeq}); progress (`doneBelow`) is recorded only after a target FLUSH; the record
 * says consistent again (seq = toSeq, no pass) only after the final FLUSH. A pass interrupted on
 * its way to point B and resumed towards C rewrites diff(A,C) ∪ diff(A,B): every position the
 * interrupted pass may have touched, plus what C needs.
 */

import { createHash } from "node:crypto";
import { BlockMap } from "../domain/block-map.ts";
import { isLifeboatError, LifeboatError } from "../domain/errors.ts";
import type { ChunkMap } from "../domain/manifest.ts";
import type { RestorePoint } from "../domain/restore-point.ts";
import { isAllZero } from "../engine/chunk-reader.ts";
import type { Repository } from "../engine/repository/repository.ts";
import type { BlockTarget } from "../ports/block-target.ts";
import type { Log } from "../ports/log.ts";
import type { StateStore } from "../ports/state-store.ts";
import { openNbdTarget } from "./nbd-uris.ts";

export interface ReplicaRecord {
  readonly version: 1;
  readonly target: string;
  readonly size: number;
  /** The point the replica holds exactly; null until a first pass completes. */
  readonly seq: number | null;
  /** Present while a pass is incomplete: the replica is then NOT a consistent copy of anything. */
  readonly pass?: { readonly fromSeq: number | null; readonly toSeq: number; readonly doneBelow: number };
}

export interface ReplicaResult {
  readonly target: string;
  readonly seq: number;
  readonly mode: "full" | "incremental";
  readonly resumed: boolean;
  readonly chunksWritten: number;
  readonly bytesWritten: number;
  readonly bytesZeroed: number;
  readonly consistent: true;
  readonly warnings: readonly string[];
}

export interface ReplicaDeps {
  readonly repo: Repository;
  readonly state: StateStore;
  readonly log: Log;
}

export interface ReplicaOptions {
  /** FLUSH and record progress after this many bytes. */
  readonly checkpointBytes?: number;
  readonly readsInFlight?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/** How many positions outside the pass are read back to check the replica still holds its point. */
const SAMPLES = 8;

export function replicaKey(repoId: string, point: RestorePoint, disk: string, target: string): string {
  const hash = createHash("sha256").update(`${repoId}\n${point.source}\n${disk}\n${target}`).digest("hex");
  return `replica-${hash.slice(0, 24)}`;
}

export async function readReplica(state: StateStore, key: string): Promise<ReplicaRecord | undefined> {
  const r = await state.read<ReplicaRecord>(key);
  if (r === undefined) return undefined;
  const ok =
    typeof r === "object" &&
    r.version === 1 &&
    typeof r.size === "number" &&
    (r.seq === null || Number.isInteger(r.seq));
  if (!ok)
    throw new LifeboatError("CONFIG_INVALID", `replica state ${key} is not a replica record`, {
      remedy: "Delete the named state file; the next backup rewrites the replica whole.",
    });
  return r;
}

export async function replicatePoint(
  deps: ReplicaDeps,
  point: RestorePoint,
  disk: string,
  target: BlockTarget,
  targetName: string,
  options: ReplicaOptions = {},
): Promise<ReplicaResult> {
  const { repo, state, log } = deps;
  const key = replicaKey(repo.config.repoId, point, disk, targetName);
  const record = await readReplica(state, key);
  const map = await repo.resolveDiskMap(point, disk);
  if (target.size < map.capacity) {
    throw new LifeboatError(
      "TARGET_TOO_SMALL",
      `${targetName} holds ${target.size} bytes; disk ${disk} needs ${map.capacity}`,
    );
  }
  const warnings: string[] = [];
  const plan = await planPass(repo, point, disk, map, target, record, warnings);
  for (const w of warnings) log.warn({ target: targetName }, w);
  const base = { version: 1 as const, target: targetName, size: target.size, seq: record?.seq ?? null };
  const mark = (doneBelow: number) =>
    state.write(key, {
      ...base,
      pass: { fromSeq: plan.fromSeq, toSeq: point.seq, doneBelow },
    } satisfies ReplicaRecord);
  await mark(plan.resumeFrom);

  const chunkSize = map.chunkSize;
  const checkpointBytes = options.checkpointBytes ?? 64 << 20;
  const inFlight = options.readsInFlight ?? 8;
  const total = plan.positions.count();
  let done = 0;
  let chunksWritten = 0;
  let bytesWritten = 0;
  let bytesZeroed = 0;
  let sinceCheckpoint = 0;
  let zeroRun: { start: number; end: number } | undefined;
  const pending: Array<{ index: number; data: Promise<Uint8Array> }> = [];
  const flushZeros = async () => {
    if (zeroRun === undefined) return;
    const offset = zeroRun.start * chunkSize;
    const length = Math.min(map.capacity, zeroRun.end * chunkSize) - offset;
    await target.zero(offset, length);
    bytesZeroed += length;
    zeroRun = undefined;
  };
  const writeNext = async () => {
    const next = pending.shift() as { index: number; data: Promise<Uint8Array> };
    const data = await next.data;
    await target.write(next.index * chunkSize, data);
    chunksWritten++;
    bytesWritten += data.length;
    sinceCheckpoint += data.length;
  };
  try {
    for (const index of plan.positions.indexes()) {
      if (index < plan.resumeFrom) continue;
      const ref = map.get(index);
      if (ref === undefined) {
        if (zeroRun !== undefined && zeroRun.end === index) zeroRun.end++;
        else {
          await flushZeros();
          zeroRun = { start: index, end: index + 1 };
        }
      } else {
        await flushZeros();
        const data = repo.readChunk(ref);
        data.catch(() => undefined); // awaited in order below; an early failure is not unhandled
        pending.push({ index, data });
        if (pending.length >= inFlight) await writeNext();
      }
      options.onProgress?.(++done, total);
      if (sinceCheckpoint >= checkpointBytes) {
        // Everything below index+1 is written: make it durable, then say so.
        while (pending.length > 0) await writeNext();
        await flushZeros();
        await target.flush();
        await mark(index + 1);
        sinceCheckpoint = 0;
      }
    }
    while (pending.length > 0) await writeNext();
    await flushZeros();
    await target.flush();
  } finally {
    pending.length = 0;
  }
  await state.write(key, { ...base, seq: point.seq } satisfies ReplicaRecord);
  return {
    target: targetName,
    seq: point.seq,
    mode: plan.fromSeq === null ? "full" : "incremental",
    resumed: record?.pass !== undefined,
    chunksWritten,
    bytesWritten,
    bytesZeroed,
    consistent: true,
    warnings,
  };
}

interface Pass {
  /** The point the untouched positions of the replica hold; null = rewrite everything. */
  readonly fromSeq: number | null;
  readonly positions: BlockMap;
  readonly resumeFrom: number;
}

async function planPass(
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

export interface CloudDiskOutcome {
  /** What `backup --json` reports under `replica`. */
  readonly report: ReplicaResult | { readonly target: string; readonly consistent: false };
  readonly summary: string;
  /** Set when the pass failed: the point is committed, the replica stays marked dirty. */
  readonly error?: unknown;
}

/** `backup --target URI`: brings the replica to the point just committed. Never throws. */
export async function replicateAfterBackup(
  deps: ReplicaDeps,
  committed: { readonly source: string; readonly seq: number },
  uri: string,
  options: ReplicaOptions = {},
): Promise<CloudDiskOutcome> {
  let where = uri;
  try {
    const point = await deps.repo.readPoint(committed.source, committed.seq);
    const only = point.disks.length === 1 ? point.disks[0] : undefined;
    if (only === undefined) {
      throw new LifeboatError(
        "USAGE",
        `--target keeps one disk in sync, but ${committed.source} has ${point.disks.length} disks`,
        {
          remedy: "Use --target with single-disk sources (an image, an NBD export).",
        },
      );
    }
    const target = await openNbdTarget(uri, deps.log);
    where = target.where;
    try {
      const result = await replicatePoint(deps, point, only.disk, target, target.where, options);
      return {
        report: result,
        summary: `replica ${result.target} now holds ${point.source}@${point.seq} (${result.mode}${result.resumed ? ", resumed" : ""}): ${result.chunksWritten} chunks written, ${result.bytesZeroed} bytes zeroed`,
      };
    } finally {
      await target.close().catch(() => undefined);
    }
  } catch (error) {
    return {
      report: { target: where, consistent: false },
      summary: `replica ${where} was NOT brought to ${committed.source}@${committed.seq}; it stays marked incomplete until a later backup finishes a pass`,
      error,
    };
  }
}
