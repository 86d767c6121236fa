/**
 * One scaling scenario in a process of its own (so its peak RSS is its own), started by scale.ts as
 * `node --expose-gc --import tsx bench/scale-worker.ts '<scenario JSON>'`; prints its result as JSON.
 */

import { LifeboatError } from "../src/domain/errors.ts";
import { meter, settledRssMiB } from "./phase-meter.ts";
import {
  type HostSpec,
  meteredSync,
  type Protected,
  protect,
  snapshotOverheadMiB,
  sparseHost,
  type SyncPhase,
  sync,
  verifyLatest,
  withRepository,
} from "./scale-scenarios.ts";
import { jainIndex, median, percentile } from "./stats.ts";

export type Scenario =
  | ({ kind: "host"; burstBytes: number; rounds: number } & HostSpec)
  | ({ kind: "sources"; sources: number; burstBytes: number; concurrency: number } & HostSpec);

export interface HostResult {
  readonly simBaselineMiB: number;
  readonly snapshotOverheadMiB: number;
  readonly full: SyncPhase;
  /** Incrementals after a burst of `burstBytes`, then after bursts ten times larger. */
  readonly incremental: SyncPhase[];
  readonly incremental10x: SyncPhase[];
  readonly verified: boolean;
}

export interface RoundResult {
  readonly wallS: number;
  readonly cpuS: number;
  /** Seconds spent inside the simulators (one thread: this is time the engine did not have). */
  readonly simulatorS: number;
  readonly peakRssMiB: number;
  readonly settledBeforeMiB: number;
  readonly bytesRead: number;
  readonly bytesStored: number;
  /** Seconds from the round's start until each source committed. */
  readonly finishS: { p50: number; p95: number; max: number };
  /** Jain's index over per-source throughput (bytes read per second of its own sync). */
  readonly fairness: number;
}

export interface SourcesResult {
  readonly simBaselineMiB: number;
  /** What one snapshot of every VM costs the simulator (held during a round: the oracle keeps one). */
  readonly snapshotOverheadMiB?: number;
  readonly full: RoundResult;
  readonly incremental: RoundResult;
  readonly verified: boolean;
}

async function hostScenario(s: Extract<Scenario, { kind: "host" }>): Promise<HostResult> {
  const host = sparseHost("scale-host", 1, s);
  const target = protect(host);
  const simBaselineMiB = settledRssMiB();
  return withRepository(async (repo) => {
    const full = await meteredSync(repo, target);
    const incremental: SyncPhase[] = [];
    const incremental10x: SyncPhase[] = [];
    for (let r = 0; r < s.rounds; r++) {
      host.burst(s.burstBytes);
      incremental.push(await meteredSync(repo, target));
    }
    for (let r = 0; r < s.rounds; r++) {
      host.burst(10 * s.burstBytes);
      incremental10x.push(await meteredSync(repo, target));
    }
    for (const p of [...incremental, ...incremental10x]) {
      if (p.mode !== "incremental")
        throw new LifeboatError("INTERNAL", `expected incrementals, got ${p.mode}`);
    }
    await verifyLatest(repo, host);
    return {
      simBaselineMiB,
      snapshotOverheadMiB: await snapshotOverheadMiB([host]),
      full,
      incremental,
      incremental10x,
      verified: true,
    };
  });
}

async function sourcesScenario(s: Extract<Scenario, { kind: "sources" }>): Promise<SourcesResult> {
  const hosts = Array.from({ length: s.sources }, (_, i) =>
    protect(sparseHost(`vm-${String(i).padStart(4, "0")}`, i + 1, s)),
  );
  const simBaselineMiB = settledRssMiB();
  return withRepository(async (repo) => {
    const round = async (): Promise<RoundResult> => {
      const finish: number[] = [];
      const throughput: number[] = [];
      let bytesRead = 0;
      let bytesStored = 0;
      const inside = hosts.map((h) => h.source.insideNs);
      const started = process.hrtime.bigint();
      const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
      let next = 0;
      // A proxy's bounded pool: `concurrency` sources sync at once, each as soon as a slot frees.
      const worker = async () => {
        while (next < hosts.length) {
          const i = next++;
          const begin = seconds();
          const result = await sync(repo, hosts[i] as Protected);
          const end = seconds();
          finish.push(end);
          throughput.push(result.bytesRead / Math.max(end - begin, 1e-6));
          bytesRead += result.bytesRead;
          bytesStored += result.bytesStored;
        }
      };
      const { phase } = await meter(() => Promise.all(Array.from({ length: s.concurrency }, worker)));
      return {
        ...phase,
        simulatorS: hosts.reduce((sum, h, i) => sum + h.source.secondsSince(inside[i] as bigint), 0),
        bytesRead,
        bytesStored,
        finishS: { p50: median(finish), p95: percentile(finish, 95), max: Math.max(...finish) },
        fairness: jainIndex(throughput),
      };
    };
    const full = await round();
    for (const h of hosts) h.host.burst(s.burstBytes);
    const incremental = await round();
    for (const h of hosts) await verifyLatest(repo, h.host);
    const overhead = await snapshotOverheadMiB(hosts.map((h) => h.host));
    return { simBaselineMiB, snapshotOverheadMiB: overhead, full, incremental, verified: true };
  });
}

const scenario = JSON.parse(process.argv[2] ?? "null") as Scenario | null;
if (scenario === null) throw new LifeboatError("USAGE", "scale-worker needs a scenario as JSON");
const result = scenario.kind === "host" ? await hostScenario(scenario) : await sourcesScenario(scenario);
process.stdout.write(`${JSON.stringify(result)}\n`);
