import { describe, expect, it } from "vitest";
import { ContentGenerator } from "../../../src/adapters/sim/content.ts";
import { Prng } from "../../../src/adapters/sim/prng.ts";
import { SimDisk } from "../../../src/adapters/sim/sim-disk.ts";
import { Workload, type WorkloadOptions } from "../../../src/adapters/sim/workload.ts";
import { sameBytes } from "./bytes.ts";

const MiB = 1 << 20;

function world(seed: string, options: Partial<WorkloadOptions> = {}) {
  const prng = new Prng(seed);
  const disk = new SimDisk({
    id: "d",
    capacity: 8 * MiB,
    content: new ContentGenerator(prng.fork("content")),
  });
  const workload = new Workload(disk, prng.fork("workload"), { bytesPerSecond: MiB, ...options });
  workload.populate();
  return { disk, workload };
}

describe("Workload", () => {
  it("keeps the volume between 30% and 80% allocated through creates, appends and deletes", () => {
    const { disk, workload } = world("fill", { bytesPerSecond: 4 * MiB });
    const seen = new Set<number>();
    for (let second = 0; second < 120; second++) {
      workload.run(1000);
      const fill = disk.allocatedFraction();
      expect(fill).toBeGreaterThanOrEqual(0.3);
      expect(fill).toBeLessThanOrEqual(0.8);
      for (const f of disk.files()) seen.add(f.id);
    }
    expect(seen.size).toBeGreaterThan(disk.files().length);
  });

  it("writes about the configured rate, more during bursts, never less", () => {
    const { workload } = world("rate", { meanBurstIntervalMs: 10_000, burstMs: 1_000, burstFactor: 4 });
    let written = 0;
    for (let i = 0; i < 600; i++) written += workload.run(100);
    expect(written).toBeGreaterThan(0.9 * 60 * MiB);
    expect(written).toBeLessThan(4 * 60 * MiB);
  });

  it("writes the same bytes however the same span of virtual time is sliced", () => {
    const a = world("slices");
    const b = world("slices");
    a.workload.run(3_000);
    for (let i = 0; i < 3_000; i += 0.5) b.workload.run(0.5);
    expect(sameBytes(a.disk.read(0, 8 * MiB), b.disk.read(0, 8 * MiB))).toBe(true);
  });
});
