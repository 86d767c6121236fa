/**
 * A simulated host protected over a series of sync triggers, with seeded faults, every committed
 * point restored and compared with the simulator's own copy of its snapshot (the oracle) — never
 * with anything the engine computed.
 */

import { MemoryTarget } from "../../adapters/memory-target/memory-target.ts";
import { Prng } from "../../adapters/sim/prng.ts";
import { SimHost } from "../../adapters/sim/sim-host.ts";
import { MemoryStateStore } from "../../adapters/state-memory/memory-state-store.ts";
import { isLifeboatError } from "../../domain/errors.ts";
import type { RestorePoint, SyncMode } from "../../domain/restore-point.ts";
import type { Repository } from "../../engine/repository/repository.ts";
import { restoreDisk } from "../../engine/restore.ts";
import { SyncRunner } from "../../engine/sync-runner.ts";
import { verifyRepository } from "../../engine/verify.ts";
import type { Log } from "../../ports/log.ts";
import { PressuredSource } from "./pressured-source.ts";

export const FAULT_KINDS = ["snapshot-abort", "tracker-loss", "disk-resize"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface SimulationOptions {
  readonly seed: number;
  readonly disks: number;
  readonly diskSize: number;
  readonly syncs: number;
  /** Bytes per virtual second written to each disk between and during syncs. */
  readonly writeRate: number;
  /** Virtual time between sync triggers. */
  readonly intervalMs: number;
  readonly faults: ReadonlySet<FaultKind>;
  readonly repo: Repository;
  readonly log: Log;
  readonly onAttempt?: (row: AttemptRow) => void;
}

export interface AttemptRow {
  readonly trigger: number;
  readonly outcome: string;
  readonly mode: SyncMode | "-";
  readonly pointId?: string;
  readonly seq?: number;
  readonly bytesRead: number;
  readonly bytesStored: number;
  readonly virtualMs: number;
  readonly faults: readonly FaultKind[];
  readonly error?: string;
  verified?: boolean;
}

export interface SimulationReport {
  readonly seed: number;
  readonly attempts: readonly AttemptRow[];
  readonly points: ReadonlyArray<{
    id: string;
    seq: number;
    mode: SyncMode;
    bytesRead: number;
    bytesStored: number;
    verified: boolean;
  }>;
  readonly faults: Record<FaultKind, number>;
  readonly repositoryProblems: number;
  readonly ok: boolean;
}

export async function runSimulation(options: SimulationOptions): Promise<SimulationReport> {
  const { repo, log } = options;
  const host = new SimHost({
    seed: options.seed,
    disks: options.disks,
    diskSize: options.diskSize,
    writeRate: options.writeRate,
  });
  const source = new PressuredSource(host);
  const runner = new SyncRunner({ repo, source, clock: host.clock, log, state: new MemoryStateStore() });
  const schedule = faultSchedule(
    new Prng(options.seed).fork("fault-schedule"),
    options.syncs,
    options.faults,
  );
  const faults: Record<FaultKind, number> = { "snapshot-abort": 0, "tracker-loss": 0, "disk-resize": 0 };
  const attempts: AttemptRow[] = [];
  const committed: RestorePoint[] = [];

  try {
    for (let trigger = 1; trigger <= options.syncs; trigger++) {
      host.runWorkload(options.intervalMs);
      const planned = schedule.get(trigger) ?? [];
      for (const fault of planned) {
        if (fault === "tracker-loss") host.uncleanReboot();
        if (fault === "disk-resize") {
          const disk = (await host.describe()).at(-1);
          if (disk !== undefined) host.resizeDisk(disk.id, disk.capacity + 4 * 1024 * 1024);
        }
        if (fault === "snapshot-abort") source.burstDuringNextTransfer(2 * 8 * 1024 * 1024);
        faults[fault]++;
      }
      const started = host.clock.now();
      const attempt = await runner.tick();
      const row: AttemptRow = {
        trigger,
        outcome: attempt.outcome,
        mode: attempt.mode ?? "-",
        bytesRead: attempt.result?.bytesRead ?? attempt.bytesRead,
        bytesStored: attempt.result?.bytesStored ?? 0,
        virtualMs: host.clock.now() - started,
        faults: planned,
        ...(attempt.result === undefined
          ? {}
          : { pointId: attempt.result.point.id, seq: attempt.result.point.seq }),
        ...(attempt.error === undefined ? {} : { error: describeError(attempt.error) }),
      };
      if (attempt.result !== undefined) {
        const point = await repo.readPoint(attempt.result.point.source, attempt.result.point.seq);
        committed.push(point);
        row.verified = await pointMatchesOracle(repo, host, point, log);
      }
      attempts.push(row);
      options.onAttempt?.(row);
    }
  } finally {
    runner.stop();
  }

  // Every committed point again, after every later job has run: later jobs must not disturb them.
  const points = [];
  for (const point of committed) {
    const row = attempts.find((a) => a.seq === point.seq);
    const verified = (row?.verified ?? false) && (await pointMatchesOracle(repo, host, point, log));
    points.push({
      id: `${point.source}@${point.seq}`,
      seq: point.seq,
      mode: row?.mode === "-" || row === undefined ? "full" : row.mode,
      bytesRead: row?.bytesRead ?? 0,
      bytesStored: row?.bytesStored ?? 0,
      verified,
    });
  }
  const report = await verifyRepository(repo, { full: true });
  for (const p of report.problems) log.error({ object: p.object, code: p.code }, p.message);
  return {
    seed: options.seed,
    attempts,
    points,
    faults,
    repositoryProblems: report.problems.length,
    ok: points.length > 0 && points.every((p) => p.verified) && report.problems.length === 0,
  };
}

/**
 * Which faults strike at which trigger. An abort is followed by a fault-free trigger, so the run
 * shows the retry of the very same increment; a tracker loss and a resize each force a resync.
 */
export function faultSchedule(
  prng: Prng,
  syncs: number,
  kinds: ReadonlySet<FaultKind>,
): Map<number, FaultKind[]> {
  const schedule = new Map<number, FaultKind[]>();
  const free = (t: number) => t >= 2 && t <= syncs && !schedule.has(t);
  const place = (kind: FaultKind, needsQuietNext: boolean) => {
    const candidates: number[] = [];
    for (let t = 2; t <= syncs; t++) {
      if (
        free(t) &&
        (!needsQuietNext || (t < syncs && free(t + 1))) &&
        !schedule.get(t - 1)?.includes("snapshot-abort")
      ) {
        candidates.push(t);
      }
    }
    if (candidates.length === 0) return;
    const t = prng.pick(candidates);
    schedule.set(t, [kind]);
    if (needsQuietNext) schedule.set(t + 1, []);
  };
  if (kinds.has("snapshot-abort")) place("snapshot-abort", true);
  if (kinds.has("tracker-loss")) place("tracker-loss", false);
  if (kinds.has("disk-resize")) place("disk-resize", false);
  for (const [t, list] of schedule) if (list.length === 0) schedule.delete(t);
  return schedule;
}

/** Restores every disk of the point into memory and compares it with the oracle, byte for byte. */
async function pointMatchesOracle(
  repo: Repository,
  host: SimHost,
  point: RestorePoint,
  log: Log,
): Promise<boolean> {
  for (const disk of point.disks) {
    const expected = host.oracle.expected(point.snapshotId, disk.disk);
    if (expected.capacity !== disk.capacity) {
      log.error({ point: point.seq, disk: disk.disk }, "capacity differs from the snapshot");
      return false;
    }
    const target = new MemoryTarget(disk.capacity);
    await restoreDisk(repo, point, disk.disk, target, { targetIsZeroed: true });
    const slice = 1 << 20;
    for (let offset = 0; offset < disk.capacity; offset += slice) {
      const length = Math.min(slice, disk.capacity - offset);
      const got = Buffer.from(await target.read(offset, length));
      if (!got.equals(expected.read(offset, length))) {
        log.error({ point: point.seq, disk: disk.disk, offset }, "restored bytes differ from the snapshot");
        return false;
      }
    }
  }
  return true;
}

function describeError(e: unknown): string {
  return isLifeboatError(e) ? `${e.code}: ${e.message}` : String(e);
}
