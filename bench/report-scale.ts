/** The scaling section of the report: simulated disks of growing size, many disks, many sources. */

import { fixed, table } from "./markdown.ts";
import type { ScaleCase, ScaleResult } from "./scale.ts";
import type { SyncPhase } from "./scale-scenarios.ts";
import type { HostResult, RoundResult, SourcesResult } from "./scale-worker.ts";
import { mb, median } from "./stats.ts";

/** Medians over the rounds of a phase list, with the engine's time (wall minus the simulator's). */
export function phaseMedian(phases: readonly SyncPhase[]): {
  wallS: number;
  engineS: number;
  cpuS: number;
  bytesRead: number;
} {
  return {
    wallS: median(phases.map((p) => p.wallS)),
    engineS: median(phases.map((p) => p.wallS - p.simulatorS)),
    cpuS: median(phases.map((p) => p.cpuS)),
    bytesRead: median(phases.map((p) => p.bytesRead)),
  };
}

/**
 * The engine's own working set during a sync: the phase's peak RSS above the settled RSS before it,
 * less what one snapshot costs the simulator (its page-array copy and the oracle's).
 */
export function engineRssMiB(phase: SyncPhase, host: HostResult): number {
  return Math.max(0, phase.peakRssMiB - phase.settledBeforeMiB - host.snapshotOverheadMiB);
}

export function hostCase(
  result: ScaleResult,
  name: string,
): (ScaleCase & { result: HostResult }) | undefined {
  const c = result.cases.find((x) => x.name === name);
  return c !== undefined && "incremental10x" in c.result
    ? (c as ScaleCase & { result: HostResult })
    : undefined;
}

export function renderScale(result: ScaleResult): string {
  const hostRows: string[][] = [];
  for (const c of result.cases) {
    if (!("incremental10x" in c.result)) continue;
    const r = c.result;
    const incr = phaseMedian(r.incremental);
    const incr10 = phaseMedian(r.incremental10x);
    const engineRss = Math.max(
      engineRssMiB(r.full, r),
      ...r.incremental.map((p) => engineRssMiB(p, r)),
      ...r.incremental10x.map((p) => engineRssMiB(p, r)),
    );
    hostRows.push([
      c.label,
      `${fixed(r.full.wallS)} (${fixed(r.full.wallS - r.full.simulatorS)})`,
      fixed(r.full.bytesRead / 1e6 / (r.full.wallS - r.full.simulatorS), 0),
      `${fixed(incr.wallS)} (${fixed(incr.engineS)})`,
      mb(incr.bytesRead, 0),
      `${fixed(incr10.wallS)} (${fixed(incr10.engineS)})`,
      mb(incr10.bytesRead, 0),
      fixed(engineRss, 0),
      `${fixed(r.simBaselineMiB, 0)} + ${fixed(r.snapshotOverheadMiB, 0)}`,
      fixed(c.process.peakRssMiB, 0),
      r.verified ? "✓" : "✗",
    ]);
  }
  const sourceRows: string[][] = [];
  for (const c of result.cases) {
    const scenario = c.scenario;
    if (scenario.kind !== "sources") continue;
    const r = c.result as SourcesResult;
    const row = (round: string, x: RoundResult) => [
      `${scenario.sources} VMs, ${scenario.concurrency} at a time`,
      round,
      `${fixed(x.wallS)} (${fixed(x.wallS - x.simulatorS)})`,
      fixed(x.cpuS),
      mb(x.bytesRead, 0),
      fixed(x.bytesRead / 1e6 / Math.max(x.wallS - x.simulatorS, 1e-9), 0),
      `${fixed(x.finishS.p50, 1)} / ${fixed(x.finishS.p95, 1)} / ${fixed(x.finishS.max, 1)}`,
      fixed(x.fairness, 2),
      fixed(Math.max(0, x.peakRssMiB - x.settledBeforeMiB), 0),
      `${fixed(r.simBaselineMiB, 0)} + ${fixed(r.snapshotOverheadMiB ?? Number.NaN, 0)}`,
      fixed(c.process.peakRssMiB, 0),
    ];
    sourceRows.push(row("full", r.full), row("incremental", r.incremental));
  }
  return [
    "Each scenario runs in its own process: SimHost disks (sparse, no background writes) synced by `syncOnce` into a local",
    "encrypted repository (FsStore). Times in parentheses are the engine's: wall time minus the time spent inside the",
    "simulator (capturing its page arrays, recording its oracle, copying pages out), measured by a pass-through source.",
    "Engine RSS is the peak above the settled RSS before the sync, less one snapshot's cost to the simulator.",
    "",
    table(
      [
        "host",
        "full s (engine)",
        "full MB/s (engine)",
        "incremental s (engine), median",
        "read MB",
        "10× change s (engine), median",
        "read MB",
        "engine RSS MiB (max)",
        "simulator MiB (disks + per snapshot)",
        "process peak RSS MiB",
        "verified",
      ],
      hostRows,
    ),
    "",
    "Many simulated VMs in one process (a proxy's bounded pool; a real proxy scheduler is not built yet):",
    "",
    table(
      [
        "sources",
        "round",
        "wall s (engine)",
        "CPU s",
        "read MB",
        "MB/s (engine)",
        "finished by s p50 / p95 / max",
        "fairness (Jain, per-source MB/s)",
        "RSS growth MiB (engine + the simulator's new snapshots)",
        "simulator MiB (VMs + one snapshot each)",
        "process peak RSS MiB",
      ],
      sourceRows,
    ),
  ].join("\n");
}
