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
import { type CompareResult, runCompare } from "./compare.ts";
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
  const results = await readResults(options);
  await writeFile(options.out, renderReport(results));
  log(`wrote ${options.out}`);
  const checked = options.suites.includes("compare") || options.suites.includes("report");
  if (checked && results.compare !== undefined) checkCompare(results.compare);
}

/**
 * Figures are never pass/fail, but a wrong restore or a job that ran in the wrong mode is a bug, not
 * a slow run: the report shows it, and the command fails so a CI smoke run cannot miss it.
 */
function checkCompare(result: CompareResult): void {
  const differs = result.samples.filter((s) => s.verified === false);
  if (differs.length > 0) {
    throw new LifeboatError(
      "VERIFY_FAILED",
      `restores that differ from the image: ${differs.map((s) => `${s.tool} (run ${s.run})`).join(", ")}`,
      {
        remedy:
          "Restore by hand in the bench work directory and compare with cmp to find the first bad byte.",
      },
    );
  }
  const expected = (tool: string) => (tool === "lifeboat-hash" ? "resync" : "incremental");
  const wrongMode = result.samples.filter(
    (s) => s.scenario.startsWith("incr:") && s.report !== undefined && s.report.mode !== expected(s.tool),
  );
  if (wrongMode.length > 0) {
    throw new LifeboatError(
      "INTERNAL",
      `Lifeboat incrementals ran in the wrong mode: ${wrongMode.map((s) => `${s.tool} ${s.scenario} → ${s.report?.mode}`).join(", ")}`,
    );
  }
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
