/**
 * Runtime settings that change no source file, tried on the CLI's full backup and restore: V8's
 * young-generation size (the full backup spends a quarter of its CPU in garbage collection) and
 * libuv's io_uring (which Node 20 ships switched off; UV_USE_IO_URING=1 turns it on). Each setting
 * gets a fresh repository per run; runs of the settings are interleaved so the shared machine's
 * noise falls on all of them alike. The figures back the proposals in docs/performance.md.
 */

import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { measure, runOrThrow } from "./measure.ts";
import { median } from "./stats.ts";
import { LIFEBOAT_BIN } from "./tools.ts";

export interface Setting {
  readonly name: string;
  readonly env: Record<string, string>;
  readonly nodeFlags: readonly string[];
}

export const SETTINGS: readonly Setting[] = [
  { name: "as shipped", env: {}, nodeFlags: [] },
  { name: "node --max-semi-space-size=64", env: {}, nodeFlags: ["--max-semi-space-size=64"] },
  { name: "UV_USE_IO_URING=1 (libuv io_uring on)", env: { UV_USE_IO_URING: "1" }, nodeFlags: [] },
];

export interface SettingFigures {
  readonly setting: string;
  readonly step: "full backup" | "restore";
  readonly wallS: number;
  readonly userS: number;
  readonly sysS: number;
  readonly peakRssMiB: number;
  readonly runs: number;
}

export async function trySettings(image: string, dir: string, runs: number): Promise<SettingFigures[]> {
  const samples = new Map<
    string,
    Array<{ wallS: number; userS: number; sysS: number; peakRssMiB: number }>
  >();
  const record = (key: string, m: { wallS: number; userS: number; sysS: number; peakRssMiB: number }) =>
    samples.set(key, [...(samples.get(key) ?? []), m]);
  for (let r = 0; r < runs; r++) {
    for (const setting of SETTINGS) {
      const lane = join(dir, "settings");
      await rm(lane, { recursive: true, force: true });
      await mkdir(lane, { recursive: true });
      const env = { ...process.env, ...setting.env, LIFEBOAT_PASSWORD: "lifeboat-bench-passphrase" };
      const cli = (args: string[]) => ({
        command: process.execPath,
        args: [...setting.nodeFlags, LIFEBOAT_BIN, ...args],
        env,
      });
      const repo = join(lane, "repo");
      await runOrThrow(process.execPath, [LIFEBOAT_BIN, "repo", "init", "--repo", repo], { env });
      const backup = await measure(
        cli([
          "--json",
          "backup",
          "--source",
          `image:${image}`,
          "--repo",
          repo,
          "--state-dir",
          join(lane, "state"),
        ]),
      );
      record(`${setting.name}|full backup`, backup);
      const point = (JSON.parse(backup.stdout) as { point: { id: string } }).point.id;
      record(
        `${setting.name}|restore`,
        await measure(cli(["restore", "--repo", repo, "--point", point, "--to", join(lane, "restored.img")])),
      );
    }
  }
  await rm(join(dir, "settings"), { recursive: true, force: true });
  return [...samples.entries()].map(([key, list]) => {
    const [setting, step] = key.split("|") as [string, SettingFigures["step"]];
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
