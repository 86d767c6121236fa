import { describe, expect, it } from "vitest";
import { FAULT_KINDS, runSimulation } from "../../../src/cli/sim/simulation.ts";
import { silentLog } from "../../../src/ports/log.ts";

describe("lifeboat sim", () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: every committed point restores bit-exact; an abort retries the increment, a tracker loss resyncs`, async () => {
      const report = await runSimulation({
        seed,
        disks: 2,
        diskSize: 16 * 1024 * 1024,
        syncs: 10,
        writeRate: 32 * 1024,
        intervalMs: 60_000,
        faults: new Set(["snapshot-abort", "tracker-loss", "disk-resize"] as const),
        log: silentLog,
      });
      expect(report.ok).toBe(true);
      expect(report.points.length).toBeGreaterThanOrEqual(9);
      for (const kind of ["snapshot-abort", "tracker-loss", "disk-resize"] as const)
        expect(report.faults[kind]).toBe(1);
      const rows = report.attempts;
      expect(rows[0]?.mode).toBe("full");
      const abort = rows.findIndex((r) => r.faults.includes("snapshot-abort"));
      expect(rows[abort]?.outcome).toBe("aborted");
      expect(rows[abort + 1]).toMatchObject({ outcome: "committed", mode: "incremental" });
      const loss = rows.find((r) => r.faults.includes("tracker-loss"));
      expect(loss).toMatchObject({ outcome: "committed", mode: "resync" });
      const seqs = report.points.map((p) => p.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
    });
  }

  it("with --faults all, injects every fault kind and still verifies every committed point", async () => {
    const report = await runSimulation({
      seed: 9,
      disks: 2,
      diskSize: 8 * 1024 * 1024,
      syncs: 20,
      writeRate: 32 * 1024,
      intervalMs: 60_000,
      faults: new Set(FAULT_KINDS),
      log: silentLog,
    });
    expect(report.ok).toBe(true);
    for (const kind of FAULT_KINDS) expect(report.faults[kind], kind).toBeGreaterThanOrEqual(1);
    expect(report.attempts.some((a) => a.outcome === "crashed")).toBe(true);
  });

  it("is replayable: the same seed gives the same attempts", async () => {
    const run = async () =>
      runSimulation({
        seed: 5,
        disks: 1,
        diskSize: 8 * 1024 * 1024,
        syncs: 6,
        writeRate: 32 * 1024,
        intervalMs: 60_000,
        faults: new Set(FAULT_KINDS),
        log: silentLog,
      });
    const strip = (r: Awaited<ReturnType<typeof run>>) =>
      r.attempts.map(({ trigger, outcome, mode, bytesRead, bytesStored, faults }) => ({
        trigger,
        outcome,
        mode,
        bytesRead,
        bytesStored,
        faults,
      }));
    expect(strip(await run())).toEqual(strip(await run()));
  });
});
