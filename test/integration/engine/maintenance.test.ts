import { describe, expect, it } from "vitest";
import { SimHost } from "../../../src/adapters/sim/sim-host.ts";
import { MemoryStateStore } from "../../../src/adapters/state-memory/memory-state-store.ts";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import { applyRetention } from "../../../src/domain/retention.ts";
import type { RestorePoint } from "../../../src/domain/restore-point.ts";
import { runMaintenance } from "../../../src/engine/maintenance/maintenance.ts";
import type { MaintenanceSafety } from "../../../src/engine/maintenance/safety.ts";
import { packKey } from "../../../src/engine/repository/object-keys.ts";
import { Repository } from "../../../src/engine/repository/repository.ts";
import { SyncJob } from "../../../src/engine/sync-job.ts";
import { SyncRunner } from "../../../src/engine/sync-runner.ts";
import type { ObjectStore } from "../../../src/ports/object-store.ts";
import { silentLog } from "../../../src/ports/log.ts";
import { mismatches } from "../../helpers/sim-world.ts";

const SAFETY: MaintenanceSafety = {
  graceMs: 60_000,
  pinTtlMs: 10 * 24 * 3600_000,
  clockSkewMs: 0,
  maxRunMs: 3600_000,
  leaseTtlMs: 3600_000,
};

async function keys(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const { key } of store.list(prefix)) out.push(key);
  return out;
}

async function protect(host: SimHost, repo: Repository, syncs: number): Promise<void> {
  const runner = new SyncRunner({
    repo,
    source: host,
    clock: host.clock,
    log: silentLog,
    state: new MemoryStateStore(),
  });
  for (let i = 0; i < syncs; i++) {
    host.runWorkload(20_000);
    const attempt = await runner.tick();
    expect(attempt.outcome, String(attempt.error)).toBe("committed");
  }
  runner.stop();
}

describe("prune and garbage collection", () => {
  it("removes exactly the unreferenced objects after the grace period, and every retained point restores bit-exact", async () => {
    const store = new MemoryStore();
    const repo = await Repository.init(store, { encryption: "none" });
    const hosts = [
      new SimHost({ seed: 1, name: "alpha", disks: 1, diskSize: 4 << 20, writeRate: 64 << 10 }),
      new SimHost({ seed: 2, name: "beta", disks: 2, diskSize: 4 << 20, writeRate: 64 << 10 }),
    ];
    for (const h of hosts) await protect(h, repo, 6);
    const clock = hosts[0]?.clock as SimHost["clock"];
    const retain = (_: string, points: readonly RestorePoint[]) =>
      applyRetention(points, { keepLast: 2 }).keep;

    // What the retained points need, computed before anything is deleted.
    const all = await repo.listPoints();
    const kept = all.filter((p) => p.seq >= 5);
    const needed = new Set<string>();
    for (const p of kept)
      for (const d of p.disks)
        for (const [, ref] of (await repo.resolveDiskMap(p, d.disk)).entries()) needed.add(packKey(ref.pack));
    const doomedManifests = all.filter((p) => p.seq < 5).flatMap((p) => p.disks.map((d) => d.manifest));

    const first = await runMaintenance(repo, { clock, log: silentLog, retain, safety: SAFETY });
    expect([...first.pointsDeleted].sort()).toEqual([
      "alpha@1",
      "alpha@2",
      "alpha@3",
      "alpha@4",
      "beta@1",
      "beta@2",
      "beta@3",
      "beta@4",
    ]);
    expect(first.indexCheckpointsWritten).toBe(3); // alpha@5, beta@5 ×2 disks: their chains ran through pruned points
    expect(first.objectsDeleted).toEqual([]); // the grace period has not passed
    expect(first.candidates).toBeGreaterThan(0);

    const packsBefore = await keys(store, "packs/");
    clock.advance(SAFETY.graceMs + 1);
    const second = await runMaintenance(repo, { clock, log: silentLog, retain, safety: SAFETY });
    const expected = [...packsBefore.filter((k) => !needed.has(k)), ...doomedManifests].sort();
    expect([...second.objectsDeleted].sort()).toEqual(expected);
    expect(second.candidates).toBe(0);

    for (const p of await repo.listPoints()) {
      const host = hosts.find((h) => h.name === p.source) as SimHost;
      expect(await mismatches(repo, host, p)).toEqual([]);
    }
    // The next sync builds on a pruned chain.
    await protect(hosts[0] as SimHost, repo, 1);
    const next = (await repo.latestPoint("alpha")) as RestorePoint;
    expect(next.disks[0]?.mode).toBe("incremental");
    expect(await mismatches(repo, hosts[0] as SimHost, next)).toEqual([]);
  });

  it("never takes what a running backup needs, with prune and GC at every await point of the job", async () => {
    const store = new MemoryStore();
    const repo = await Repository.init(store, { encryption: "none" });
    const host = new SimHost({ seed: 3, name: "alpha", disks: 1, diskSize: 4 << 20, writeRate: 64 << 10 });
    await protect(host, repo, 3);
    host.runWorkload(30_000);

    // Every store operation of the job first lets a maintenance run through, with the clock past
    // the grace period, told to keep nothing: only the pin and the newest-point rule stand between
    // it and the job's base and new packs.
    let runs = 0;
    const maintain = async () => {
      host.clock.advance(SAFETY.graceMs + 1);
      await runMaintenance(repo, {
        clock: host.clock,
        log: silentLog,
        retain: () => new Set(),
        safety: SAFETY,
      });
      runs++;
    };
    const interleaved: ObjectStore = {
      put: async (k, d, o) => (await maintain(), store.put(k, d, o)),
      get: async (k, r) => (await maintain(), store.get(k, r)),
      head: async (k) => (await maintain(), store.head(k)),
      list: (p) => store.list(p),
      delete: async (k) => (await maintain(), store.delete(k)),
    };
    const jobRepo = await Repository.open(interleaved);
    const job = new SyncJob(
      { repo: jobRepo, source: host, clock: host.clock, log: silentLog, state: new MemoryStateStore() },
      { resumeEveryBytes: 64 << 10 },
    );
    await job.snapshot();
    await maintain();
    await job.plan();
    await maintain();
    await job.transfer();
    await maintain();
    await job.commit();
    await job.release();
    expect(runs).toBeGreaterThan(10);
    const point = await repo.readPoint("alpha", 4);
    expect(await mismatches(repo, host, point)).toEqual([]);
  });
});
