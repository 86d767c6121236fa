/**
 * The engine's own knobs, tried through its API (syncOnce, as the CLI's backup does) on the image:
 * the resume checkpoint that flushes the pack writer every 64 MiB stored (draining the pipeline
 * while every pack put and fsync completes), and the number of reads in flight. Fresh repository
 * per run, variants interleaved, medians. Backs the proposals in docs/performance.md.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { ImageSource } from "../src/adapters/image/image-source.ts";
import { MemoryStateStore } from "../src/adapters/state-memory/memory-state-store.ts";
import { FsStore } from "../src/adapters/store-fs/fs-store.ts";
import { systemClock } from "../src/adapters/system/system-clock.ts";
import { Repository } from "../src/engine/repository/repository.ts";
import type { SyncJobOptions } from "../src/engine/sync-job.ts";
import { syncOnce } from "../src/engine/sync-runner.ts";
import { silentLog } from "../src/ports/log.ts";
import { median } from "./stats.ts";

export interface KnobFigures {
  readonly variant: string;
  readonly wallS: number;
  readonly cpuS: number;
  readonly runs: number;
}

const VARIANTS: ReadonlyArray<{ name: string; options: SyncJobOptions }> = [
  { name: "as configured (resume checkpoint every 64 MiB stored, 4 reads in flight)", options: {} },
  { name: "resume checkpoint every 1 TiB (no pipeline drains)", options: { resumeEveryBytes: 2 ** 40 } },
  { name: "16 reads in flight", options: { readsInFlight: 16 } },
];

export async function tryEngineKnobs(image: string, dir: string, runs: number): Promise<KnobFigures[]> {
  const walls = VARIANTS.map(() => [] as number[]);
  const cpus = VARIANTS.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) {
    for (const [i, variant] of VARIANTS.entries()) {
      const root = await mkdtemp(join(dir, "knobs-"));
      try {
        const repo = await Repository.init(await FsStore.create(root), {
          encryption: "aes-256-gcm",
          password: "lifeboat-bench-passphrase",
        });
        const source = await ImageSource.open(image);
        const deps = { repo, source, clock: systemClock, log: silentLog, state: new MemoryStateStore() };
        const cpu = process.cpuUsage();
        const started = performance.now();
        await syncOnce(deps, variant.options);
        walls[i]?.push((performance.now() - started) / 1000);
        const used = process.cpuUsage(cpu);
        cpus[i]?.push((used.user + used.system) / 1e6);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    }
  }
  return VARIANTS.map((v, i) => ({
    variant: v.name,
    wallS: median(walls[i] ?? []),
    cpuS: median(cpus[i] ?? []),
    runs: walls[i]?.length ?? 0,
  }));
}
