/**
 * Does `--cpu-limit` hold? Syncs a synthetic disk into an encrypted repository on the local disk
 * through CpuLimitedSource and reports the process's average CPU use as a share of the whole
 * machine (Task Manager's view), over the whole sync and over its 5-second windows.
 *
 *   npx tsx bench/cpu-limit.ts [--limit 30[,10…]] [--seconds 60]
 *
 * A short unthrottled calibration sync measures the CPU cost per MiB and the job's own demand first,
 * so each limited sync lasts about `--seconds`. A limit above the demand does not bind (the job
 * simply runs at its demand, e.g. on a machine busy with other work): the table says so. The repository lives in /dev/shm when there is one: on a disk, fsync
 * waits keep the job below any sensible limit and there would be nothing for the limiter to hold.
 * Not part of pass/fail.
 */

import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { FsStore } from "../src/adapters/store-fs/fs-store.ts";
import { systemClock } from "../src/adapters/system/system-clock.ts";
import type { BlockMap } from "../src/domain/block-map.ts";
import type { Disk } from "../src/domain/disk.ts";
import type { ChangeReset } from "../src/domain/snapshot.ts";
import { Repository } from "../src/engine/repository/repository.ts";
import { syncOnce } from "../src/engine/sync-runner.ts";
import { CpuLimitedSource } from "../src/engine/throttle/cpu-limited-source.ts";
import { silentLog } from "../src/ports/log.ts";
import type { Source, SourceSnapshot } from "../src/ports/source.ts";

const MiB = 1024 * 1024;
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
};

/**
 * Every 64 KiB block unique (no dedup) and hex text of random bytes (it compresses to about half):
 * hashing, zstd and AES-GCM all have real work, as with database pages or logs.
 */
class SyntheticDisk implements Source {
  readonly #pool = Buffer.from(randomBytes(4 * MiB).toString("hex"));

  constructor(
    readonly name: string,
    readonly capacity: number,
  ) {}

  async describe(): Promise<readonly Disk[]> {
    return [{ id: "disk0", capacity: this.capacity, sectorSize: 512 }];
  }

  async openSnapshot(): Promise<SourceSnapshot> {
    const disks = await this.describe();
    const block = (offset: number, length: number): Uint8Array => {
      const out = Buffer.alloc(length);
      const at = ((offset / 512) * 7919) % (this.#pool.length - length);
      this.#pool.copy(out, 0, at, at + length);
      out.writeDoubleLE(offset, 0);
      return out;
    };
    return {
      id: `${this.name}-snap`,
      takenAt: Date.now(),
      consistency: "crash",
      disks,
      warnings: [],
      read: async (_disk, offset, length) => block(offset, length),
      allocation: async (): Promise<BlockMap | null> => null,
      changes: async (): Promise<ChangeReset> => ({ kind: "reset", reason: "synthetic" }),
      token: () => null,
      abortReason: () => undefined,
      release: async () => undefined,
    };
  }
}

async function sync(
  repo: Repository,
  source: Source,
): Promise<{ wallMs: number; cpuMs: number; bytes: number; windows: number[] }> {
  const cores = availableParallelism();
  const windows: number[] = [];
  let last = { t: performance.now(), c: cpuMs() };
  const sampler = setInterval(() => {
    const now = { t: performance.now(), c: cpuMs() };
    windows.push(((now.c - last.c) / (now.t - last.t) / cores) * 100);
    last = now;
  }, 5000);
  const start = { t: performance.now(), c: cpuMs() };
  try {
    const result = await syncOnce({ repo, source, clock: systemClock, log: silentLog });
    return {
      wallMs: performance.now() - start.t,
      cpuMs: cpuMs() - start.c,
      bytes: result.bytesRead,
      windows,
    };
  } finally {
    clearInterval(sampler);
  }
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const limits = arg("limit", "30").split(",").map(Number);
const seconds = Number(arg("seconds", "60"));
const cores = availableParallelism();
const dir = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "lifeboat-cpu-bench-"));
try {
  const repo = await Repository.init(await FsStore.create(join(dir, "repo")), {
    encryption: "aes-256-gcm",
    password: createHash("sha256").update(dir).digest("hex"),
  });
  const calibration = await sync(repo, new SyntheticDisk("calibration", 256 * MiB));
  const cpuPerMiB = calibration.cpuMs / (calibration.bytes / MiB);
  const demand = (calibration.cpuMs / calibration.wallMs / cores) * 100;
  const rows: Array<[string, string]> = [
    ["machine", `${cores} logical CPUs, Node ${process.version}, load average ${loadavg()[0]?.toFixed(1)}`],
    ["repository", dir],
    [
      "calibration (no limit)",
      `${(calibration.bytes / MiB).toFixed(0)} MiB in ${(calibration.wallMs / 1000).toFixed(1)} s, ${cpuPerMiB.toFixed(1)} CPU-ms/MiB, demand ${demand.toFixed(1)} % of the machine`,
    ],
  ];
  for (const limit of limits) {
    const mib = Math.max(
      64,
      Math.round(((Math.min(limit, demand) / 100) * cores * seconds * 1000) / cpuPerMiB),
    );
    const source = new CpuLimitedSource(new SyntheticDisk(`limited-${limit}`, mib * MiB), {
      limitPercent: limit,
    });
    const measured = await sync(repo, source);
    const average = (measured.cpuMs / measured.wallMs / cores) * 100;
    const full = measured.windows.slice(0, -1);
    rows.push(
      [
        `limit ${limit} %: sync`,
        `${mib} MiB in ${(measured.wallMs / 1000).toFixed(1)} s (${(measured.bytes / MiB / (measured.wallMs / 1000)).toFixed(1)} MiB/s), waits ${(source.pacer.sleptMs / 1000).toFixed(1)} s summed over the reads in flight`,
      ],
      [
        `limit ${limit} %: measured`,
        `${average.toFixed(1)} % of the machine, ${(average - limit).toFixed(1)} points off${limit > demand ? " (above the demand: the limit does not bind)" : ""}`,
      ],
      [
        `limit ${limit} %: 5 s windows`,
        full.length === 0
          ? "-"
          : `min ${Math.min(...full).toFixed(1)} %, max ${Math.max(...full).toFixed(1)} %`,
      ],
    );
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
