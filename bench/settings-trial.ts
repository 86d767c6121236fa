/**
 * Ways of running the same CLI that change no source file, tried on a full backup, a small
 * incremental with a change map, and a restore: a compiled bundle instead of tsx (what a `dist/`
 * build would give), V8's young-generation size (the full backup spends a quarter of its CPU in
 * garbage collection), and libuv's io_uring (which Node 20 ships switched off). Each setting gets
 * a fresh repository per run, and runs of the settings are interleaved so the shared machine's
 * noise falls on all of them alike. The figures back the proposals in docs/performance.md.
 */

import { access, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { type Measurement, measure, run, runOrThrow } from "./measure.ts";
import { PROJECT_DIR } from "./options.ts";
import { median } from "./stats.ts";
import { LIFEBOAT_BIN } from "./tools.ts";

export interface Setting {
  readonly name: string;
  readonly env: Record<string, string>;
  readonly nodeFlags: readonly string[];
  /** The script node runs (default bin/lifeboat.js, which compiles TypeScript through tsx). */
  readonly entry?: string;
}

/** Inside the project so the bundle's bare imports resolve to node_modules; .tmp/ is git-ignored. */
const BUNDLE = join(PROJECT_DIR, ".tmp", "bench-dist", "lifeboat.mjs");

const SETTINGS: readonly Setting[] = [
  { name: "as shipped (tsx)", env: {}, nodeFlags: [] },
  { name: "compiled bundle (esbuild, what a dist/ build gives)", env: {}, nodeFlags: [], entry: BUNDLE },
  { name: "node --max-semi-space-size=64", env: {}, nodeFlags: ["--max-semi-space-size=64"] },
  { name: "UV_USE_IO_URING=1 (libuv io_uring on)", env: { UV_USE_IO_URING: "1" }, nodeFlags: [] },
];

export type TrialStep = "full backup" | "incremental with a change map" | "restore";

export interface SettingFigures {
  readonly setting: string;
  readonly step: TrialStep;
  readonly wallS: number;
  readonly userS: number;
  readonly sysS: number;
  readonly peakRssMiB: number;
  readonly runs: number;
}

export interface TrialImage {
  readonly path: string;
  /** Changes the image the way the change map says, and puts it back. */
  readonly mutate: () => Promise<void>;
  readonly undo: () => Promise<void>;
  readonly extentsFile: string;
}

export async function trySettings(image: TrialImage, dir: string, runs: number): Promise<SettingFigures[]> {
  const settings = (await bundle()) ? SETTINGS : SETTINGS.filter((s) => s.entry === undefined);
  const samples = new Map<string, Measurement[]>();
  const record = (setting: Setting, step: TrialStep, m: Measurement) => {
    const key = `${setting.name}|${step}`;
    samples.set(key, [...(samples.get(key) ?? []), m]);
  };
  const lane = join(dir, "settings");
  for (let r = 0; r < runs; r++) {
    for (const setting of settings) {
      await rm(lane, { recursive: true, force: true });
      await mkdir(lane, { recursive: true });
      const env = { ...process.env, ...setting.env, LIFEBOAT_PASSWORD: "lifeboat-bench-passphrase" };
      const cli = (args: string[]) =>
        measure({
          command: process.execPath,
          args: [...setting.nodeFlags, setting.entry ?? LIFEBOAT_BIN, ...args],
          env,
        });
      const repo = join(lane, "repo");
      await runOrThrow(process.execPath, [LIFEBOAT_BIN, "repo", "init", "--repo", repo], { env });
      const backup = [
        "--json",
        "backup",
        "--source",
        `image:${image.path}`,
        "--repo",
        repo,
        "--state-dir",
        join(lane, "state"),
      ];
      const full = await cli(backup);
      record(setting, "full backup", full);
      await image.mutate();
      try {
        const base = (JSON.parse(full.stdout) as { point: { id: string } }).point.id;
        const incremental = await cli([...backup, "--changed-extents", image.extentsFile, "--base", base]);
        record(setting, "incremental with a change map", incremental);
        const point = (JSON.parse(incremental.stdout) as { point: { id: string } }).point.id;
        record(
          setting,
          "restore",
          await cli(["restore", "--repo", repo, "--point", point, "--to", join(lane, "restored.img")]),
        );
      } finally {
        await image.undo();
      }
    }
  }
  await rm(lane, { recursive: true, force: true });
  return [...samples.entries()].map(([key, list]) => {
    const [setting, step] = key.split("|") as [string, TrialStep];
    return {
      setting,
      step,
      wallS: median(list.map((m) => m.wallS)),
      userS: median(list.map((m) => m.userS)),
      sysS: median(list.map((m) => m.sysS)),
      peakRssMiB: median(list.map((m) => m.peakRssMiB)),
      runs: list.length,
    };
  });
}

/** Bundles the CLI with the esbuild that tsx brings (npm packages stay external); false if that fails. */
async function bundle(): Promise<boolean> {
  const esbuild = join(PROJECT_DIR, "node_modules", ".bin", "esbuild");
  try {
    await access(esbuild);
  } catch {
    return false;
  }
  const built = await run(esbuild, [
    join(PROJECT_DIR, "src", "cli", "main.ts"),
    "--bundle",
    "--platform=node",
    "--format=esm",
    "--target=node20",
    "--packages=external",
    `--outfile=${BUNDLE}`,
    "--log-level=error",
  ]);
  return built.code === 0;
}
