/**
 * Drives one source's sync state machine (domain/sync-machine.ts) with a SyncJob's phases as its
 * injected actors. The machine owns the lifecycle (release on every path, abort ≠ reset, backoff);
 * the job owns the data.
 */

import { type Actor, createActor, fromPromise, waitFor } from "xstate";
import { isLifeboatError, LifeboatError } from "../domain/errors.ts";
import type { SyncMode } from "../domain/restore-point.ts";
import {
  type PlanInput,
  type PlanOutput,
  type PreflightInput,
  type PreflightOutput,
  type SnapshotInput,
  type SnapshotOutput,
  type SnapshotRef,
  type SyncActorError,
  type SyncOutcome,
  syncMachine,
  type TransferOutput,
} from "../domain/sync-machine.ts";
import { SyncJob, type SyncJobDeps, type SyncJobOptions, type SyncResult } from "./sync-job.ts";

export interface SyncAttempt {
  readonly outcome: SyncOutcome;
  readonly mode?: SyncMode;
  readonly snapshotId?: string;
  /** Set when the attempt committed a point. */
  readonly result?: SyncResult;
  /** The error that ended the attempt, as thrown (with its code, cause and remedy). */
  readonly error?: unknown;
  /** Bytes read before the attempt ended, committed or not. */
  readonly bytesRead: number;
}

const NOT_RETRYABLE = new Set(["OBJECT_CORRUPT", "CONFLICT", "VERIFY_FAILED", "INTERNAL"]);

export class SyncRunner {
  readonly #actor: Actor<typeof syncMachine>;
  #job: SyncJob | undefined;
  #error: unknown;

  constructor(
    readonly deps: SyncJobDeps,
    readonly jobOptions: () => SyncJobOptions = () => ({}),
    options: { excludedDisks?: readonly string[]; maxAttempts?: number } = {},
  ) {
    const machine = syncMachine.provide({
      actors: {
        // Support-limit checks belong to the agent and proxy sources; images and simulated hosts have none.
        preflight: fromPromise<PreflightOutput, PreflightInput>(async () => ({ ok: true, findings: [] })),
        snapshot: fromPromise<SnapshotOutput, SnapshotInput>(() =>
          this.#phase(async () => {
            this.#job = new SyncJob(this.deps, this.jobOptions());
            return { snapshotId: await this.#job.snapshot() };
          }),
        ),
        plan: fromPromise<PlanOutput, PlanInput>(({ input }) =>
          this.#phase(async () => ({
            mode: await this.#requireJob().plan(
              input.forceResync ? (input.resyncReason ?? "change tracking was reset") : undefined,
            ),
          })),
        ),
        transfer: fromPromise<TransferOutput, SnapshotRef>(() =>
          this.#phase(() => this.#requireJob().transfer()),
        ),
        commit: fromPromise<{ pointId: string; seq: number }, SnapshotRef>(() =>
          this.#phase(() => this.#requireJob().commit()),
        ),
        release: fromPromise<void, SnapshotRef>(() => this.#requireJob().release()),
      },
    });
    this.#actor = createActor(machine, {
      input: {
        source: deps.source.name,
        excludedDisks: options.excludedDisks ?? [],
        maxAttempts: options.maxAttempts ?? 1,
        now: () => deps.clock.now(),
      },
    });
    this.#actor.start();
    this.#actor.send({ type: "REGISTER" });
  }

  /** A schedule trigger: runs one attempt and resolves once its snapshot is released. */
  async tick(): Promise<SyncAttempt> {
    await waitFor(this.#actor, (s) => s.matches("idle") || s.matches("failed"));
    this.#job = undefined;
    this.#error = undefined;
    this.#actor.send({ type: "TICK" });
    const settled = await waitFor(
      this.#actor,
      (s) => s.matches("idle") || s.matches("failed") || s.matches("backoff"),
    );
    const ctx = settled.context;
    const job = this.#job as SyncJob | undefined;
    const outcome = ctx.outcome ?? "fatal";
    return {
      outcome,
      ...(ctx.mode === undefined ? {} : { mode: ctx.mode }),
      ...(job?.snapshotId === undefined ? {} : { snapshotId: job.snapshotId }),
      ...(outcome === "committed" && job !== undefined ? { result: job.result() } : {}),
      ...(this.#error === undefined ? {} : { error: this.#error }),
      bytesRead: job?.bytesRead() ?? 0,
    };
  }

  /** The change tracker was reset behind our back (CBT reset): the next plan resyncs. */
  changeTrackingReset(reason: string): void {
    this.#actor.send({ type: "CBT_RESET", reason });
  }

  stop(): void {
    this.#actor.stop();
  }

  #requireJob(): SyncJob {
    if (this.#job === undefined) throw new LifeboatError("INTERNAL", "no sync job in flight");
    return this.#job;
  }

  /** Runs a phase, keeping the original error and handing the machine a classified one. */
  async #phase<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      this.#error = e;
      const code = isLifeboatError(e) ? e.code : "INTERNAL";
      const rejection: SyncActorError = {
        code,
        message: e instanceof Error ? e.message : String(e),
        retryable: isLifeboatError(e) && e.kind === "job" && !NOT_RETRYABLE.has(code),
      };
      throw rejection;
    }
  }
}

/** Runs one sync through the state machine and returns its result, or throws the error that ended it. */
export async function syncOnce(deps: SyncJobDeps, options: SyncJobOptions = {}): Promise<SyncResult> {
  const runner = new SyncRunner(deps, () => options);
  try {
    const attempt = await runner.tick();
    if (attempt.result !== undefined) return attempt.result;
    throw attempt.error ?? new LifeboatError("INTERNAL", `sync ended as ${attempt.outcome} without an error`);
  } finally {
    runner.stop();
  }
}
