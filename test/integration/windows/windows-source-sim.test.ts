/**
 * The Windows adapter, unchanged, above a simulated host behind the native boundary: every byte it
 * reads, every bitmap, layout and tracker answer goes through the Win32 byte layouts. Each
 * committed point is restored and compared with the simulator's own copy of its snapshot.
 */

import { describe, expect, it } from "vitest";
import { MemoryStateStore } from "../../../src/adapters/state-memory/memory-state-store.ts";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import { simulatedNative } from "../../../src/adapters/windows-vss/simulated/sim-native.ts";
import { SimWindowsHost } from "../../../src/adapters/windows-vss/simulated/sim-windows-host.ts";
import { WindowsSource } from "../../../src/adapters/windows-vss/windows-source.ts";
import { isLifeboatError, type LifeboatError } from "../../../src/domain/errors.ts";
import { Repository } from "../../../src/engine/repository/repository.ts";
import { SyncRunner } from "../../../src/engine/sync-runner.ts";
import { silentLog } from "../../../src/ports/log.ts";

const MiB = 1024 * 1024;

async function world(options: { trackingDriver?: boolean } = {}) {
  const sim = new SimWindowsHost({
    seed: 7,
    disks: 2,
    diskSize: 16 * MiB,
    writeRate: 8 * 1024,
    diffAreaBytes: 4 * MiB,
    ...options,
  });
  const source = new WindowsSource({ name: "win-sim", native: simulatedNative(sim), log: silentLog });
  const repo = await Repository.init(new MemoryStore(), { encryption: "none" });
  const runner = new SyncRunner({
    repo,
    source,
    clock: sim.host.clock,
    log: silentLog,
    state: new MemoryStateStore(),
  });
  const tick = async () => {
    sim.host.runWorkload(60_000);
    const attempt = await runner.tick();
    if (attempt.result !== undefined) {
      const point = await repo.readPoint(attempt.result.point.source, attempt.result.point.seq);
      expect(await sim.mismatch(repo, point)).toBeUndefined();
    }
    return attempt;
  };
  return { sim, source, repo, runner, tick };
}

describe("the Windows adapter on a simulated host", () => {
  it("names disks by MBR signature and flags the one holding Windows as the boot disk", async () => {
    const { source, sim } = await world();
    const disks = await source.describe();
    expect(disks.map((d) => d.id)).toEqual(
      sim.disks.map((d) => `mbr-${d.signature.toString(16).padStart(8, "0")}`),
    );
    expect(disks[0]?.flags).toContain("boot");
    expect(disks[1]?.flags).not.toContain("boot");
  });

  it("syncs full, then incremental from the tracking driver, every point bit-exact", async () => {
    const { tick, runner } = await world();
    const full = await tick();
    expect(full).toMatchObject({ outcome: "committed", mode: "full" });
    const incremental = await tick();
    expect(incremental).toMatchObject({ outcome: "committed", mode: "incremental" });
    expect(incremental.bytesRead).toBeLessThan(full.bytesRead / 4);
    runner.stop();
  });

  it("turns a shadow copy deleted under write pressure into SNAPSHOT_ABORTED (154000, VolSnap 25) and retries the increment", async () => {
    const { tick, sim, runner } = await world();
    await tick();
    sim.abortDuringNextSnapshot(16 * MiB);
    const aborted = await tick();
    expect(aborted.outcome).toBe("aborted");
    expect(isLifeboatError(aborted.error, "SNAPSHOT_ABORTED")).toBe(true);
    const error = aborted.error as LifeboatError;
    expect(error.legacyCode).toBe(154000);
    expect(error.message).toMatch(
      /VolSnap event 25: Volume [CD]: shadow copy has been aborted due to the diff area file not growing in time/,
    );
    expect(error.remedy).toMatch(/Reduce write I\/O.*vssadmin add shadowstorage/);
    expect(sim.host.liveSnapshots()).toEqual([]);
    // The tracker kept every change since the last committed point: the retry is incremental.
    const retry = await tick();
    expect(retry).toMatchObject({ outcome: "committed", mode: "incremental" });
    runner.stop();
  });

  it("resyncs by content hash, with a warning, after an unclean reboot lost the tracker's history", async () => {
    const { tick, sim, runner } = await world();
    await tick();
    sim.uncleanReboot();
    const after = await tick();
    expect(after).toMatchObject({ outcome: "committed", mode: "resync" });
    expect(after.result?.warnings.join("\n")).toMatch(/history was lost \(unclean shutdown\)/);
    expect(await tick()).toMatchObject({ outcome: "committed", mode: "incremental" });
    runner.stop();
  });

  it("maps a failed snapshot set to SNAPSHOT_FAILED (153315) with the VolSnap cause and the seeds' remedy", async () => {
    const { tick, sim, runner } = await world();
    sim.failNextSnapshot({ step: "DoSnapshotSet", hresult: 0x8004231f, volSnapEvent: 23 });
    const failed = await tick();
    const error = failed.error as LifeboatError;
    expect(error.code).toBe("SNAPSHOT_FAILED");
    expect(error.legacyCode).toBe(153315);
    expect(error.message).toMatch(
      /DoSnapshotSet failed with 0x8004231f.*VolSnap event 23: Cannot create volume C: shadow copy due to insufficient disk space/,
    );
    expect(error.remedy).toMatch(/keep ≥ 10 % free/);
    sim.failNextSnapshot({ step: "DoSnapshotSet", hresult: 0x80042316 });
    const conflict = await tick();
    expect((conflict.error as LifeboatError).remedy).toMatch(/Acronis, Veeam, Veritas, Commvault/);
    runner.stop();
  });

  it("resyncs every time, with a warning, when no tracking driver is installed", async () => {
    const { tick, runner } = await world({ trackingDriver: false });
    await tick();
    const second = await tick();
    expect(second).toMatchObject({ outcome: "committed", mode: "resync" });
    expect(second.result?.warnings.join("\n")).toMatch(/no change-tracking driver answers/);
    runner.stop();
  });
});
