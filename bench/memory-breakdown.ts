/**
 * Where a CLI command's memory goes: each command runs once with bench/memory-probe.js preloaded,
 * which records the peaks of RSS, the V8 heap and the buffers outside it (ArrayBuffers: chunk,
 * pack and zstd buffers). Start-up alone (`--help`) is the floor every command pays.
 */

import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { measure, runOrThrow } from "./measure.ts";
import { BENCH_DIR } from "./options.ts";
import { LIFEBOAT_BIN } from "./tools.ts";

export interface MemoryPeaks {
  readonly command: string;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly heapTotalMiB: number;
  readonly arrayBuffersMiB: number;
}

const MiB = 1024 * 1024;

export async function memoryBreakdown(image: string, dir: string): Promise<MemoryPeaks[]> {
  const lane = join(dir, "memory");
  await rm(lane, { recursive: true, force: true });
  await mkdir(lane, { recursive: true });
  const env = { ...process.env, LIFEBOAT_PASSWORD: "lifeboat-bench-passphrase" };
  const repo = join(lane, "repo");
  await runOrThrow(process.execPath, [LIFEBOAT_BIN, "repo", "init", "--repo", repo], { env });
  const out: MemoryPeaks[] = [];
  let point = "";
  const commands: Array<[string, () => string[]]> = [
    ["start-up only (--help)", () => ["--help"]],
    [
      "full backup",
      () => [
        "--json",
        "backup",
        "--source",
        `image:${image}`,
        "--repo",
        repo,
        "--state-dir",
        join(lane, "state"),
      ],
    ],
    ["restore", () => ["restore", "--repo", repo, "--point", point, "--to", join(lane, "restored.img")]],
  ];
  for (const [name, args] of commands) {
    const file = join(lane, "peaks.json");
    const m = await measure({
      command: process.execPath,
      args: ["--import", join(BENCH_DIR, "memory-probe.js"), LIFEBOAT_BIN, ...args()],
      env: { ...env, LIFEBOAT_BENCH_MEMORY_OUT: file },
    });
    if (name === "full backup") point = (JSON.parse(m.stdout) as { point: { id: string } }).point.id;
    const peaks = JSON.parse(await readFile(file, "utf8")) as Record<string, number>;
    out.push({
      command: name,
      rssMiB: (peaks.maxRss ?? Number.NaN) / MiB,
      heapUsedMiB: (peaks.heapUsed ?? Number.NaN) / MiB,
      heapTotalMiB: (peaks.heapTotal ?? Number.NaN) / MiB,
      arrayBuffersMiB: (peaks.arrayBuffers ?? Number.NaN) / MiB,
    });
  }
  await rm(lane, { recursive: true, force: true });
  return out;
}
