/**
 * Item 1 of issue 9: Lifeboat, restic and borg side by side on the same image in the same run —
 * a full backup, an incremental after each mutation (Lifeboat both with a change map and by hash
 * compare), and a restore of the last point, each restore checked byte for byte against the image.
 */

import { mkdir, rm, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { BLOCK, Dataset } from "./dataset.ts";
import { applyMutation, ensureImage, resetBlocks, sameContent } from "./image-file.ts";
import { measure } from "./measure.ts";
import { changedExtentsText, type Mutation, mutations, touchedBlocks } from "./mutations.ts";
import type { RepoUsage, Tool } from "./repo-size.ts";
import {
  type BackupOutcome,
  type BackupStep,
  type BackupTool,
  BorgTool,
  checkTools,
  LIFEBOAT_BIN,
  LifeboatTool,
  ResticTool,
} from "./tools.ts";

export interface CompareOptions {
  readonly size: number;
  readonly seed: number;
  readonly runs: number;
  readonly work: string;
  readonly tools: readonly Tool[];
  readonly log: (line: string) => void;
}

/** One timed command. `scenario` is "full", "incr:<mutation>" or "restore". */
export interface Sample {
  readonly run: number;
  readonly scenario: string;
  readonly tool: string;
  readonly wallS: number;
  readonly cpuS: number;
  readonly peakRssMiB: number;
  /** Repository growth caused by this command (0 for restores). */
  readonly storedBytes: number;
  readonly report?: BackupOutcome["report"];
  /** Restores only: the restored image equals the source image byte for byte. */
  readonly verified?: boolean;
  /** The machine's 1-minute load average when the command ended (others share this machine). */
  readonly load?: number;
}

export interface RepoSummary {
  readonly run: number;
  readonly tool: string;
  readonly usage: RepoUsage;
  /** Bytes of the full backup's metadata (Lifeboat: its checkpoint manifest plus pack indexes). */
  readonly indexBytesAfterFull: number;
  readonly storedBytesAfterFull: number;
  readonly cacheBytes: number;
}

export interface CompareResult {
  readonly suite: "compare";
  readonly size: number;
  readonly seed: number;
  readonly runs: number;
  readonly fractions: { zero: number; text: number; random: number };
  readonly mutations: ReadonlyArray<{ name: string; label: string; blocks: number; bytes: number }>;
  readonly startup: number[];
  readonly samples: Sample[];
  readonly repos: RepoSummary[];
}

export async function runCompare(options: CompareOptions): Promise<CompareResult> {
  const { work, log } = options;
  await checkTools(options.tools);
  await mkdir(work, { recursive: true });
  const dataset = new Dataset(options.seed, options.size);
  const image = join(work, `image-${options.size / BLOCK}x64K-seed${options.seed}.img`);
  log(`image ${image}: ${await ensureImage(dataset, image)}`);
  const changes = mutations(options.seed, dataset.blocks);
  const result: CompareResult = {
    suite: "compare",
    size: options.size,
    seed: options.seed,
    runs: options.runs,
    fractions: dataset.fractions(),
    mutations: changes.map((m) => ({
      name: m.name,
      label: m.label,
      blocks: m.blocks.length,
      bytes: m.blocks.length * BLOCK,
    })),
    startup: [],
    samples: [],
    repos: [],
  };
  for (let run = 1; run <= options.runs; run++) {
    log(`run ${run}/${options.runs}`);
    await resetBlocks(dataset, image, touchedBlocks(changes));
    result.startup.push((await measure({ command: process.execPath, args: [LIFEBOAT_BIN, "--help"] })).wallS);
    await oneRun(run, options, dataset, image, changes, result);
  }
  await resetBlocks(dataset, image, touchedBlocks(changes));
  return result;
}

async function oneRun(
  run: number,
  options: CompareOptions,
  dataset: Dataset,
  image: string,
  changes: readonly Mutation[],
  result: CompareResult,
): Promise<void> {
  const runDir = join(options.work, "run");
  await rm(runDir, { recursive: true, force: true });
  const lifeboat = new LifeboatTool("lifeboat", join(runDir, "lifeboat"), image, true);
  const lifeboatHash = new LifeboatTool("lifeboat-hash", join(runDir, "lifeboat-hash"), image, false);
  const peers: BackupTool[] = [];
  if (options.tools.includes("restic")) peers.push(new ResticTool(join(runDir, "restic"), image));
  if (options.tools.includes("borg")) peers.push(new BorgTool(join(runDir, "borg"), image));
  const all = [lifeboat, lifeboatHash, ...peers];
  for (const tool of all) await mkdir(join(runDir, tool.id), { recursive: true });
  for (const tool of [lifeboat, ...peers]) await tool.init();
  // Rotating the order spreads whatever the shared machine is doing over every tool alike.
  const rotate = <T>(items: readonly T[]): T[] => items.map((_, i) => items[(i + run) % items.length] as T);
  const afterFull = new Map<string, RepoUsage>();

  for (const tool of rotate([lifeboat, ...peers])) {
    const sample = await backupSample(run, "full", tool, {});
    result.samples.push(sample);
    afterFull.set(tool.id, await tool.usage());
    options.log(`  full ${tool.id}: ${sample.wallS.toFixed(2)} s`);
  }
  await lifeboatHash.adopt(lifeboat);
  afterFull.set(lifeboatHash.id, await lifeboatHash.usage());

  for (const mutation of changes) {
    await applyMutation(dataset, image, mutation);
    const extentsFile = join(runDir, `${mutation.name}.extents`);
    await writeFile(extentsFile, changedExtentsText(mutation));
    for (const tool of rotate(all)) {
      const sample = await backupSample(run, `incr:${mutation.name}`, tool, { extentsFile });
      result.samples.push(sample);
      options.log(
        `  ${mutation.name} ${tool.id}: ${sample.wallS.toFixed(2)} s, +${(sample.storedBytes / 1e6).toFixed(1)} MB`,
      );
    }
  }

  const target = join(runDir, "restored");
  for (const tool of rotate([lifeboat, ...peers])) {
    await rm(target, { recursive: true, force: true });
    await mkdir(target, { recursive: true });
    const { measurement, restored } = await tool.restore(target);
    const verified = await sameContent(image, restored);
    result.samples.push({
      run,
      scenario: "restore",
      tool: tool.id,
      wallS: measurement.wallS,
      cpuS: measurement.cpuS,
      peakRssMiB: measurement.peakRssMiB,
      storedBytes: 0,
      verified,
      load: loadavg()[0] as number,
    });
    options.log(
      `  restore ${tool.id}: ${measurement.wallS.toFixed(2)} s, ${verified ? "bit-exact" : "DIFFERS"}`,
    );
  }
  await rm(target, { recursive: true, force: true });

  for (const tool of all) {
    const full = afterFull.get(tool.id);
    result.repos.push({
      run,
      tool: tool.id,
      usage: await tool.usage(),
      indexBytesAfterFull: full?.indexBytes ?? Number.NaN,
      storedBytesAfterFull: full?.bytes ?? Number.NaN,
      cacheBytes: await tool.cacheBytes(),
    });
  }
}

async function backupSample(
  run: number,
  scenario: string,
  tool: BackupTool,
  step: BackupStep,
): Promise<Sample> {
  const before = await tool.usage();
  const outcome = await tool.backup(step);
  const after = await tool.usage();
  const m = outcome.measurement;
  return {
    run,
    scenario,
    tool: tool.id,
    wallS: m.wallS,
    cpuS: m.cpuS,
    peakRssMiB: m.peakRssMiB,
    storedBytes: after.bytes - before.bytes,
    load: loadavg()[0] as number,
    ...(outcome.report === undefined ? {} : { report: outcome.report }),
  };
}
