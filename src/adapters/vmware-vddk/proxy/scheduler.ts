/**
 * The proxy's scheduler: many sources, each due every N minutes, synced by at most `concurrency`
 * slots at once. Fairness: a free slot always takes the most overdue source, so one slow VM cannot
 * starve the others. A failed source backs off exponentially on its own; the others carry on. Each
 * slot pauses `releaseCpuMs` between syncs (the seeds' vmware_release_cpu_time: 0 = fastest).
 */

import type { Clock } from "../../../ports/clock.ts";
import type { Log } from "../../../ports/log.ts";

export interface RunReport {
  readonly ok: boolean;
  /** Whatever the run wants shown (point, mode, bytes…); kept as the source's last result. */
  readonly detail: Record<string, unknown>;
}

export interface ScheduledSource {
  readonly name: string;
  readonly intervalMs: number;
  run(): Promise<RunReport>;
}

export interface SourceStatus {
  readonly name: string;
  state: "idle" | "running" | "backoff";
  nextDueAt: number;
  runs: number;
  failures: number;
  consecutiveFailures: number;
  lastStartedAt?: number;
  lastFinishedAt?: number;
  lastSuccessAt?: number;
  last?: Record<string, unknown>;
}

export interface SchedulerOptions {
  readonly concurrency: number;
  readonly releaseCpuMs: number;
  readonly backoffMs: { readonly base: number; readonly max: number };
  readonly clock: Clock;
  readonly log: Log;
  readonly onFinished?: (status: SourceStatus, report: RunReport) => void;
}

export class ProxyScheduler {
  readonly #entries: { source: ScheduledSource; status: SourceStatus }[];

  constructor(
    sources: readonly ScheduledSource[],
    readonly options: SchedulerOptions,
  ) {
    const now = options.clock.now();
    this.#entries = sources.map((source) => ({
      source,
      status: {
        name: source.name,
        state: "idle",
        nextDueAt: now,
        runs: 0,
        failures: 0,
        consecutiveFailures: 0,
      },
    }));
  }

  status(): SourceStatus[] {
    return this.#entries.map((e) => ({ ...e.status }));
  }

  /** Runs every source once, `concurrency` at a time, and returns their reports in config order. */
  async runOnce(): Promise<RunReport[]> {
    const reports = new Map<string, RunReport>();
    const queue = [...this.#entries];
    const slot = async (): Promise<void> => {
      for (let entry = queue.shift(); entry !== undefined; entry = queue.shift()) {
        reports.set(entry.source.name, await this.#run(entry));
        if (queue.length > 0 && this.options.releaseCpuMs > 0)
          await this.options.clock.sleep(this.options.releaseCpuMs);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, queue.length) }, slot));
    return this.#entries.map((e) => reports.get(e.source.name) as RunReport);
  }

  /** Runs sources as they fall due until `signal` aborts; running syncs finish (and release) first. */
  async runUntil(signal: AbortSignal): Promise<void> {
    const slot = async (): Promise<void> => {
      while (!signal.aborted) {
        const entry = this.#nextDue();
        if (entry === undefined) {
          await this.#idle(signal);
          continue;
        }
        await this.#run(entry);
        if (this.options.releaseCpuMs > 0) await this.options.clock.sleep(this.options.releaseCpuMs);
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency }, slot));
  }

  /** The most overdue idle source, taken (marked running) so no other slot picks it. */
  #nextDue(): { source: ScheduledSource; status: SourceStatus } | undefined {
    const now = this.options.clock.now();
    const due = this.#entries
      .filter((e) => e.status.state !== "running" && e.status.nextDueAt <= now)
      .sort(
        (a, b) =>
          a.status.nextDueAt - b.status.nextDueAt ||
          (a.status.lastStartedAt ?? 0) - (b.status.lastStartedAt ?? 0),
      );
    const entry = due[0];
    if (entry !== undefined) entry.status.state = "running";
    return entry;
  }

  async #idle(signal: AbortSignal): Promise<void> {
    const next = Math.min(
      ...this.#entries.filter((e) => e.status.state !== "running").map((e) => e.status.nextDueAt),
    );
    const wait = Math.max(
      50,
      Math.min(1_000, (Number.isFinite(next) ? next : Infinity) - this.options.clock.now()),
    );
    await Promise.race([
      this.options.clock.sleep(wait),
      new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true })),
    ]);
  }

  async #run(entry: { source: ScheduledSource; status: SourceStatus }): Promise<RunReport> {
    const { status, source } = entry;
    const { clock, log } = this.options;
    status.state = "running";
    status.lastStartedAt = clock.now();
    status.runs++;
    let report: RunReport;
    try {
      report = await source.run();
    } catch (e) {
      report = { ok: false, detail: { error: { code: "INTERNAL", message: (e as Error).message } } };
    }
    const now = clock.now();
    status.lastFinishedAt = now;
    status.last = report.detail;
    if (report.ok) {
      status.consecutiveFailures = 0;
      status.lastSuccessAt = now;
      status.state = "idle";
      status.nextDueAt = (status.lastStartedAt ?? now) + source.intervalMs;
    } else {
      status.failures++;
      status.consecutiveFailures++;
      const { base, max } = this.options.backoffMs;
      const delay = Math.min(max, base * 2 ** (status.consecutiveFailures - 1));
      status.state = "backoff";
      status.nextDueAt = now + Math.min(delay, source.intervalMs);
      log.warn(
        { source: source.name, failures: status.consecutiveFailures, retryInMs: status.nextDueAt - now },
        "sync failed; backing off",
      );
    }
    this.options.onFinished?.({ ...status }, report);
    return report;
  }
}
