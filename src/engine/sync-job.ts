/**
 * One sync of one source: snapshot → plan → transfer → commit → release. The phases are separate
 * methods so the per-source state machine (domain/sync-machine.ts) can drive them as injected
 * actors; `runSyncJob` runs them in order for one-shot commands.
 *
 * The promise is kept by ordering: chunks (packs) are durable before any manifest names them,
 * manifests before the point record, and the point record is create-only and written last. Nothing
 * before the point record changes what restores; a failure anywhere leaves the last committed point
 * as the base, so the next attempt covers every change since it.
 */

import { randomUUID } from "node:crypto";
import { BlockMap } from "../domain/block-map.ts";
import type { Disk } from "../domain/disk.ts";
import { LifeboatError } from "../domain/errors.ts";
import type { ChunkMap, ChunkRef, DiskManifest } from "../domain/manifest.ts";
import { type DiskBase, type DiskPlan, planDisk } from "../domain/planner.ts";
import { type PointDisk, pointId, type RestorePoint, type SyncMode } from "../domain/restore-point.ts";
import type { ChangeReset, ChangeToken } from "../domain/snapshot.ts";
import type { Clock } from "../ports/clock.ts";
import { type FaultPoints, noFaults } from "../ports/fault-points.ts";
import type { Log } from "../ports/log.ts";
import type { Source, SourceSnapshot } from "../ports/source.ts";
import type { StateStore } from "../ports/state-store.ts";
import { ChunkCache } from "./chunk-cache.ts";
import { isAllZero, readChunks } from "./chunk-reader.ts";
import { packKey } from "./repository/object-keys.ts";
import { copyKey, quarantinedCopies } from "./repository/quarantine.ts";
import type { PackWriter, Repository } from "./repository/repository.ts";
import { ResumeLog } from "./resume-log.ts";
import { deletePin, runsInProgress, writePin } from "./maintenance/coordination.ts";
import { DEFAULT_SAFETY } from "./maintenance/safety.ts";

export interface SyncJobDeps {
  readonly repo: Repository;
  readonly source: Source;
  readonly clock: Clock;
  readonly log: Log;
  /** Local durable state for resuming an interrupted job; without it a retry re-stores what it reads. */
  readonly state?: StateStore;
  /** Fault injection for the simulator and the fuzzer; production leaves it out. */
  readonly faults?: FaultPoints;
}

/** Changes reported by a tracker outside Lifeboat (`--changed-extents`), relative to `baseSeq`. */
export interface ExternalChanges {
  readonly baseSeq: number;
  readonly byDisk: ReadonlyMap<string, BlockMap>;
}

export interface SyncJobOptions {
  readonly jobId?: string;
  /** Disks to sync (default: every disk the source has). */
  readonly disks?: readonly string[];
  readonly externalChanges?: ExternalChanges;
  readonly readsInFlight?: number;
  /** Flush packs and record resume progress after this many stored bytes. */
  readonly resumeEveryBytes?: number;
  readonly onProgress?: (progress: SyncProgress) => void;
}

export interface SyncProgress {
  readonly disk: string;
  readonly chunksDone: number;
  readonly chunksTotal: number;
  readonly bytesRead: number;
  readonly bytesStored: number;
}

export type DiskResult = PointDisk;

export interface SyncResult {
  readonly point: { id: string; source: string; seq: number; takenAt: number; consistency: string };
  readonly mode: SyncMode;
  readonly bytesRead: number;
  readonly bytesStored: number;
  readonly disks: readonly DiskResult[];
  readonly warnings: readonly string[];
  readonly durationMs: number;
}

interface DiskWork {
  readonly disk: Disk;
  readonly plan: DiskPlan;
  readonly base: DiskBase | undefined;
  readonly baseMap: ChunkMap | undefined;
  readonly allocation: BlockMap | null;
  readonly token: ChangeToken | null;
  /** Positions whose content differs from the base: a new ref, or null for zeros. */
  readonly delta: Map<number, ChunkRef | null>;
  readonly stats: { bytesRead: number; bytesStored: number; chunksRead: number; chunksStored: number };
}

export class SyncJob {
  readonly jobId: string;
  readonly #deps: SyncJobDeps;
  readonly #options: SyncJobOptions;
  readonly #startedAt: number;
  readonly #faults: FaultPoints;
  #snapshot: SourceSnapshot | undefined;
  #basePoint: RestorePoint | undefined;
  #work: DiskWork[] = [];
  #warnings: string[] = [];
  #result: SyncResult | undefined;
  #resume: ResumeLog | undefined;
  /** Chunks an interrupted attempt made durable, which this job references instead of storing again. */
  #reusedAtStart: ReadonlyMap<string, ChunkRef> = new Map();
  /** Stored chunk copies verify found damaged: never inherited or reused, always stored again. */
  #quarantined: ReadonlySet<string> = new Set();
  #pinnedAt: number | undefined;

  constructor(deps: SyncJobDeps, options: SyncJobOptions = {}) {
    this.#deps = deps;
    this.#options = options;
    this.jobId = options.jobId ?? randomUUID();
    this.#startedAt = deps.clock.now();
    this.#faults = deps.faults ?? noFaults;
  }

  get snapshotId(): string | undefined {
    return this.#snapshot?.id;
  }

  /** Takes the snapshot of the disks to sync and finds the base point. */
  async snapshot(): Promise<string> {
    const { source, repo } = this.#deps;
    const available = await source.describe();
    const wanted = this.#options.disks ?? available.map((d) => d.id);
    for (const id of wanted) {
      if (!available.some((d) => d.id === id)) {
        throw new LifeboatError("DISK_NOT_FOUND", `source ${source.name} has no disk ${id}`);
      }
    }
    this.#basePoint = await repo.latestPoint(source.name);
    const external = this.#options.externalChanges;
    if (external !== undefined && external.baseSeq !== this.#basePoint?.seq) {
      const latest = this.#basePoint === undefined ? "none" : pointId(source.name, this.#basePoint.seq);
      throw new LifeboatError(
        "BASE_NOT_LATEST",
        `changed extents are relative to ${pointId(source.name, external.baseSeq)}, but the last committed point is ${latest}`,
      );
    }
    this.#resume = await ResumeLog.open(this.#deps.state, this.#resumeScope(), this.#basePoint?.seq ?? null);
    this.#reusedAtStart = this.#resume.refs();
    await this.#pin();
    this.#snapshot = await source.openSnapshot(wanted);
    this.#warnings.push(...this.#snapshot.warnings);
    this.#faults.hit("snapshot.opened");
    return this.#snapshot.id;
  }

  /** Chooses full / incremental / resync per disk. `forceResync` comes from a CBT reset seen by the state machine. */
  async plan(forceResync?: string): Promise<SyncMode> {
    const snapshot = this.#requireSnapshot();
    const { repo } = this.#deps;
    this.#work = [];
    this.#quarantined = await quarantinedCopies(repo.store);
    for (const disk of snapshot.disks) {
      const baseDisk = this.#basePoint?.disks.find((d) => d.disk === disk.id);
      const baseManifest =
        baseDisk === undefined ? undefined : await repo.readDiskManifest(baseDisk.manifest);
      const base: DiskBase | undefined =
        baseDisk === undefined || baseManifest === undefined
          ? undefined
          : {
              seq: (this.#basePoint as RestorePoint).seq,
              token: baseDisk.token,
              capacity: baseManifest.capacity,
              chunkSize: baseManifest.chunkSize,
              allocated: baseManifest.allocated,
              partial: baseManifest.partial,
              deltasSinceCheckpoint: baseManifest.deltasSinceCheckpoint,
            };
      const allocation = await snapshot.allocation(disk.id);
      const token = snapshot.token(disk.id);
      const baseMap =
        this.#basePoint !== undefined && base !== undefined
          ? await repo.resolveDiskMap(this.#basePoint, disk.id)
          : undefined;
      const plan = planDisk({
        ...(baseMap === undefined ? {} : { mustReread: this.#damagedPositions(baseMap) }),
        capacity: disk.capacity,
        chunkSize: repo.config.chunkSize,
        allocation,
        base,
        changes: await this.#changes(snapshot, disk.id, base),
        ...(forceResync === undefined ? {} : { forceResync }),
        checkpointEvery: repo.config.checkpointEvery,
      });
      if (plan.mode === "resync" && !plan.expected) {
        this.#warnings.push(`disk ${disk.id}: resynchronising by content hash because ${plan.resetReason}`);
      }
      this.#work.push({
        disk,
        plan,
        base,
        baseMap,
        allocation,
        token,
        delta: new Map(),
        stats: { bytesRead: 0, bytesStored: 0, chunksRead: 0, chunksStored: 0 },
      });
      this.#deps.log.info(
        { disk: disk.id, mode: plan.mode, chunksToRead: plan.read.count(), reason: plan.resetReason },
        "planned",
      );
    }
    this.#faults.hit("plan.done");
    return overallMode(this.#work.map((w) => w.plan.mode));
  }

  /** Reads the planned chunks, stores those whose content is new, and records the delta. */
  async transfer(): Promise<{ bytesRead: number; bytesStored: number }> {
    const snapshot = this.#requireSnapshot();
    const { repo } = this.#deps;
    const resume = this.#resume as ResumeLog;
    const cache = new ChunkCache(16_384, resume.refs());
    const writer = repo.createPackWriter();
    const resumeEvery = this.#options.resumeEveryBytes ?? 64 << 20;
    let storedSinceFlush = 0;
    for (const work of this.#work) {
      const { disk, plan, baseMap, stats } = work;
      for (const index of plan.zero.indexes()) {
        if (baseMap?.get(index) !== undefined) work.delta.set(index, null);
      }
      const total = plan.read.count();
      const chunks = readChunks(snapshot, disk.id, plan.read, {
        chunkSize: repo.config.chunkSize,
        capacity: disk.capacity,
        allocation: work.allocation,
        partial: plan.partial,
        inFlight: this.#options.readsInFlight ?? 4,
      });
      for await (const { index, data } of chunks) {
        this.#faults.hit("chunk.read");
        stats.bytesRead += data.length;
        stats.chunksRead++;
        const baseRef = baseMap?.get(index);
        if (isAllZero(data)) {
          if (baseRef !== undefined) work.delta.set(index, null);
        } else {
          const id = repo.chunkId(data);
          const damaged = baseRef !== undefined && this.#quarantined.has(copyKey(baseRef));
          if (baseRef === undefined || damaged || !equalIds(baseRef.id, id)) {
            const cached = cache.get(id);
            const known =
              cached !== undefined && !this.#quarantined.has(copyKey(cached)) ? cached : undefined;
            if (known !== undefined) {
              work.delta.set(index, known);
            } else {
              const stored: ChunkRef = await writer.add(id, data);
              cache.add(stored);
              resume.add(stored);
              stats.chunksStored++;
              stats.bytesStored += stored.length;
              storedSinceFlush += stored.length;
              work.delta.set(index, stored);
            }
          }
        }
        if (storedSinceFlush >= resumeEvery) {
          await this.#flushAndRecord(writer, resume);
          storedSinceFlush = 0;
        }
        this.#options.onProgress?.({
          disk: disk.id,
          chunksDone: stats.chunksRead,
          chunksTotal: total,
          bytesRead: stats.bytesRead,
          bytesStored: stats.bytesStored,
        });
      }
      const abort = snapshot.abortReason();
      if (abort !== undefined)
        throw new LifeboatError("SNAPSHOT_ABORTED", `snapshot ${snapshot.id} was lost: ${abort}`);
    }
    await this.#flushAndRecord(writer, resume);
    return this.#totals();
  }

  /** Packs first, then the record of them: a resume log never names a pack that is not durable. */
  async #flushAndRecord(writer: PackWriter, resume: ResumeLog): Promise<void> {
    await writer.flush();
    this.#faults.hit("packs.flushed");
    await resume.save();
    this.#faults.hit("resume.saved");
    await this.#pin();
  }

  /**
   * Pins the base point and the packs reused from an interrupted attempt, so maintenance keeps
   * them; refreshed as a heartbeat while the job runs.
   */
  async #pin(): Promise<void> {
    const { repo, clock } = this.#deps;
    const now = clock.now();
    this.#pinnedAt ??= now;
    await writePin(repo.store, this.#pinRecord(now));
  }

  #pinRecord(now: number) {
    const packs = new Set<string>();
    for (const ref of this.#reusedAtStart.values()) packs.add(ref.pack);
    return {
      jobId: this.jobId,
      source: this.#deps.source.name,
      baseSeq: this.#basePoint?.seq ?? null,
      startedAt: this.#pinnedAt ?? now,
      heartbeatAt: now,
      reusedPacks: [...packs],
    };
  }

  /**
   * Before anything is committed, make sure no chunk this job references can have been collected:
   * refresh the pin (every maintenance run that starts from now on sees it live), refuse to commit
   * while a run that may have missed it is still going, then check that every pack the job
   * references beyond its base — new ones and ones reused from an interrupted attempt — exists.
   */
  async #checkChunksSurvived(): Promise<void> {
    const { repo, clock } = this.#deps;
    await this.#pin();
    const running = await runsInProgress(repo.store, clock.now(), DEFAULT_SAFETY);
    if (running.length > 0) {
      throw new LifeboatError(
        "MAINTENANCE_RUNNING",
        `maintenance run ${running[0]} is in progress; committing after it`,
      );
    }
    const packs = new Set<string>();
    for (const ref of this.#reusedAtStart.values()) packs.add(ref.pack);
    for (const work of this.#work)
      for (const ref of work.delta.values()) if (ref !== null) packs.add(ref.pack);
    for (const pack of packs) {
      if ((await repo.store.head(packKey(pack))) === undefined) {
        await this.#resume?.clear();
        throw new LifeboatError(
          "OBJECT_MISSING",
          `pack ${pack} was collected before this job committed; the retry stores its chunks again`,
        );
      }
    }
  }

  /** Writes the disk manifests, then the point record, last. */
  async commit(): Promise<{ pointId: string; seq: number }> {
    const snapshot = this.#requireSnapshot();
    const { repo, source, clock } = this.#deps;
    // A snapshot lost before the commit may have served reads from a torn diff area.
    const abort = snapshot.abortReason();
    if (abort !== undefined)
      throw new LifeboatError("SNAPSHOT_ABORTED", `snapshot ${snapshot.id} was lost: ${abort}`);
    await this.#checkChunksSurvived();
    const seq = (this.#basePoint?.seq ?? 0) + 1;
    const disks: PointDisk[] = [];
    for (const work of this.#work) {
      this.#faults.hit("manifest.write");
      const manifestKey = await repo.writeDiskManifest(this.#manifest(work, seq), this.jobId);
      this.#faults.hit("manifest.written");
      disks.push({
        disk: work.disk.id,
        capacity: work.disk.capacity,
        manifest: manifestKey,
        token: work.token,
        mode: work.plan.mode,
        ...(work.plan.resetReason === undefined ? {} : { resetReason: work.plan.resetReason }),
        ...work.stats,
      });
    }
    const point: RestorePoint = {
      formatVersion: 1,
      source: source.name,
      seq,
      jobId: this.jobId,
      snapshotId: snapshot.id,
      takenAt: snapshot.takenAt,
      committedAt: clock.now(),
      consistency: snapshot.consistency,
      disks,
      warnings: this.#warnings,
    };
    this.#faults.hit("point.write");
    const outcome = await repo.writePoint(point);
    this.#faults.hit("point.written");
    if (outcome === "already-committed")
      this.#deps.log.warn({ seq }, "point was already committed by this job");
    await (await ResumeLog.open(this.#deps.state, this.#resumeScope(), this.#basePoint?.seq ?? null)).clear();
    const tokens = new Map<string, ChangeToken>();
    for (const w of this.#work) if (w.token !== null) tokens.set(w.disk.id, w.token);
    await source.committed?.(tokens);
    this.#faults.hit("committed");
    const totals = this.#totals();
    this.#result = {
      point: {
        id: pointId(source.name, seq),
        source: source.name,
        seq,
        takenAt: snapshot.takenAt,
        consistency: snapshot.consistency,
      },
      mode: overallMode(disks.map((d) => d.mode)),
      ...totals,
      disks,
      warnings: this.#warnings,
      durationMs: clock.now() - this.#startedAt,
    };
    return { pointId: this.#result.point.id, seq };
  }

  /** Positions of the base whose stored copy is quarantined, so the planner reads them again. */
  #damagedPositions(baseMap: ChunkMap): BlockMap | undefined {
    if (this.#quarantined.size === 0) return undefined;
    const damaged = new BlockMap(baseMap.chunkSize, baseMap.chunks);
    for (const [index, ref] of baseMap.entries()) if (this.#quarantined.has(copyKey(ref))) damaged.add(index);
    if (!damaged.isEmpty())
      this.#warnings.push(`re-reading ${damaged.count()} chunks whose stored copy was found damaged`);
    return damaged;
  }

  /** Releases the snapshot; called on every exit path. */
  async release(): Promise<void> {
    this.#faults.hit("release");
    try {
      await this.#snapshot?.release();
    } finally {
      // Best effort: a pin left behind expires with its heartbeat.
      if (this.#pinnedAt !== undefined) {
        await deletePin(this.#deps.repo.store, this.#deps.source.name, this.jobId).catch((e: unknown) =>
          this.#deps.log.warn({ err: String(e) }, "could not remove the job's pin; it expires by itself"),
        );
      }
    }
  }

  /** Bytes read so far, whether or not the job commits. */
  bytesRead(): number {
    return this.#totals().bytesRead;
  }

  result(): SyncResult {
    if (this.#result === undefined) throw new LifeboatError("INTERNAL", "sync job has not committed");
    return this.#result;
  }

  #manifest(work: DiskWork, seq: number): DiskManifest {
    const { plan, base, baseMap, disk } = work;
    const common = {
      source: this.#deps.source.name,
      disk: disk.id,
      seq,
      capacity: disk.capacity,
      chunkSize: this.#deps.repo.config.chunkSize,
      allocated: plan.allocated,
      partial: plan.partial,
    };
    if (plan.manifestKind === "delta" && base !== undefined) {
      return {
        ...common,
        kind: "delta",
        baseSeq: base.seq,
        deltasSinceCheckpoint: base.deltasSinceCheckpoint + 1,
        entries: sortedEntries(work.delta),
      };
    }
    // Carry the base's chunks that are still allocated (and still inside the disk, which may have
    // been resized); whatever is unallocated now must read as zeros.
    const full = new Map<number, ChunkRef | null>();
    if (baseMap !== undefined) {
      for (const [index, ref] of baseMap.entries()) {
        if (index < plan.allocated.blocks && plan.allocated.has(index)) full.set(index, ref);
      }
    }
    for (const [index, ref] of work.delta) {
      if (ref === null) full.delete(index);
      else full.set(index, ref);
    }
    return {
      ...common,
      kind: "checkpoint",
      baseSeq: null,
      deltasSinceCheckpoint: 0,
      entries: sortedEntries(full),
    };
  }

  async #changes(
    snapshot: SourceSnapshot,
    disk: string,
    base: DiskBase | undefined,
  ): Promise<BlockMap | ChangeReset | undefined> {
    if (base === undefined) return undefined;
    const external = this.#options.externalChanges;
    if (external !== undefined) {
      return (
        external.byDisk.get(disk) ?? {
          kind: "reset",
          reason: `no changed extents were given for disk ${disk}`,
        }
      );
    }
    if (base.token === null || snapshot.token(disk) === null) return undefined;
    return snapshot.changes(disk, base.token);
  }

  #resumeScope(): { repoId: string; source: string } {
    return { repoId: this.#deps.repo.config.repoId, source: this.#deps.source.name };
  }

  #totals(): { bytesRead: number; bytesStored: number } {
    let bytesRead = 0;
    let bytesStored = 0;
    for (const w of this.#work) {
      bytesRead += w.stats.bytesRead;
      bytesStored += w.stats.bytesStored;
    }
    return { bytesRead, bytesStored };
  }

  #requireSnapshot(): SourceSnapshot {
    if (this.#snapshot === undefined) throw new LifeboatError("INTERNAL", "sync job has no snapshot yet");
    return this.#snapshot;
  }
}

function overallMode(modes: readonly SyncMode[]): SyncMode {
  if (modes.includes("full")) return "full";
  if (modes.includes("resync")) return "resync";
  return "incremental";
}

function sortedEntries(map: ReadonlyMap<number, ChunkRef | null>): Map<number, ChunkRef | null> {
  return new Map([...map.entries()].sort((a, b) => a[0] - b[0]));
}

function equalIds(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}
