import { describe, expect, it } from "vitest";
import { CpuPacer, type CpuMeter, type PacerClock } from "../../../src/engine/throttle/cpu-pacer.ts";
import { BandwidthLimitedSource } from "../../../src/engine/throttle/bandwidth-limited-source.ts";
import type { Source } from "../../../src/ports/source.ts";

/** Virtual time and CPU: work advances both; sleeping advances only time. */
function world() {
  let now = 0;
  let cpuMs = 0;
  const clock: PacerClock = {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
  const meter: CpuMeter = { usageMicros: () => cpuMs * 1000 };
  const work = (ms: number, threads = 1) => {
    now += ms;
    cpuMs += ms * threads;
  };
  return { clock, meter, work, time: () => now, cpu: () => cpuMs };
}

describe("the CPU pacer", () => {
  for (const [limit, cores, threads] of [
    [30, 2, 1],
    [30, 4, 3],
    [10, 2, 2],
    [70, 2, 2],
  ] as const) {
    it(`holds ${limit} % of a ${cores}-core machine for work running on ${threads} thread(s)`, async () => {
      const w = world();
      const pacer = new CpuPacer({ limitPercent: limit, cores, meter: w.meter, clock: w.clock });
      while (w.time() < 60_000) {
        await pacer.pace();
        w.work(3, threads); // one chunk: hash, compress, encrypt
      }
      const machinePercent = (w.cpu() / (w.time() * cores)) * 100;
      expect(Math.abs(machinePercent - Math.min(limit, (threads / cores) * 100))).toBeLessThan(2);
    });
  }

  it("does not bank idle time for a later burst", async () => {
    const w = world();
    const pacer = new CpuPacer({
      limitPercent: 25,
      cores: 2,
      meter: w.meter,
      clock: w.clock,
      windowMs: 3000,
    });
    await pacer.pace();
    await w.clock.sleep(60_000); // idle for a minute
    const start = { t: w.time(), c: w.cpu() };
    while (w.time() - start.t < 10_000) {
      await pacer.pace();
      w.work(5);
    }
    const share = (w.cpu() - start.c) / (w.time() - start.t) / 2;
    expect(share).toBeLessThan(0.3);
  });

  it("refuses a limit outside (0, 100]", () => {
    expect(() => new CpuPacer({ limitPercent: 0 })).toThrow(RangeError);
    expect(() => new CpuPacer({ limitPercent: 101 })).toThrow(RangeError);
  });
});

describe("the bandwidth limit", () => {
  it("reads at most the configured rate on average", async () => {
    const w = world();
    const source = {
      name: "s",
      describe: async () => [],
      openSnapshot: async () => ({
        id: "x",
        takenAt: 0,
        consistency: "crash" as const,
        disks: [],
        warnings: [],
        read: async (_d: string, _o: number, length: number) => new Uint8Array(length),
        allocation: async () => null,
        changes: async () => ({ kind: "reset" as const, reason: "" }),
        token: () => null,
        abortReason: () => undefined,
        release: async () => undefined,
      }),
    } satisfies Source;
    const limited = new BandwidthLimitedSource(source, 1 << 20, w.clock);
    const snapshot = await limited.openSnapshot([]);
    let read = 0;
    while (w.time() < 20_000) read += (await snapshot.read("d", 0, 65536)).length;
    const rate = read / (w.time() / 1000);
    expect(rate).toBeLessThan((1 << 20) * 1.06);
    expect(rate).toBeGreaterThan((1 << 20) * 0.94);
  });
});
