/** The bench command line, validated into options (bad input is a USAGE error naming the fix). */

import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { parseSize } from "../src/cli/output.ts";
import { LifeboatError } from "../src/domain/errors.ts";
import { BLOCK } from "./dataset.ts";
import type { Tool } from "./repo-size.ts";
import { GiB, MiB } from "./stats.ts";

export type Suite = "compare" | "scale" | "profile" | "report";
/** "report" runs nothing: it renders the report again from the results kept by earlier runs. */
const SUITES: readonly Suite[] = ["compare", "scale", "profile", "report"];
const TOOLS: readonly Tool[] = ["lifeboat", "restic", "borg"];

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const PROJECT_DIR = resolve(BENCH_DIR, "..");

export interface BenchOptions {
  readonly suites: readonly Suite[];
  readonly quick: boolean;
  readonly runs: number;
  readonly size: number;
  readonly seed: number;
  readonly work: string;
  readonly tools: readonly Tool[];
  /** Where suite results (JSON) are kept and read back to render the report. */
  readonly results: string;
  readonly out: string;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const program = new Command("bench")
    .description(
      "Lifeboat benchmarks: compare (vs restic and borg), scale (simulated disks), profile (--cpu-prof, perf); report (re-render only)",
    )
    .argument("[suites...]", `any of ${SUITES.join(", ")} (default: compare scale; --quick: compare)`)
    .option("--quick", "CI smoke: one run on a 256 MiB image, results kept in the work directory")
    .option("--runs <n>", "runs per measurement; the report shows medians (default 5, --quick 1)")
    .option("--size <size>", "image size, 256M…8G (default 2G, --quick 256M)")
    .option("--seed <n>", "data generator seed", "1")
    .option(
      "--work <dir>",
      "scratch directory for images, repositories and restores",
      join(tmpdir(), "lifeboat-bench"),
    )
    .option("--tools <list>", "tools to compare", TOOLS.join(","))
    .option("--out <file>", "Markdown report (default BENCHMARKS.md; --quick: WORK/BENCHMARKS.quick.md)")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError && e.exitCode === 0) process.exit(0);
    throw new LifeboatError("USAGE", e instanceof Error ? e.message : String(e), { cause: e });
  }
  const o = program.opts<{
    quick?: boolean;
    runs?: string;
    size?: string;
    seed: string;
    work: string;
    tools: string;
    out?: string;
  }>();
  const quick = o.quick === true;
  const suites = program.args.length > 0 ? program.args : quick ? ["compare"] : ["compare", "scale"];
  for (const s of suites) {
    if (!SUITES.includes(s as Suite))
      usage(`unknown suite ${JSON.stringify(s)}`, `Name suites from: ${SUITES.join(", ")}.`);
  }
  const tools = o.tools.split(",").map((t) => t.trim());
  for (const t of tools) {
    if (!TOOLS.includes(t as Tool))
      usage(`unknown tool ${JSON.stringify(t)}`, `List tools from: ${TOOLS.join(", ")}.`);
  }
  if (!tools.includes("lifeboat")) usage("--tools must include lifeboat", "Add lifeboat to --tools.");
  const runs = integer(o.runs ?? (quick ? "1" : "5"), "--runs", 1, 100);
  const size = sizeOption(o.size ?? (quick ? "256M" : "2G"));
  const seed = integer(o.seed, "--seed", 0, 2 ** 31);
  const work = resolve(o.work);
  return {
    suites: suites as Suite[],
    quick,
    runs,
    size,
    seed,
    work,
    tools: tools as Tool[],
    results: quick ? join(work, "results") : join(BENCH_DIR, "results"),
    out: resolve(o.out ?? (quick ? join(work, "BENCHMARKS.quick.md") : join(PROJECT_DIR, "BENCHMARKS.md"))),
  };
}

function sizeOption(text: string): number {
  let size: number;
  try {
    size = parseSize(text);
  } catch (e) {
    throw new LifeboatError("USAGE", `--size ${JSON.stringify(text)} is not a size`, {
      cause: e,
      remedy: "Give --size like 256M, 2G or 8G.",
    });
  }
  if (size < 256 * MiB || size > 8 * GiB || size % BLOCK !== 0) {
    usage(`--size ${text} is outside 256M…8G or not a multiple of 64K`, "Give --size between 256M and 8G.");
  }
  return size;
}

function integer(text: string, name: string, min: number, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    usage(
      `${name} ${JSON.stringify(text)} must be an integer in ${min}…${max}`,
      `Give ${name} a whole number from ${min} to ${max}.`,
    );
  return n;
}

function usage(message: string, remedy: string): never {
  throw new LifeboatError("USAGE", message, { remedy });
}
