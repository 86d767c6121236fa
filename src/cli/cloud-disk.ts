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
import { LifeboatError } from "../domain/errors.ts";
import type { RestorePoint } from "../domain/restore-point.ts";
import type { Repository } from "../engine/repository/repository.ts";
import type { BlockTarget } from "../ports/block-target.ts";
import type { Log } from "../ports/log.ts";
import type { StateStore } from "../ports/state-store.ts";
import { planPass } from "./cloud-disk-plan.ts";
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
