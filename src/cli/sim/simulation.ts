/**
 * `lifeboat sim`: a simulated host protected over a series of sync triggers with a seeded fault
 * schedule, every committed point restored and compared with the simulator's own copy of its
 * snapshot (the oracle) — never with anything the engine computed.
 */

import { Prng } from "../../adapters/sim/prng.ts";
import { STEP_FAULT_KINDS, type StepFaultKind } from "../../adapters/sim/fault-injector.ts";
import { isLifeboatError } from "../../domain/errors.ts";
import type { RestorePoint, SyncMode } from "../../domain/restore-point.ts";
import { verifyRepository } from "../../engine/verify.ts";
import type { Log } from "../../ports/log.ts";
import type { ObjectStore } from "../../ports/object-store.ts";
import { pointMatchesOracle } from "./oracle-check.ts";
import { World } from "./world.ts";
import { applyWorldEvent, WORLD_EVENT_KINDS, type WorldEventKind } from "./world-events.ts";

export const FAULT_KINDS = [...WORLD_EVENT_KINDS, ...STEP_FAULT_KINDS] as const;
export type FaultKind = WorldEventKind | StepFaultKind;

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
  readonly log: Log;
  /** The durable store to protect into (default: in memory) and how to open it if it already holds a repository. */
  readonly store?: ObjectStore;
  readonly existing?: { readonly password?: string };
  /** The store's temp-file directory, for torn-temp faults on a local store. */
  readonly tempDir?: string;
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
  const { log } = options;
  const world = await World.create({
    seed: options.seed,
    disks: options.disks,
    diskSize: options.diskSize,
    writeRate: options.writeRate,
    log,
    ...(options.store === undefined ? {} : { store: options.store }),
    ...(options.existing === undefined ? {} : { existing: options.existing }),
    ...(options.tempDir === undefined ? {} : { tempDir: options.tempDir }),
  });
  const prng = new Prng(options.seed).fork("fault-schedule");
  const schedule = faultSchedule(prng, options.syncs, options.faults);
  const events = Object.fromEntries(WORLD_EVENT_KINDS.map((k) => [k, 0])) as Record<WorldEventKind, number>;
  const attempts: AttemptRow[] = [];
  const committed: RestorePoint[] = [];

  try {
    for (let trigger = 1; trigger <= options.syncs; trigger++) {
      world.host.runWorkload(options.intervalMs);
      const planned = schedule.get(trigger) ?? [];
      for (const fault of planned) {
        if (isWorldEvent(fault)) {
          await applyWorldEvent(world, fault, prng);
          events[fault]++;
        } else {
          world.faults.arm({ atStep: world.faults.step + 1 + prng.int(0, 24), kind: fault });
        }
      }
      const injectedBefore = new Map(world.faults.injected);
      const started = world.host.clock.now();
      const attempt = await world.trigger();
      const fired = STEP_FAULT_KINDS.filter(
        (k) => (world.faults.injected.get(k) ?? 0) > (injectedBefore.get(k) ?? 0),
      );
      const row: AttemptRow = {
        trigger,
        outcome: attempt.crashed ? "crashed" : describeOutcome(attempt.outcome, attempt.error),
        mode: attempt.mode ?? "-",
        bytesRead: attempt.result?.bytesRead ?? attempt.bytesRead,
        bytesStored: attempt.result?.bytesStored ?? 0,
        virtualMs: world.host.clock.now() - started,
        faults: [...planned.filter(isWorldEvent), ...fired],
        ...(attempt.result === undefined
          ? {}
          : { pointId: attempt.result.point.id, seq: attempt.result.point.seq }),
        ...(attempt.error === undefined ? {} : { error: describeError(attempt.error) }),
      };
      if (attempt.result !== undefined) {
        const reader = await world.reader();
        const point = await reader.readPoint(attempt.result.point.source, attempt.result.point.seq);
        committed.push(point);
        row.verified = await pointMatchesOracle(reader, world.host, point, log);
      }
      attempts.push(row);
      options.onAttempt?.(row);
    }
  } finally {
    world.stop();
  }

  // Every committed point again, after every later job and fault: none may have been disturbed.
  const reader = await world.reader();
  const points = [];
  for (const point of committed) {
    const row = attempts.find((a) => a.seq === point.seq);
    const verified = (row?.verified ?? false) && (await pointMatchesOracle(reader, world.host, point, log));
    points.push({
      id: `${point.source}@${point.seq}`,
      seq: point.seq,
      mode: row?.mode === "-" || row === undefined ? "full" : row.mode,
      bytesRead: row?.bytesRead ?? 0,
      bytesStored: row?.bytesStored ?? 0,
      verified,
    });
  }
  const report = await verifyRepository(reader, { full: true });
  for (const p of report.problems) log.error({ object: p.object, code: p.code }, p.message);
  const faults = { ...events } as Record<FaultKind, number>;
  for (const k of STEP_FAULT_KINDS) faults[k] = world.faults.injected.get(k) ?? 0;
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
 * Which faults strike at which trigger: each chosen kind once, on distinct triggers after the
 * first full sync. An abort is followed by a quiet trigger, so the run shows the retry of the very
 * same increment.
 */
export function faultSchedule(
  prng: Prng,
  syncs: number,
  kinds: ReadonlySet<FaultKind>,
): Map<number, FaultKind[]> {
  const schedule = new Map<number, FaultKind[]>();
  const quiet = new Set<number>();
  const free = (t: number) => t >= 2 && t <= syncs && !schedule.has(t) && !quiet.has(t);
  const ordered = FAULT_KINDS.filter((k) => kinds.has(k));
  for (const kind of ordered) {
    const needsQuietNext = kind === "snapshot-abort";
    const candidates: number[] = [];
    for (let t = 2; t <= syncs; t++) if (free(t) && (!needsQuietNext || free(t + 1))) candidates.push(t);
    // With more kinds than triggers, the rest share triggers rather than being dropped silently.
    const t = candidates.length > 0 ? prng.pick(candidates) : 2 + prng.int(0, Math.max(1, syncs - 1));
    schedule.set(t, [...(schedule.get(t) ?? []), kind]);
    if (needsQuietNext) quiet.add(t + 1);
  }
  return schedule;
}

function isWorldEvent(kind: FaultKind): kind is WorldEventKind {
  return (WORLD_EVENT_KINDS as readonly string[]).includes(kind);
}

function describeOutcome(outcome: string, error: unknown): string {
  if (outcome === "retryable" || outcome === "fatal")
    return `failed: ${isLifeboatError(error) ? error.code : "error"}`;
  return outcome;
}

function describeError(e: unknown): string {
  return isLifeboatError(e) ? `${e.code}: ${e.message}` : String(e);
}
