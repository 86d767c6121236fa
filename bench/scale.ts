/**
 * Item 2 of issue 9: scaling runs through the engine API on simulated hosts, each scenario in its
 * own process under GNU time (peak RSS of the whole process, simulator included; the worker reports
 * the simulator's share separately).
 */

import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { measure } from "./measure.ts";
import { BENCH_DIR } from "./options.ts";
import type { HostResult, Scenario, SourcesResult } from "./scale-worker.ts";
import { GiB, MiB } from "./stats.ts";

const TiB = 1024 * GiB;

export interface ScaleOptions {
  readonly runs: number;
  readonly quick: boolean;
  readonly work: string;
  readonly log: (line: string) => void;
}

export interface ScaleCase {
  readonly name: string;
  readonly label: string;
  readonly scenario: Scenario;
  /** The worker process as GNU time saw it. */
  readonly process: { wallS: number; cpuS: number; peakRssMiB: number };
  readonly result: HostResult | SourcesResult;
}

export interface ScaleResult {
  readonly suite: "scale";
  readonly cases: ScaleCase[];
}

/** The same data and the same change on disks 100× apart; the 2 TiB disk also takes 10× the change. */
function cases(options: ScaleOptions): Array<{ name: string; label: string; scenario: Scenario }> {
  const rounds = options.runs;
  const disk = (capacity: number) => ({
    kind: "host" as const,
    disks: 1,
    capacity,
    dataBytes: 256 * MiB,
    burstBytes: 8 * MiB,
    rounds,
  });
  const sources = (n: number) => ({
    kind: "sources" as const,
    sources: n,
    disks: 1,
    capacity: 4 * GiB,
    dataBytes: MiB,
    burstBytes: 256 * 1024,
    concurrency: 4,
  });
  const all = [
    { name: "disk-20g", label: "1 disk of 20 GiB, 256 MiB written", scenario: disk(20 * GiB) },
    { name: "disk-200g", label: "1 disk of 200 GiB, 256 MiB written", scenario: disk(200 * GiB) },
    { name: "disk-2t", label: "1 disk of 2 TiB, 256 MiB written", scenario: disk(2 * TiB) },
    {
      name: "host-32-disks",
      label: "1 host, 32 disks of 64 GiB, 32 MiB written each",
      scenario: {
        kind: "host" as const,
        disks: 32,
        capacity: 64 * GiB,
        dataBytes: 32 * MiB,
        burstBytes: 8 * MiB,
        rounds,
      },
    },
    {
      name: "sources-100",
      label: "100 simulated VMs (4 GiB disk, 1 MiB written), 4 at a time",
      scenario: sources(100),
    },
    {
      name: "sources-500",
      label: "500 simulated VMs (4 GiB disk, 1 MiB written), 4 at a time",
      scenario: sources(500),
    },
  ];
  return options.quick ? all.filter((c) => c.name === "disk-2t" || c.name === "sources-100") : all;
}

export async function runScale(options: ScaleOptions): Promise<ScaleResult> {
  const work = join(options.work, "scale");
  await mkdir(work, { recursive: true });
  const out: ScaleCase[] = [];
  for (const c of cases(options)) {
    options.log(`  ${c.name}: ${c.label}`);
    const m = await measure({
      command: process.execPath,
      args: [
        "--expose-gc",
        "--import",
        "tsx",
        join(BENCH_DIR, "scale-worker.ts"),
        JSON.stringify(c.scenario),
      ],
      env: { ...process.env, LIFEBOAT_BENCH_WORK: work },
    });
    const result = JSON.parse(m.stdout) as HostResult | SourcesResult;
    out.push({ ...c, process: { wallS: m.wallS, cpuS: m.cpuS, peakRssMiB: m.peakRssMiB }, result });
    options.log(`    ${m.wallS.toFixed(1)} s, peak RSS ${m.peakRssMiB.toFixed(0)} MiB`);
  }
  return { suite: "scale", cases: out };
}
