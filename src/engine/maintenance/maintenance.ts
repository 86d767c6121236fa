/**
 * Prune and garbage collection, as one maintenance run under the lease:
 *
 * 1. prune: per source, the points retention does not keep (and no running job has pinned as its
 *    base) are deleted — after every retained point whose delta chain ran through one of them got
 *    an index checkpoint, so no retained point ever depends on a deleted one;
 * 2. mark: every object a retained point needs (its manifests down its chain, index checkpoints,
 *    packs) plus the packs live jobs pinned;
 * 3. sweep: an unmarked object is deleted only after it has been seen unmarked for the grace
 *    period, and only if it was first seen before the oldest live job started (a running job's new
 *    packs are unreferenced until it commits).
 *
 * Each prefix is listed once per run. Candidates and when they were first seen are kept in
 * `gc/candidates`, so the grace period spans runs.
 */

import { LifeboatError } from "../../domain/errors.ts";
import type { DiskManifest } from "../../domain/manifest.ts";
import { pointId, type RestorePoint } from "../../domain/restore-point.ts";
import type { Clock } from "../../ports/clock.ts";
import type { Log } from "../../ports/log.ts";
import {
  DISKS_PREFIX,
  GC_PREFIX,
  INDEX_PREFIX,
  indexKey,
  PACKS_PREFIX,
  packKey,
  pointKey,
} from "../repository/object-keys.ts";
import type { Repository } from "../repository/repository.ts";
import { livePins, MaintenanceRun } from "./coordination.ts";
import { DEFAULT_SAFETY, type MaintenanceSafety } from "./safety.ts";

const CANDIDATES_KEY = `${GC_PREFIX}candidates`;

export interface MaintenanceOptions {
  readonly clock: Clock;
  readonly log: Log;
  /** Which points of a source to keep; undefined = prune nothing, only collect garbage. */
  readonly retain?: (source: string, points: readonly RestorePoint[]) => ReadonlySet<number>;
  readonly dryRun?: boolean;
  readonly safety?: MaintenanceSafety;
  readonly owner?: string;
}

export interface MaintenanceReport {
  readonly pointsDeleted: readonly string[];
  readonly pointsKept: number;
  readonly indexCheckpointsWritten: number;
  readonly objectsDeleted: readonly string[];
  readonly bytesFreed: number;
  /** Unreferenced objects waiting out the grace period. */
  readonly candidates: number;
}

export async function runMaintenance(
  repo: Repository,
  options: MaintenanceOptions,
): Promise<MaintenanceReport> {
  const store = repo.store;
  const { clock, log } = options;
  const safety = options.safety ?? DEFAULT_SAFETY;
  const dryRun = options.dryRun === true;
  const run = await MaintenanceRun.begin(store, clock, safety, options.owner ?? "lifeboat prune");
  try {
    // Pins are listed after the run marker exists: a job that pins later sees the marker and waits.
    const pinnedBases = new Set(
      (await livePins(store, clock.now(), safety))
        .filter((p) => p.baseSeq !== null)
        .map((p) => pointKey(p.source, p.baseSeq as number)),
    );
    const all = await repo.listPoints();
    const doomed: RestorePoint[] = [];
    let indexCheckpointsWritten = 0;
    if (options.retain !== undefined) {
      for (const [source, points] of groupBySource(all)) {
        const keep = options.retain(source, points);
        // A source always keeps its newest point: it is the base of the source's next sync.
        const newest = Math.max(...points.map((p) => p.seq));
        const gone = points.filter(
          (p) => p.seq !== newest && !keep.has(p.seq) && !pinnedBases.has(pointKey(p.source, p.seq)),
        );
        if (gone.length === 0) continue;
        const goneSeqs = new Set(gone.map((p) => p.seq));
        for (const point of points) {
          if (goneSeqs.has(point.seq)) continue;
          for (const disk of point.disks) {
            if (await chainCrosses(repo, point, disk.disk, goneSeqs)) {
              if (!dryRun) await repo.writeIndexCheckpoint(await checkpointOf(repo, point, disk.disk));
              indexCheckpointsWritten++;
            }
          }
        }
        doomed.push(...gone);
      }
      // Point records go first: from here on nothing lists them, and their objects become garbage.
      if (!dryRun) for (const p of doomed) await store.delete(pointKey(p.source, p.seq));
    }
    const retained = all.filter((p) => !doomed.includes(p));

    // Mark. Pins are listed again now, after marking's reads, to catch jobs that started meanwhile.
    const marked = new Set<string>();
    for (const point of retained) {
      marked.add(pointKey(point.source, point.seq));
      for (const disk of point.disks) {
        for (const link of await chain(repo, point, disk.disk)) marked.add(link.key);
        for (const [, ref] of (await repo.resolveDiskMap(point, disk.disk)).entries())
          marked.add(packKey(ref.pack));
      }
    }
    const pins = await livePins(store, clock.now(), safety);
    for (const pin of pins) for (const pack of pin.reusedPacks) marked.add(packKey(pack));
    const oldestJob = Math.min(...pins.map((p) => p.startedAt));

    // Sweep, with the grace period carried across runs.
    const now = clock.now();
    const previous = await readCandidates(repo);
    const candidates: Record<string, number> = {};
    const objectsDeleted: string[] = [];
    let bytesFreed = 0;
    for (const prefix of [PACKS_PREFIX, DISKS_PREFIX, INDEX_PREFIX]) {
      for await (const { key, size } of store.list(prefix)) {
        if (marked.has(key)) continue;
        const firstSeen = previous[key] ?? now;
        const graceOver = now - firstSeen >= safety.graceMs + safety.clockSkewMs;
        const beforeEveryJob = firstSeen < oldestJob - safety.clockSkewMs;
        if (graceOver && beforeEveryJob) {
          if (!dryRun) await store.delete(key);
          objectsDeleted.push(key);
          bytesFreed += size;
        } else {
          candidates[key] = firstSeen;
        }
      }
    }
    // Point records of doomed points are gone; any other unlisted point key is not ours to judge.
    if (!dryRun) await store.put(CANDIDATES_KEY, Buffer.from(JSON.stringify(candidates), "utf8"));
    const report: MaintenanceReport = {
      pointsDeleted: doomed.map((p) => pointId(p.source, p.seq)),
      pointsKept: retained.length,
      indexCheckpointsWritten,
      objectsDeleted,
      bytesFreed,
      candidates: Object.keys(candidates).length,
    };
    log.info(
      { ...report, objectsDeleted: objectsDeleted.length, pointsDeleted: doomed.length },
      "maintenance done",
    );
    return report;
  } finally {
    await run.end();
  }
}

function groupBySource(points: readonly RestorePoint[]): Map<string, RestorePoint[]> {
  const out = new Map<string, RestorePoint[]>();
  for (const p of points) out.set(p.source, [...(out.get(p.source) ?? []), p]);
  return out;
}

/** Whether the point's chain for this disk passes through a point about to be deleted. */
async function chainCrosses(
  repo: Repository,
  point: RestorePoint,
  disk: string,
  gone: ReadonlySet<number>,
): Promise<boolean> {
  return (await chain(repo, point, disk)).some((link) => link.seq !== point.seq && gone.has(link.seq));
}

/**
 * The objects a restore of this disk reads, newest first: manifests down to a checkpoint or an
 * index checkpoint. The point's own manifest is always included — the next sync reads its header
 * (allocation) even when an index checkpoint short-cuts the restore.
 */
async function chain(
  repo: Repository,
  point: RestorePoint,
  disk: string,
): Promise<Array<{ seq: number; key: string }>> {
  const links: Array<{ seq: number; key: string }> = [];
  const own = point.disks.find((d) => d.disk === disk);
  if (own !== undefined) links.push({ seq: point.seq, key: own.manifest });
  for (let seq: number | null = point.seq; seq !== null;) {
    if ((await repo.readIndexCheckpoint(point.source, disk, seq)) !== undefined) {
      links.push({ seq, key: indexKey(point.source, disk, seq) });
      return links;
    }
    const at: RestorePoint = seq === point.seq ? point : await repo.readPoint(point.source, seq);
    const pointDisk = at.disks.find((d) => d.disk === disk);
    if (pointDisk === undefined)
      throw new LifeboatError("OBJECT_CORRUPT", `${pointKey(at.source, seq)} has no disk ${disk}`);
    if (seq !== point.seq) links.push({ seq, key: pointDisk.manifest });
    const manifest = await repo.readDiskManifest(pointDisk.manifest);
    seq = manifest.kind === "checkpoint" ? null : manifest.baseSeq;
  }
  return links;
}

async function checkpointOf(repo: Repository, point: RestorePoint, disk: string): Promise<DiskManifest> {
  const pointDisk = point.disks.find((d) => d.disk === disk) as RestorePoint["disks"][number];
  const own = await repo.readDiskManifest(pointDisk.manifest);
  const map = await repo.resolveDiskMap(point, disk);
  return {
    ...own,
    kind: "checkpoint",
    baseSeq: null,
    deltasSinceCheckpoint: 0,
    entries: new Map(map.entries()),
  };
}

async function readCandidates(repo: Repository): Promise<Record<string, number>> {
  if ((await repo.store.head(CANDIDATES_KEY)) === undefined) return {};
  try {
    const parsed = JSON.parse(Buffer.from(await repo.store.get(CANDIDATES_KEY)).toString("utf8")) as unknown;
    if (typeof parsed === "object" && parsed !== null) return parsed as Record<string, number>;
  } catch {
    // A damaged candidates list only delays collection: everything starts its grace period again.
  }
  return {};
}
