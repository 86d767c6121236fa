/**
 * The promise, as checks a fuzzer runs after every sync of a simulated world. Each check reads the
 * durable repository through an independent reader and judges restores against the simulator's
 * oracle — never against the engine's own bookkeeping. A violation throws an Error whose message
 * starts with the invariant's name.
 */

import { Prng } from "../../adapters/sim/prng.ts";
import type { BlockMap } from "../../domain/block-map.ts";
import type { RestorePoint } from "../../domain/restore-point.ts";
import { idHex } from "../../engine/chunk-cache.ts";
import { PACKS_PREFIX } from "../../engine/repository/object-keys.ts";
import type { Repository } from "../../engine/repository/repository.ts";
import type { WorldAttempt } from "./world.ts";
import type { World } from "./world.ts";
import { oracleMismatches } from "./oracle-check.ts";
import { applyWorldEvent, type WorldEventKind } from "./world-events.ts";

const CHUNK = 64 * 1024;

/** What the world looked like just before a sync, to judge what the sync did. */
interface BeforeSync {
  readonly allocation: Map<string, BlockMap>;
  readonly written: Map<string, BlockMap>;
  readonly packs: Set<string>;
  readonly resumeIds: Set<string>;
  readonly eventBefore: boolean;
}

export class PromiseChecker {
  readonly #world: World;
  /** seq → job id of every point ever seen committed: none may disappear or change. */
  readonly #seen = new Map<number, string>();
  readonly #events: Prng;
  /** Cluster allocation at the snapshot of the last committed point, per disk. */
  #baseAllocation: Map<string, BlockMap> | undefined;
  #lastCommitted = false;
  #eventPending = false;
  /** A change-tracking reset (tracker loss, CBT reset, resize) happened since the last commit. */
  #resetSinceCommit = false;

  constructor(world: World, seed: number) {
    this.#world = world;
    this.#events = new Prng(seed).fork("fuzz-events");
  }

  async applyEvent(event: WorldEventKind): Promise<void> {
    await applyWorldEvent(this.#world, event, this.#events);
    this.#eventPending = true;
    if (event === "tracker-loss" || event === "cbt-reset" || event === "disk-resize")
      this.#resetSinceCommit = true;
  }

  /** Runs one trigger and checks every invariant after it. */
  async sync(): Promise<WorldAttempt> {
    const before = await this.#before();
    const attempt = await this.#world.trigger();
    await this.#check(attempt, before);
    return attempt;
  }

  /** Progress: with no fault left, the next sync commits. */
  async progress(): Promise<void> {
    const attempt = await this.sync();
    if (attempt.outcome !== "committed") {
      throw new Error(
        `progress: a fault-free sync did not commit (${attempt.outcome}: ${String(attempt.error)})`,
      );
    }
  }

  async #before(): Promise<BeforeSync> {
    const host = this.#world.host;
    const allocation = new Map<string, BlockMap>();
    const written = new Map<string, BlockMap>();
    for (const d of await host.describe()) {
      allocation.set(d.id, host.disk(d.id).captureAllocation());
      written.set(d.id, host.writtenSinceLastSnapshot(d.id));
    }
    const eventBefore = this.#eventPending;
    this.#eventPending = false;
    return {
      allocation,
      written,
      packs: await this.#packs(),
      resumeIds: await this.#resumeIds(),
      eventBefore,
    };
  }

  async #check(attempt: WorldAttempt, before: BeforeSync): Promise<void> {
    const reader = await this.#world.reader();
    const points = await reader.listPoints(this.#world.host.name);
    this.#checkChain(points);
    // Atomicity and fidelity: after a crash every listed point, otherwise the new ones.
    for (const point of points) {
      if (this.#seen.has(point.seq) && !attempt.crashed) continue;
      const bad = await oracleMismatches(reader, this.#world.host, point).catch((e: unknown) => {
        throw new Error(
          `atomicity: point ${point.seq} is listed but cannot be restored: ${(e as Error).message}`,
        );
      });
      if (bad.length > 0) {
        const m = bad[0] as (typeof bad)[number];
        throw new Error(`fidelity: point ${point.seq} disk ${m.disk} at offset ${m.offset}: ${m.reason}`);
      }
      this.#seen.set(point.seq, point.jobId);
    }
    const result = attempt.result;
    if (result !== undefined) {
      const point = points.find((p) => p.seq === result.point.seq);
      if (point === undefined)
        throw new Error(`atomicity: committed point ${result.point.seq} is not listed`);
      await this.#checkResume(reader, before);
      this.#checkNoNeedlessResync(point);
      if (this.#lastCommitted && !before.eventBefore) await this.#checkEfficiency(reader, point, before);
      this.#baseAllocation = before.allocation;
      this.#resetSinceCommit = false;
    }
    this.#lastCommitted = result !== undefined;
  }

  #checkChain(points: readonly RestorePoint[]): void {
    points.forEach((p, i) => {
      if (p.seq !== i + 1)
        throw new Error(`chain: sequence numbers ${points.map((q) => q.seq).join(",")} have a gap`);
    });
    for (const [seq, jobId] of this.#seen) {
      const p = points.find((q) => q.seq === seq);
      if (p === undefined) throw new Error(`durability: committed point ${seq} disappeared`);
      if (p.jobId !== jobId)
        throw new Error(`durability: committed point ${seq} was replaced by another job's`);
    }
  }

  /**
   * Aborts, crashes and store errors never cost a resync: the tracker keeps every change since the
   * last committed point, so only a real reset (tracker loss, CBT reset, resize) may force one.
   */
  #checkNoNeedlessResync(point: RestorePoint): void {
    if (this.#resetSinceCommit || point.seq === 1) return;
    const resynced = point.disks.find((d) => d.mode === "resync");
    if (resynced !== undefined) {
      throw new Error(
        `efficiency: disk ${resynced.disk} resynchronised without a reset (${resynced.resetReason ?? "no reason"})`,
      );
    }
  }

  /** A resumed job references what the interrupted one made durable instead of storing it again. */
  async #checkResume(reader: Repository, before: BeforeSync): Promise<void> {
    if (before.resumeIds.size === 0) return;
    for (const key of await this.#packs()) {
      if (before.packs.has(key)) continue;
      for (const entry of await reader.readPackIndex(key)) {
        if (before.resumeIds.has(idHex(entry.id))) {
          throw new Error(`resume: chunk ${idHex(entry.id)} was stored again after a resume`);
        }
      }
    }
  }

  /** Incremental reads changed ∩ allocated (plus chunks whose allocation changed); resync records only changed content. */
  async #checkEfficiency(reader: Repository, point: RestorePoint, before: BeforeSync): Promise<void> {
    const host = this.#world.host;
    const base = (await reader.listPoints(host.name)).find((p) => p.seq === point.seq - 1);
    if (base === undefined) return;
    for (const disk of point.disks) {
      const baseDisk = base.disks.find((d) => d.disk === disk.disk);
      const baseAllocation = this.#baseAllocation?.get(disk.disk);
      const allocation = before.allocation.get(disk.disk);
      if (baseDisk === undefined || baseDisk.capacity !== disk.capacity || !baseAllocation || !allocation)
        continue;
      if (disk.mode === "incremental") {
        const now = chunkAllocation(allocation, disk.capacity);
        const was = chunkAllocation(baseAllocation, disk.capacity);
        const written = chunksTouched(before.written.get(disk.disk) as BlockMap);
        const expected = [...now.any].filter(
          (c) => written.has(c) || now.partial.has(c) || was.partial.has(c) || !was.any.has(c),
        );
        const read = new Set<number>();
        for (const r of host.readLog) {
          if (r.snapshotId !== point.snapshotId || r.disk !== disk.disk) continue;
          for (let c = Math.floor(r.offset / CHUNK); c * CHUNK < r.offset + r.length; c++) read.add(c);
        }
        const extra = [...read].filter((c) => !expected.includes(c));
        const missing = expected.filter((c) => !read.has(c));
        if (extra.length > 0 || missing.length > 0) {
          throw new Error(
            `efficiency: incremental of ${disk.disk} read chunks [${extra.join(",")}] it need not, missed [${missing.join(",")}]`,
          );
        }
      }
      if (disk.mode === "resync") {
        const manifest = await reader.readDiskManifest(disk.manifest);
        if (manifest.kind !== "delta") continue;
        const a = host.oracle.expected(base.snapshotId, disk.disk);
        const b = host.oracle.expected(point.snapshotId, disk.disk);
        for (let c = 0; c * CHUNK < disk.capacity; c++) {
          const len = Math.min(CHUNK, disk.capacity - c * CHUNK);
          const changed = !Buffer.from(a.read(c * CHUNK, len)).equals(b.read(c * CHUNK, len));
          if (changed !== manifest.entries.has(c)) {
            throw new Error(
              `efficiency: resync of ${disk.disk} ${changed ? "missed" : "recorded unchanged"} chunk ${c}`,
            );
          }
        }
      }
    }
  }

  async #packs(): Promise<Set<string>> {
    const keys = new Set<string>();
    for await (const { key } of this.#world.store.list(PACKS_PREFIX)) keys.add(key);
    return keys;
  }

  async #resumeIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    const reader = await this.#world.reader();
    const latest = await reader.latestPoint(this.#world.host.name);
    const saved = await this.#world.state.read<{ baseSeq: number | null; refs: Array<[string]> }>(
      `resume-${reader.config.repoId}-${this.#world.host.name}`,
    );
    if (saved !== undefined && saved.baseSeq === (latest?.seq ?? null))
      for (const [id] of saved.refs) ids.add(id);
    return ids;
  }
}

/** How often each fault kind struck over a fuzzing session. */
export class FaultCoverage {
  readonly counts = new Map<string, number>();

  count(kind: string, n = 1): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + n);
  }

  format(): string {
    return [...this.counts.entries()]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([k, n]) => `${k} ×${n}`)
      .join(", ");
  }
}

function chunkAllocation(clusters: BlockMap, capacity: number): { any: Set<number>; partial: Set<number> } {
  const perChunk = CHUNK / clusters.grain;
  const any = new Set<number>();
  const partial = new Set<number>();
  for (let chunk = 0; chunk * CHUNK < capacity; chunk++) {
    let n = 0;
    for (let c = chunk * perChunk; c < (chunk + 1) * perChunk; c++)
      if (c < clusters.blocks && clusters.has(c)) n++;
    if (n > 0) any.add(chunk);
    if (n > 0 && n < perChunk) partial.add(chunk);
  }
  return { any, partial };
}

function chunksTouched(map: BlockMap): Set<number> {
  const out = new Set<number>();
  for (const e of map.extents()) {
    for (let c = Math.floor(e.offset / CHUNK); c * CHUNK < e.offset + e.length; c++) out.add(c);
  }
  return out;
}
