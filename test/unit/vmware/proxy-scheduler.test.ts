import { describe, expect, it } from "vitest";
import {
  ProxyScheduler,
  type RunReport,
  type ScheduledSource,
} from "../../../src/adapters/vmware-vddk/proxy/scheduler.ts";
import { silentLog } from "../../../src/ports/log.ts";

/** A clock whose sleeps advance virtual time at once. */
function fakeClock(): {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  advance: (ms: number) => void;
} {
  let t = 1_000_000;
  return {
    now: () => t,
    sleep: async (ms) => {
      t += ms;
      await new Promise((r) => setImmediate(r));
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

function source(name: string, run: () => Promise<RunReport>, intervalMs = 60_000): ScheduledSource {
  return { name, intervalMs, run };
}

describe("the proxy scheduler", () => {
  it("syncs 100 VMs once with never more than `concurrency` at a time", async () => {
    let inFlight = 0;
    let peak = 0;
    const ran: string[] = [];
    const sources = Array.from({ length: 100 }, (_, i) =>
      source(`vm${i}`, async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 1));
        inFlight--;
        ran.push(`vm${i}`);
        return { ok: true, detail: {} };
      }),
    );
    const scheduler = new ProxyScheduler(sources, {
      concurrency: 8,
      releaseCpuMs: 0,
      backoffMs: { base: 1, max: 1 },
      clock: fakeClock(),
      log: silentLog,
    });
    const reports = await scheduler.runOnce();
    expect(reports).toHaveLength(100);
    expect(new Set(ran).size).toBe(100);
    expect(peak).toBe(8);
  });

  it("backs a failing VM off exponentially, alone, while the others keep their schedule", async () => {
    const clock = fakeClock();
    const runs: Record<string, number[]> = { good: [], bad: [] };
    const stop = new AbortController();
    const sources = [
      source(
        "good",
        async () => {
          runs.good?.push(clock.now());
          return { ok: true, detail: {} };
        },
        10 * 60_000,
      ),
      source(
        "bad",
        async () => {
          runs.bad?.push(clock.now());
          if ((runs.bad?.length ?? 0) >= 5) stop.abort();
          return { ok: false, detail: { error: { code: "VSPHERE_UNREACHABLE" } } };
        },
        10 * 60_000,
      ),
    ];
    const scheduler = new ProxyScheduler(sources, {
      concurrency: 1,
      releaseCpuMs: 0,
      backoffMs: { base: 60_000, max: 8 * 60_000 },
      clock,
      log: silentLog,
    });
    await scheduler.runUntil(stop.signal);
    const gaps = (runs.bad ?? []).slice(1).map((t, i) => t - (runs.bad?.[i] as number));
    // 1, 2, 4, 8 minutes (within the polling granularity), capped by the VM's own interval.
    expect(gaps.map((g) => Math.round(g / 60_000))).toEqual([1, 2, 4, 8]);
    expect(runs.good?.length).toBeGreaterThanOrEqual(2);
    const status = scheduler.status().find((s) => s.name === "bad");
    expect(status?.consecutiveFailures).toBe(5);
  });

  it("gives a free slot to the most overdue VM, so a slow one cannot starve the rest", async () => {
    const clock = fakeClock();
    const order: string[] = [];
    const stop = new AbortController();
    const mk = (name: string): ScheduledSource =>
      source(
        name,
        async () => {
          order.push(name);
          if (order.length >= 9) stop.abort();
          await clock.sleep(name === "slow" ? 5 * 60_000 : 1_000);
          return { ok: true, detail: {} };
        },
        60_000,
      );
    const scheduler = new ProxyScheduler([mk("slow"), mk("a"), mk("b")], {
      concurrency: 1,
      releaseCpuMs: 0,
      backoffMs: { base: 1, max: 1 },
      clock,
      log: silentLog,
    });
    await scheduler.runUntil(stop.signal);
    // Round robin by due time: every VM runs once before any runs twice.
    expect(order.slice(0, 3).sort()).toEqual(["a", "b", "slow"]);
    expect(order.slice(3, 6).sort()).toEqual(["a", "b", "slow"]);
  });

  it("pauses each slot for releaseCpuMs between VMs (vmware_release_cpu_time)", async () => {
    const clock = fakeClock();
    const starts: number[] = [];
    const sources = ["a", "b", "c"].map((n) =>
      source(n, async () => (starts.push(clock.now()), { ok: true, detail: {} })),
    );
    await new ProxyScheduler(sources, {
      concurrency: 1,
      releaseCpuMs: 3_000,
      backoffMs: { base: 1, max: 1 },
      clock,
      log: silentLog,
    }).runOnce();
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(3_000);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(3_000);
  });
});
