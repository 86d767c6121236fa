/**
 * Item 3 of issue 9, profile only: the CLI's full backup, incrementals (with a change map, and by
 * hash compare) and restore, each run twice on the same image state — once under `node --cpu-prof`
 * (the JavaScript thread) and once under `perf record` (every thread and process, native symbols).
 * Profiles stay in the work directory; the summary goes into the results and docs/performance.md.
 */

import { access, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LifeboatError } from "../src/domain/errors.ts";
import { BLOCK, Dataset } from "./dataset.ts";
import { applyMutation, ensureImage, resetBlocks } from "./image-file.ts";
import { type Measurement, measure, run, runOrThrow } from "./measure.ts";
import { changedExtentsText, mutations, touchedBlocks } from "./mutations.ts";
import { type ProfileSummary, summarizeCpuProfile, summarizePerfReport } from "./profile-summary.ts";
import { type KnobFigures, tryEngineKnobs } from "./engine-knobs.ts";
import { type MemoryPeaks, memoryBreakdown } from "./memory-breakdown.ts";
import { type Probe, runPrimitives } from "./primitives.ts";
import { type SettingFigures, trySettings } from "./settings-trial.ts";
import { LIFEBOAT_BIN } from "./tools.ts";

const PERF = "/usr/bin/perf";
const PASSWORD = "lifeboat-bench-passphrase";

export interface ProfileOptions {
  readonly size: number;
  readonly runs: number;
  readonly seed: number;
  readonly work: string;
  readonly log: (line: string) => void;
}

export interface ProfiledStep {
  readonly step: string;
  /** The --cpu-prof run (profiling adds overhead: compare steps with each other, not with the tables). */
  readonly run: Pick<Measurement, "wallS" | "cpuS" | "peakRssMiB">;
  readonly jsThread: ProfileSummary;
  /** Every thread under perf (absent when perf cannot record here). */
  readonly wholeProcess?: ProfileSummary;
  /** Share of perf's samples on the main (JavaScript) thread; the rest ran on other threads. */
  readonly mainThreadPercent?: number;
}

export interface ProfileResult {
  readonly suite: "profile";
  readonly size: number;
  readonly profilesDir: string;
  readonly perf: string;
  readonly steps: ProfiledStep[];
  readonly settings: SettingFigures[];
  readonly memory?: MemoryPeaks[];
  readonly primitives?: Probe[];
  readonly knobs?: KnobFigures[];
}

export async function runProfile(options: ProfileOptions): Promise<ProfileResult> {
  const dir = join(options.work, "profile");
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const dataset = new Dataset(options.seed, options.size);
  const image = join(options.work, `image-${options.size / BLOCK}x64K-seed${options.seed}.img`);
  options.log(`image ${image}: ${await ensureImage(dataset, image)}`);
  const changes = mutations(options.seed, dataset.blocks);
  await resetBlocks(dataset, image, touchedBlocks(changes));
  const perf = await perfUsable(dir);
  const lanes = { cpuprof: join(dir, "cpuprof"), perf: join(dir, "perf") };
  for (const lane of Object.values(lanes)) {
    await mkdir(lane, { recursive: true });
    await lifeboat(["repo", "init", "--repo", join(lane, "repo")]);
  }
  const last = new Map<string, string>();
  const backup = (lane: string) => [
    "--json",
    "backup",
    "--source",
    `image:${image}`,
    "--repo",
    join(lane, "repo"),
    "--state-dir",
    join(lane, "state"),
  ];
  const [first, second] = changes;
  if (first === undefined || second === undefined)
    throw new LifeboatError("INTERNAL", "the profile needs two mutations");
  const extents = join(dir, "changed.extents");
  await writeFile(extents, changedExtentsText(first));
  const steps: Array<{ step: string; before?: () => Promise<void>; args: (lane: string) => string[] }> = [
    { step: "full backup", args: backup },
    {
      step: `incremental with a change map (${first.label})`,
      before: () => applyMutation(dataset, image, first),
      args: (lane) => [...backup(lane), "--changed-extents", extents, "--base", last.get(lane) ?? "?"],
    },
    {
      step: `incremental by hash compare (${second.label})`,
      before: () => applyMutation(dataset, image, second),
      args: backup,
    },
    {
      step: "restore of the last point",
      args: (lane) => [
        "--json",
        "restore",
        "--repo",
        join(lane, "repo"),
        "--point",
        last.get(lane) ?? "?",
        "--to",
        join(lane, "restored.img"),
      ],
    },
  ];
  // Backups print their point as JSON: the next step's --base and the restore's --point.
  const remember = (lane: string, stdout: string) => {
    const id = (JSON.parse(stdout) as { point?: { id?: string } }).point?.id;
    if (typeof id === "string") last.set(lane, id);
  };
  const out: ProfiledStep[] = [];
  for (const [i, s] of steps.entries()) {
    options.log(`  ${s.step}`);
    await s.before?.();
    const profDir = join(lanes.cpuprof, `step-${i + 1}`);
    const m = await measure({
      command: process.execPath,
      args: ["--cpu-prof", "--cpu-prof-dir", profDir, LIFEBOAT_BIN, ...s.args(lanes.cpuprof)],
      env: env(),
    });
    remember(lanes.cpuprof, m.stdout);
    const jsThread = await summarizeCpuProfile(await mainThreadProfile(profDir));
    let perfFigures: Pick<ProfiledStep, "wholeProcess" | "mainThreadPercent"> = {};
    if (perf) {
      const recorded = await perfStep(join(lanes.perf, `step-${i + 1}.data`), s.args(lanes.perf));
      remember(lanes.perf, recorded.stdout);
      perfFigures = { wholeProcess: recorded.summary, mainThreadPercent: recorded.mainThreadPercent };
    }
    out.push({
      step: s.step,
      run: { wallS: m.wallS, cpuS: m.cpuS, peakRssMiB: m.peakRssMiB },
      jsThread,
      ...perfFigures,
    });
  }
  await resetBlocks(dataset, image, touchedBlocks(changes));
  for (const lane of Object.values(lanes)) await rm(join(lane, "restored.img"), { force: true });
  options.log("  ways of running the CLI (full backup, incremental, restore)");
  const settings = await trySettings(
    {
      path: image,
      mutate: () => applyMutation(dataset, image, first),
      undo: () => resetBlocks(dataset, image, first.blocks),
      extentsFile: extents,
    },
    dir,
    options.runs,
  );
  options.log("  memory breakdown");
  const memory = await memoryBreakdown(image, dir);
  options.log("  probes behind the proposals");
  const primitives = await runPrimitives(image, dir);
  options.log("  engine knobs (full backup through the engine API)");
  const knobs = await tryEngineKnobs(image, dir, options.runs);
  return {
    suite: "profile",
    size: options.size,
    profilesDir: dir,
    perf: perf ? "perf record -e cpu-clock -F 999 -g" : "not available",
    steps: out,
    settings,
    memory,
    primitives,
    knobs,
  };
}

/** With module hooks, Node also profiles the loader thread; the main thread's file sorts first (…0.001). */
async function mainThreadProfile(dir: string): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".cpuprofile")).sort();
  const main = files.find((f) => /\.0\.\d+\.cpuprofile$/.test(f)) ?? files[0];
  if (main === undefined) throw new LifeboatError("INTERNAL", `no .cpuprofile written in ${dir}`);
  return join(dir, main);
}

async function perfStep(
  data: string,
  args: string[],
): Promise<{ summary: ProfileSummary; mainThreadPercent: number; stdout: string }> {
  const recorded = await runOrThrow(
    PERF,
    ["record", "-e", "cpu-clock", "-F", "999", "-g", "-o", data, "--"].concat(
      [process.execPath, "--perf-basic-prof", LIFEBOAT_BIN],
      args,
    ),
    { env: env() },
  );
  const report = await runOrThrow(PERF, [
    "report",
    "-i",
    data,
    "--no-children",
    "--sort",
    "dso,sym",
    "-g",
    "none",
    "--stdio",
    "-t",
    "\t",
  ]);
  const threads = await runOrThrow(PERF, [
    "report",
    "-i",
    data,
    "--no-children",
    "--sort",
    "pid",
    "-g",
    "none",
    "--stdio",
    "-t",
    "\t",
  ]);
  return {
    summary: summarizePerfReport(report),
    mainThreadPercent: mainThreadShare(threads),
    stdout: recorded,
  };
}

/** The main thread is the process's first task: the lowest thread id (perf's "pid" key prints "TID:comm"). */
function mainThreadShare(report: string): number {
  const rows = report
    .split("\n")
    .filter((l) => !l.startsWith("#") && l.includes("\t"))
    .map((l) => {
      const [percent, task] = l.split("\t").map((x) => x.trim());
      return { percent: Number.parseFloat(percent ?? ""), tid: Number.parseInt(task ?? "", 10) };
    })
    .filter((r) => Number.isFinite(r.percent) && Number.isFinite(r.tid));
  const main = rows.reduce<{ percent: number; tid: number } | undefined>(
    (a, r) => (a === undefined || r.tid < a.tid ? r : a),
    undefined,
  );
  return main?.percent ?? Number.NaN;
}

async function perfUsable(dir: string): Promise<boolean> {
  try {
    await access(PERF);
  } catch {
    return false;
  }
  const probe = await run(PERF, ["record", "-e", "cpu-clock", "-o", join(dir, "probe.data"), "--", "true"]);
  return probe.code === 0;
}

async function lifeboat(args: string[]): Promise<void> {
  await runOrThrow(process.execPath, [LIFEBOAT_BIN, ...args], { env: env() });
}

function env(): NodeJS.ProcessEnv {
  return { ...process.env, LIFEBOAT_PASSWORD: PASSWORD, LIFEBOAT_LOG_LEVEL: "warn" };
}
