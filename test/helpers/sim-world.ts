/** A simulated host wired to an in-memory repository, for engine tests. */

import { MemoryTarget } from "../../src/adapters/memory-target/memory-target.ts";
import { SimHost, type SimHostOptions } from "../../src/adapters/sim/sim-host.ts";
import { MemoryStateStore } from "../../src/adapters/state-memory/memory-state-store.ts";
import { MemoryStore } from "../../src/adapters/store-memory/memory-store.ts";
import { BlockMap } from "../../src/domain/block-map.ts";
import type { RestorePoint } from "../../src/domain/restore-point.ts";
import { Repository } from "../../src/engine/repository/repository.ts";
import { restoreDisk } from "../../src/engine/restore.ts";
import { silentLog } from "../../src/ports/log.ts";
import type { ObjectStore } from "../../src/ports/object-store.ts";

export const CHUNK = 64 * 1024;

export async function simWorld(options: Partial<SimHostOptions> & { seed: number; store?: ObjectStore }) {
  const host = new SimHost({ disks: 1, diskSize: 8 * 1024 * 1024, writeRate: 64 * 1024, ...options });
  const store = options.store ?? new MemoryStore();
  const repo = await Repository.init(store, { encryption: "aes-256-gcm", password: "pw", kdfCost: 2 ** 10 });
  const state = new MemoryStateStore();
  return { host, repo, store, state, deps: { repo, source: host, clock: host.clock, log: silentLog, state } };
}

/** Restores every disk of a point and compares it with the simulator's oracle; returns mismatching disks. */
export async function mismatches(repo: Repository, host: SimHost, point: RestorePoint): Promise<string[]> {
  const bad: string[] = [];
  for (const disk of point.disks) {
    const target = new MemoryTarget(disk.capacity);
    await restoreDisk(repo, point, disk.disk, target, { targetIsZeroed: true });
    const expected = host.oracle.expected(point.snapshotId, disk.disk);
    const got = Buffer.from(await target.read(0, disk.capacity));
    if (expected.capacity !== disk.capacity || !got.equals(expected.read(0, disk.capacity)))
      bad.push(disk.disk);
  }
  return bad;
}

/** Chunks with any allocated cluster, and those not wholly allocated — computed from clusters directly. */
export function chunkAllocationOf(
  clusters: BlockMap,
  capacity: number,
): { any: Set<number>; partial: Set<number> } {
  const perChunk = CHUNK / clusters.grain;
  const any = new Set<number>();
  const partial = new Set<number>();
  for (let chunk = 0; chunk * CHUNK < capacity; chunk++) {
    let n = 0;
    for (let c = chunk * perChunk; c < (chunk + 1) * perChunk; c++) if (clusters.has(c)) n++;
    if (n > 0) any.add(chunk);
    if (n > 0 && n < perChunk) partial.add(chunk);
  }
  return { any, partial };
}

export function chunksOf(map: BlockMap): Set<number> {
  return new Set(BlockMap.fromExtents(CHUNK, map.blocks * map.grain, map.extents()).indexes());
}
