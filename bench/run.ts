/**
 * `npx tsx bench/run.ts [compare] [scale] [profile] [report] [--quick] [--runs N] [--size SIZE] …`
 *
 * Runs the chosen suites, keeps each suite's raw samples as JSON (bench/results/, or the work
 * directory with --quick) and renders every result present into the Markdown report. Benchmarks
 * are never pass/fail: the report states each target of issue 9 as met or not, with the figures.
 */

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isLifeboatError, LifeboatError } from "../src/domain/errors.ts";
import { runCompare } from "./compare.ts";
import { describeMachine } from "./machine.ts";
import { type BenchOptions, parseOptions } from "./options.ts";
import { runProfile } from "./profile.ts";
import { renderReport, type Results } from "./report.ts";
import { runScale } from "./scale.ts";

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  await mkdir(options.results, { recursive: true });
  const machine = await describeMachine();
  for (const suite of options.suites) {
    if (suite === "report") continue;
    log(`== ${suite}`);
    const started = Date.now();
    const result =
      suite === "compare"
        ? await runCompare({ ...options, log })
        : suite === "scale"
          ? await runScale({ runs: options.runs, quick: options.quick, work: options.work, log })
          : await runProfile({
              size: options.size,
              seed: options.seed,
              runs: options.runs,
              work: options.work,
              log,
            });
    const stamped = {
      ...result,
      machine,
      date: new Date().toISOString(),
      seconds: (Date.now() - started) / 1000,
    };
    await writeFile(join(options.results, `${suite}.json`), `${JSON.stringify(stamped, null, 1)}\n`);
    log(`== ${suite} took ${stamped.seconds.toFixed(0)} s`);
  }
  await writeFile(options.out, renderReport(await readResults(options)));
  log(`wrote ${options.out}`);
}

async function readResults(options: BenchOptions): Promise<Results> {
  const read = async (suite: string) => {
    try {
      return JSON.parse(await readFile(join(options.results, `${suite}.json`), "utf8"));
    } catch {
      return undefined; // a suite that has not been run yet is simply absent from the report
    }
  };
  return { compare: await read("compare"), scale: await read("scale"), profile: await read("profile") };
}

try {
  await main();
} catch (e) {
  const error = isLifeboatError(e)
    ? e
    : new LifeboatError("INTERNAL", e instanceof Error ? e.message : String(e), { cause: e });
  process.stderr.write(`bench: ${error.code}: ${error.message}\n  remedy: ${error.remedy}\n`);
  if (error.code === "INTERNAL" && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exitCode = error.kind === "input" ? 2 : 1;
}
