/**
 * The fault fuzzer: random workloads and random fault schedules against a simulated world, with the
 * promise checked after every step. A violation shrinks to a minimal schedule and is replayable
 * from its seed and path (`lifeboat sim --replay SEED:PATH`).
 */

import fc from "fast-check";
import { STEP_FAULT_KINDS, type StepFaultKind } from "../../adapters/sim/fault-injector.ts";
import type { FaultSite } from "../../ports/fault-points.ts";
import { silentLog } from "../../ports/log.ts";
import { FaultCoverage, PromiseChecker } from "./invariants.ts";
import { WORLD_EVENT_KINDS, type WorldEventKind } from "./world-events.ts";
import { World } from "./world.ts";

export type FuzzAction =
  | { readonly kind: "workload"; readonly ms: number }
  | { readonly kind: "sync" }
  | { readonly kind: "fault"; readonly fault: StepFaultKind; readonly afterSteps: number }
  | { readonly kind: "event"; readonly event: WorldEventKind }
  | { readonly kind: "crash-at"; readonly site: FaultSite; readonly nth: number };

/** The steps between "all data is stored" and "the point exists": few, and where ordering bugs hide. */
const COMMIT_PATH_SITES: readonly FaultSite[] = [
  "packs.flushed",
  "resume.saved",
  "manifest.write",
  "manifest.written",
  "point.write",
  "point.written",
  "committed",
  "release",
];

export interface FuzzCase {
  readonly worldSeed: number;
  readonly actions: readonly FuzzAction[];
}

const action: fc.Arbitrary<FuzzAction> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("workload" as const),
      ms: fc.integer({ min: 1_000, max: 60_000 }),
    }),
    weight: 3,
  },
  { arbitrary: fc.constant({ kind: "sync" as const }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant("fault" as const),
      fault: fc.constantFrom(...STEP_FAULT_KINDS),
      afterSteps: fc.integer({ min: 1, max: 80 }),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("event" as const),
      event: fc.constantFrom(...WORLD_EVENT_KINDS),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("crash-at" as const),
      site: fc.constantFrom(...COMMIT_PATH_SITES),
      nth: fc.integer({ min: 1, max: 2 }),
    }),
    weight: 2,
  },
);

export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.record({
  worldSeed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  actions: fc.array(action, { minLength: 2, maxLength: 10 }),
});

/** Runs one schedule; throws an Error naming the first violated invariant. */
export async function runFuzzCase(c: FuzzCase, coverage?: FaultCoverage): Promise<void> {
  const world = await World.create({
    seed: c.worldSeed,
    disks: 2,
    diskSize: 4 * 1024 * 1024,
    writeRate: 48 * 1024,
    diffAreaBytes: 2 * 1024 * 1024,
    resumeEveryBytes: 128 * 1024,
    log: silentLog,
  });
  const checker = new PromiseChecker(world, c.worldSeed);
  try {
    await checker.sync(); // the first full sync
    for (const a of c.actions) {
      switch (a.kind) {
        case "workload":
          world.host.runWorkload(a.ms);
          continue;
        case "sync":
          break;
        case "fault":
          world.faults.arm({ atStep: world.faults.step + a.afterSteps, kind: a.fault });
          break;
        case "event":
          await checker.applyEvent(a.event);
          coverage?.count(a.event);
          break;
        case "crash-at":
          world.faults.crashAt(a.site, a.nth);
          break;
      }
      await checker.sync();
    }
    // Progress: once faults stop, the next sync commits a point.
    world.faults.disarmAll();
    world.source.burstDuringNextTransfer(0); // write pressure not yet spent is a fault too
    world.host.runWorkload(5_000);
    await checker.progress();
  } finally {
    for (const [kind, n] of world.faults.injected) coverage?.count(kind, n);
    if (world.crashes > 0) coverage?.count("crash-restarts", world.crashes);
    world.stop();
  }
}

export interface FuzzSettings {
  readonly seed?: number;
  readonly path?: string;
  readonly numRuns?: number;
  readonly coverage?: FaultCoverage;
}

/** fast-check over random fault schedules; the same settings replay the same cases. */
export function checkPromise(settings: FuzzSettings): Promise<fc.RunDetails<[FuzzCase]>> {
  const property = fc.asyncProperty(fuzzCase, (c) => runFuzzCase(c, settings.coverage));
  return fc.check(property, {
    numRuns: settings.numRuns ?? 25,
    ...(settings.seed === undefined ? {} : { seed: settings.seed }),
    ...(settings.path === undefined ? {} : { path: settings.path }),
    endOnFailure: settings.path !== undefined,
  });
}

/** A failure as operators and developers read it: the invariant, the schedule, the replay command. */
export function describeFailure(details: fc.RunDetails<[FuzzCase]>): string {
  if (!details.failed) return "no violation";
  const error =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  const schedule = details.counterexample === null ? "" : JSON.stringify(details.counterexample[0]);
  return [
    `violated: ${error}`,
    `schedule: ${schedule}`,
    `replay:   lifeboat sim --replay ${details.seed}:${details.counterexamplePath ?? ""}`,
  ].join("\n");
}
