import { describe, expect, it } from "vitest";
import { checkPromise, describeFailure } from "../../src/cli/sim/fuzz.ts";
import { FaultCoverage } from "../../src/cli/sim/invariants.ts";

// A fixed seed in CI (replayable); FUZZ_SEED / FUZZ_RUNS widen the hunt locally and in mutant checks.
const seed = Number(process.env.FUZZ_SEED ?? 20261122);
const numRuns = Number(process.env.FUZZ_RUNS ?? 30);

describe("the promise under random faults", () => {
  it(`every committed point restores bit-exact and none is lost, whatever fails (seed ${seed}, ${numRuns} schedules)`, async () => {
    const coverage = new FaultCoverage();
    const details = await checkPromise({ seed, numRuns, coverage });
    if (details.failed) expect.fail(describeFailure(details));
    // The schedules must actually have exercised the faults they claim to.
    for (const kind of ["crash", "store-lost-reply", "store-torn-temp", "snapshot-abort", "tracker-loss"]) {
      expect(coverage.counts.get(kind) ?? 0, `${kind} never struck`).toBeGreaterThan(0);
    }
    process.stdout.write(`fault coverage: ${coverage.format()}\n`);
  }, 300_000);
});
