import { describe, expect, it } from "vitest";
import type { SimHost } from "../../../src/adapters/sim/sim-host.ts";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import { FaultySource } from "../../../src/adapters/sim/faulty-source.ts";
import { LifeboatError } from "../../../src/domain/errors.ts";
import type { RestorePoint } from "../../../src/domain/restore-point.ts";
import { SyncJob } from "../../../src/engine/sync-job.ts";
import { SyncRunner } from "../../../src/engine/sync-runner.ts";
import type { ObjectStore } from "../../../src/ports/object-store.ts";
import { CHUNK, chunkAllocationOf, chunksOf, mismatches, simWorld } from "../../helpers/sim-world.ts";

const DISK = "disk-0";

function chunksReadFrom(host: SimHost, snapshotId: string | undefined): Set<number> {
  const out = new Set<number>();
  for (const r of host.readLog) {
    if (r.snapshotId !== snapshotId || r.disk !== DISK) continue;
    for (let c = Math.floor(r.offset / CHUNK); c * CHUNK < r.offset + r.length; c++) out.add(c);
  }
  return out;
}

async function committedPoint(
  runner: SyncRunner,
  repo: { readPoint(s: string, n: number): Promise<RestorePoint> },
) {
  const attempt = await runner.tick();
  expect(attempt.outcome, String(attempt.error)).toBe("committed");
  const result = attempt.result as NonNullable<typeof attempt.result>;
  return { attempt, result, point: await repo.readPoint(result.point.source, result.point.seq) };
}

describe("sync engine on the simulated host", () => {
  it("reads only changed ∩ allocated chunks on an incremental (plus chunks whose allocation changed)", async () => {
    const { host, repo, deps } = await simWorld({ seed: 11 });
    const runner = new SyncRunner(deps);
    const disk = host.disk(DISK);
    const before = chunkAllocationOf(disk.captureAllocation(), disk.capacity);
    const full = await committedPoint(runner, repo);
    expect(full.result.mode).toBe("full");
    expect(chunksReadFrom(host, full.point.snapshotId)).toEqual(before.any);

    host.runWorkload(30_000);
    const written = chunksOf(host.writtenSinceLastSnapshot(DISK));
    const now = chunkAllocationOf(disk.captureAllocation(), disk.capacity);
    const inc = await committedPoint(runner, repo);
    expect(inc.result.mode).toBe("incremental");

    const mayDiffer = new Set([
      ...written,
      ...now.partial,
      ...before.partial,
      ...[...now.any].filter((c) => !before.any.has(c)),
    ]);
    const expected = new Set([...now.any].filter((c) => mayDiffer.has(c)));
    const read = chunksReadFrom(host, inc.point.snapshotId);
    expect(read).toEqual(expected);
    expect(inc.result.bytesRead).toBe(
      [...read].reduce((n, c) => n + Math.min(CHUNK, disk.capacity - c * CHUNK), 0),
    );
    expect(read.size).toBeLessThan(now.any.size / 2);
    expect(await mismatches(repo, host, inc.point)).toEqual([]);
    runner.stop();
  });

  it("resyncs after a tracker loss: reads every allocated chunk, records exactly the chunks whose content changed", async () => {
    const { host, repo, deps } = await simWorld({ seed: 12 });
    const runner = new SyncRunner(deps);
    const first = await committedPoint(runner, repo);
    host.runWorkload(20_000);
    host.uncleanReboot();
    const disk = host.disk(DISK);
    const allocated = chunkAllocationOf(disk.captureAllocation(), disk.capacity).any;
    const resync = await committedPoint(runner, repo);
    expect(resync.result.mode).toBe("resync");
    expect(resync.result.warnings.join("\n")).toMatch(/resynchronising by content hash/);
    expect(chunksReadFrom(host, resync.point.snapshotId)).toEqual(allocated);

    // Ground truth from the oracle: which chunk positions hold other bytes than in the first point.
    const a = host.oracle.expected(first.point.snapshotId, DISK);
    const b = host.oracle.expected(resync.point.snapshotId, DISK);
    const contentChanged = new Set<number>();
    for (let c = 0; c * CHUNK < disk.capacity; c++) {
      const len = Math.min(CHUNK, disk.capacity - c * CHUNK);
      if (!Buffer.from(a.read(c * CHUNK, len)).equals(b.read(c * CHUNK, len))) contentChanged.add(c);
    }
    const manifest = await repo.readDiskManifest(resync.point.disks[0]?.manifest as string);
    expect(manifest.kind).toBe("delta");
    expect(new Set(manifest.entries.keys())).toEqual(contentChanged);
    expect(resync.result.disks[0]?.chunksStored).toBeLessThanOrEqual(contentChanged.size);
    expect(await mismatches(repo, host, resync.point)).toEqual([]);
    runner.stop();
  });

  it("retries the same increment after a snapshot abort instead of resyncing, losing no change", async () => {
    const { host, repo, deps } = await simWorld({ seed: 13, diffAreaBytes: 2 * 1024 * 1024 });
    const source = new FaultySource(host);
    const runner = new SyncRunner({ ...deps, source });
    const first = await committedPoint(runner, repo);
    host.runWorkload(20_000);
    source.burstDuringNextTransfer(32 * 1024 * 1024);
    const aborted = await runner.tick();
    expect(aborted.outcome).toBe("aborted");
    expect((aborted.error as LifeboatError).code).toBe("SNAPSHOT_ABORTED");
    expect(await repo.latestPoint(host.name)).toMatchObject({ seq: first.point.seq });
    expect(host.liveSnapshots()).toHaveLength(0); // released

    const retry = await committedPoint(runner, repo);
    expect(retry.result.mode).toBe("incremental");
    expect(retry.point.seq).toBe(first.point.seq + 1);
    expect(await mismatches(repo, host, retry.point)).toEqual([]);
    expect(await mismatches(repo, host, first.point)).toEqual([]);
    runner.stop();
  });

  it("resumes an interrupted job without storing its chunks again", async () => {
    let failManifests = true;
    const inner = new MemoryStore();
    const flaky: ObjectStore = {
      put: (key, data, options) => {
        if (failManifests && key.startsWith("disks/")) {
          return Promise.reject(new LifeboatError("STORE_IO", `injected failure writing ${key}`));
        }
        return inner.put(key, data, options);
      },
      get: (key, range) => inner.get(key, range),
      head: (key) => inner.head(key),
      list: (prefix) => inner.list(prefix),
      delete: (key) => inner.delete(key),
    };
    const { host, repo, deps } = await simWorld({ seed: 14, writeRate: 0, store: flaky });
    const interrupted = new SyncJob(deps, { resumeEveryBytes: 256 * 1024 });
    await interrupted.snapshot();
    await interrupted.plan();
    const transferred = await interrupted.transfer();
    await expect(interrupted.commit()).rejects.toThrow(/injected failure/);
    await interrupted.release();
    expect(transferred.bytesStored).toBeGreaterThan(0);
    expect(await repo.latestPoint(host.name)).toBeUndefined();

    failManifests = false;
    const packsBefore = (await collect(inner.list("packs/"))).length;
    const resumed = new SyncJob(deps);
    await resumed.snapshot();
    await resumed.plan();
    const again = await resumed.transfer();
    await resumed.commit();
    await resumed.release();
    expect(again.bytesStored).toBe(0);
    expect((await collect(inner.list("packs/"))).length).toBe(packsBefore);
    expect(await mismatches(repo, host, await repo.readPoint(host.name, 1))).toEqual([]);
  });
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
