import { describe, expect, it } from "vitest";
import { SimHost } from "../../../src/adapters/sim/sim-host.ts";
import { MemoryStateStore } from "../../../src/adapters/state-memory/memory-state-store.ts";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import type { RestorePoint } from "../../../src/domain/restore-point.ts";
import { packKey } from "../../../src/engine/repository/object-keys.ts";
import { Repository } from "../../../src/engine/repository/repository.ts";
import { SyncRunner } from "../../../src/engine/sync-runner.ts";
import { verifyRepository } from "../../../src/engine/verify.ts";
import { silentLog } from "../../../src/ports/log.ts";
import { mismatches } from "../../helpers/sim-world.ts";

describe("self-heal", () => {
  it("quarantines a damaged chunk found by verify, and the next incremental stores it again", async () => {
    const store = new MemoryStore();
    const repo = await Repository.init(store, {
      encryption: "aes-256-gcm",
      password: "pw",
      kdfCost: 2 ** 10,
    });
    const host = new SimHost({ seed: 21, disks: 1, diskSize: 4 << 20, writeRate: 16 << 10 });
    const runner = new SyncRunner({
      repo,
      source: host,
      clock: host.clock,
      log: silentLog,
      state: new MemoryStateStore(),
    });
    expect((await runner.tick()).outcome).toBe("committed");
    const first = (await repo.latestPoint(host.name)) as RestorePoint;

    // Flip one byte inside a chunk the point references: bit rot on the storage.
    const [, victim] = (await repo.resolveDiskMap(first, "disk-0")).entries()[3] as [
      number,
      { pack: string; offset: number; length: number },
    ];
    const pack = Buffer.from(store.rawGet(packKey(victim.pack)) as Uint8Array);
    pack[victim.offset + victim.length - 20] = (pack[victim.offset + victim.length - 20] as number) ^ 0x40;
    store.rawPut(packKey(victim.pack), pack);

    const report = await verifyRepository(repo, { full: true, quarantine: true });
    expect(report.problems.map((p) => p.code)).toEqual(["OBJECT_CORRUPT"]);
    expect(report.quarantined).toBe(1);

    host.runWorkload(5_000);
    const heal = await runner.tick();
    expect(heal.outcome).toBe("committed");
    expect(heal.result?.mode).toBe("incremental");
    expect(heal.result?.warnings.join()).toMatch(/re-reading 1 chunks whose stored copy was found damaged/);
    const healed = (await repo.latestPoint(host.name)) as RestorePoint;
    expect(await mismatches(repo, host, healed)).toEqual([]);
    const after = await verifyRepository(repo, { point: { source: host.name, seq: healed.seq }, full: true });
    expect(after.problems).toEqual([]);
    runner.stop();
  });
});
