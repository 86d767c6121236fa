/**
 * Item 2 of issue 9, in process: the engine (syncOnce) on simulated hosts (SimHost) writing into a
 * real local repository (FsStore). The simulator keeps its disks in memory as 64 KiB pages, so the
 * disks are sparse with little written data, and the simulator's own memory (its page arrays, and
 * the copy each snapshot and the oracle hold) is measured separately so the engine's share shows.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { METADATA_BYTES, SimHost } from "../src/adapters/sim/index.ts";
import { MemoryStateStore } from "../src/adapters/state-memory/memory-state-store.ts";
import { FsStore } from "../src/adapters/store-fs/fs-store.ts";
import { BlockMap } from "../src/domain/block-map.ts";
import { LifeboatError } from "../src/domain/errors.ts";
import { Repository } from "../src/engine/repository/repository.ts";
import { syncOnce } from "../src/engine/sync-runner.ts";
import type { SyncResult } from "../src/engine/sync-job.ts";
import { silentLog } from "../src/ports/log.ts";
import { meter, type Phase, settledRssMiB } from "./phase-meter.ts";
import { TimedSource } from "./timed-source.ts";

const CHUNK = 64 * 1024;

export interface SyncPhase extends Phase {
  /** Seconds spent inside the simulator (snapshot capture, oracle, page copies): not the engine's. */
  readonly simulatorS: number;
  readonly bytesRead: number;
  readonly bytesStored: number;
  readonly mode: string;
}

export interface HostSpec {
  readonly disks: number;
  readonly capacity: number;
  /** Bytes of file data written to each disk before the first snapshot. */
  readonly dataBytes: number;
}

/** A host whose disks are sparse: `dataBytes` of files each, no background writes. */
export function sparseHost(name: string, seed: number, spec: HostSpec): SimHost {
  return new SimHost({
    seed,
    name,
    disks: spec.disks,
    diskSize: spec.capacity,
    writeRate: 0,
    initialFill: (METADATA_BYTES + spec.dataBytes) / spec.capacity,
    workload: { hotFiles: 0 },
  });
}

export async function withRepository<T>(work: (repo: Repository) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(process.env.LIFEBOAT_BENCH_WORK ?? "/tmp", "scale-repo-"));
  try {
    const repo = await Repository.init(await FsStore.create(dir), {
      encryption: "aes-256-gcm",
      password: "lifeboat-bench-passphrase",
    });
    return await work(repo);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A simulated host and what the engine needs to sync it again and again. */
export interface Protected {
  readonly host: SimHost;
  readonly source: TimedSource;
  readonly state: MemoryStateStore;
}

export function protect(host: SimHost): Protected {
  return { host, source: new TimedSource(host), state: new MemoryStateStore() };
}

/** One sync, metered; the oracle keeps only the newest snapshot (it would grow per point). */
export async function meteredSync(repo: Repository, target: Protected): Promise<SyncPhase> {
  const inside = target.source.insideNs;
  const { phase, value } = await meter(() => sync(repo, target));
  return {
    ...phase,
    simulatorS: target.source.secondsSince(inside),
    bytesRead: value.bytesRead,
    bytesStored: value.bytesStored,
    mode: value.mode,
  };
}

/** One sync with the oracle pruned to the point just committed. */
export async function sync(repo: Repository, target: Protected): Promise<SyncResult> {
  const { host, source, state } = target;
  const result = await syncOnce({ repo, source, clock: host.clock, log: silentLog, state });
  const keep = (await repo.readPoint(host.name, result.point.seq)).snapshotId;
  for (let seq = 1; seq < result.point.seq; seq++) {
    const old = await repo.readPoint(host.name, seq);
    if (old.snapshotId !== keep) host.oracle.drop(old.snapshotId);
  }
  return result;
}

/**
 * Proves the newest point restores bit-exact: every chunk with an allocated cluster matches the
 * simulator's oracle, and the point holds no chunk anywhere else (so the rest restores as zeros).
 */
export async function verifyLatest(repo: Repository, host: SimHost): Promise<void> {
  const point = await repo.latestPoint(host.name);
  if (point === undefined) throw new LifeboatError("VERIFY_FAILED", `${host.name} has no point`);
  for (const d of point.disks) {
    const map = await repo.resolveDiskMap(point, d.disk);
    const expected = host.oracle.expected(point.snapshotId, d.disk);
    const clusters = host.disk(d.disk).captureAllocation();
    const allocated = BlockMap.fromExtents(CHUNK, d.capacity, clusters.extents(d.capacity));
    for (const [index] of map.entries()) {
      if (!allocated.has(index)) throw mismatch(host, d.disk, index, "a chunk outside the allocated area");
    }
    for (const index of allocated.indexes()) {
      const offset = index * CHUNK;
      const want = Buffer.from(expected.read(offset, Math.min(CHUNK, d.capacity - offset)));
      const ref = map.get(index);
      const got = ref === undefined ? Buffer.alloc(want.length) : Buffer.from(await repo.readChunk(ref));
      if (!got.equals(want)) throw mismatch(host, d.disk, index, "bytes differ from the snapshot");
    }
  }
}

function mismatch(host: SimHost, disk: string, index: number, what: string): LifeboatError {
  return new LifeboatError("VERIFY_FAILED", `${host.name}/${disk} chunk ${index}: ${what}`);
}

/**
 * What one extra snapshot of every host costs the simulator (its captured page arrays and the
 * oracle's copies): memory that shows up inside every sync but is not the engine's.
 */
export async function snapshotOverheadMiB(hosts: readonly SimHost[]): Promise<number> {
  const before = settledRssMiB();
  const snapshots = [];
  for (const host of hosts) {
    const ids = (await host.describe()).map((d) => d.id);
    snapshots.push({ host, snapshot: await host.openSnapshot(ids) });
  }
  const during = settledRssMiB();
  for (const { host, snapshot } of snapshots) {
    await snapshot.release();
    host.oracle.drop(snapshot.id);
  }
  return Math.max(0, during - before);
}
