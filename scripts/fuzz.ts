/**
 * Long fault fuzzing: `npm run fuzz -- --minutes N [--seed S]`. Runs random schedules until the time
 * is up, then prints how many ran and how many faults of each kind struck. Exits 1 on the first
 * violation, with its replay command.
 */

import { parseArgs } from "node:util";
import { checkPromise, describeFailure } from "../src/cli/sim/fuzz.ts";
import { FaultCoverage } from "../src/cli/sim/invariants.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "1" },
    seed: { type: "string" },
    batch: { type: "string", default: "20" },
  },
});
const deadline = Date.now() + Number(values.minutes) * 60_000;
const batch = Number(values.batch);
const coverage = new FaultCoverage();
let seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
let schedules = 0;
const started = Date.now();
while (Date.now() < deadline) {
  // Printed before each batch: if the process itself dies, the batch can still be replayed.
  process.stdout.write(`batch seed ${seed} (${batch} schedules)\n`);
  const details = await checkPromise({ seed, numRuns: batch, coverage });
  schedules += details.numRuns;
  if (details.failed) {
    process.stdout.write(`${describeFailure(details)}\n`);
    process.exit(1);
  }
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
}
const seconds = ((Date.now() - started) / 1000).toFixed(0);
process.stdout.write(`${schedules} schedules in ${seconds} s, no violation\nfaults: ${coverage.format()}\n`);
