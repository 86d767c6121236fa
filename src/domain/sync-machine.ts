/**
 * The per-source sync state machine (design §6). Pure: every side effect is an injected promise
 * actor that the engine supplies with `syncMachine.provide({ actors })`, and the machine passes those
 * actors nothing but ids and flags — the engine keeps its own data structures.
 *
 * Invariants the machine enforces, whatever the actors do:
 * - a snapshot that was taken is released exactly once, on every exit path except a crash (the
 *   process is gone; stale-snapshot cleanup at restart owns that case);
 * - `lastPoint` changes only when a commit succeeds, and nothing that a failed or aborted sync
 *   learned (a pending resync, a resume) is forgotten — the committed token never advances early.
 */

import { type AnyStateMachine, assertEvent, assign, fromPromise, setup } from "xstate";
import type { SyncMode } from "./restore-point.ts";

// ── Input, events, context ───────────────────────────────────────────────────────────────────────

export interface SyncInput {
  readonly source: string;
  readonly excludedDisks: readonly string[];
  /** Attempts per run (the first try included) before a retryable failure parks in `failed`. */
  readonly maxAttempts?: number;
  /** Exponential backoff between attempts: base·2^(n−1) ms after the n-th failure, capped at max. */
  readonly backoffMs?: { readonly base: number; readonly max: number };
  /** Clock for failure timestamps; the simulator injects its virtual clock. Defaults to Date.now. */
  readonly now?: () => number;
}

export type SyncEvent =
  | { readonly type: "REGISTER" }
  /** Schedule or RPO trigger: starts a sync from `idle` or `failed`, ignored elsewhere. */
  | { readonly type: "TICK" }
  /** The snapshot was lost under us (VSS diff-area overflow, VM snapshot removed). */
  | { readonly type: "SNAPSHOT_ABORTED"; readonly reason: string }
  /** The change tracker lost its history: the next plan must be a resync. */
  | { readonly type: "CBT_RESET"; readonly reason: string }
  | { readonly type: "TARGET_ERROR"; readonly retryable: boolean; readonly message: string }
  | { readonly type: "CRASH" }
  | { readonly type: "RESTART" }
  | { readonly type: "CONFIG_CHANGED"; readonly excludedDisks: readonly string[] };

export interface SyncFailure {
  readonly code: string;
  readonly message: string;
  /** ms since the epoch, from the injected clock. */
  readonly at: number;
}

export interface SyncPoint {
  readonly pointId: string;
  readonly seq: number;
}

/** How the attempt in flight ended; decided before the snapshot is released, acted on after. */
export type SyncOutcome = "committed" | "aborted" | "retryable" | "fatal";

export interface SyncContext {
  readonly source: string;
  readonly excludedDisks: readonly string[];
  readonly maxAttempts: number;
  readonly backoffMs: { readonly base: number; readonly max: number };
  readonly now: () => number;
  /** Preflight passed and the registration was persisted; a restart returns to `idle`, not `unregistered`. */
  readonly registered: boolean;
  /** Failed attempts in the current run (reset by a new TICK and by a commit). */
  readonly attempts: number;
  /** The next plan must resync; cleared only by a commit whose plan could have seen the reset. */
  readonly forceResync: boolean;
  readonly resyncReason?: string;
  /** A CBT_RESET arrived while this attempt was under way, so its plan may not have honoured it. */
  readonly resetDuringSync: boolean;
  /** Set by RESTART: the next sync resumes from the StateStore's in-flight checkpoint. */
  readonly resumePending: boolean;
  readonly snapshotId?: string;
  readonly mode?: SyncMode;
  readonly outcome?: SyncOutcome;
  readonly lastFailure?: SyncFailure;
  readonly lastPoint?: SyncPoint;
  readonly configRejected?: SyncFailure;
  readonly preflightFindings?: readonly unknown[];
  /** A release that failed: the snapshot may linger (and hold diff-area space) until cleanup. */
  readonly releaseFailure?: SyncFailure;
}

// ── Actor contracts ──────────────────────────────────────────────────────────────────────────────

export interface PreflightInput {
  readonly source: string;
  readonly excludedDisks: readonly string[];
}
export interface PreflightOutput {
  readonly ok: boolean;
  readonly findings: readonly unknown[];
}
export interface SnapshotInput {
  readonly source: string;
  readonly excludedDisks: readonly string[];
  /** Reuse the in-flight checkpoint's snapshot if it still exists (design §5, resume). */
  readonly resumePending: boolean;
}
export interface SnapshotOutput {
  readonly snapshotId: string;
}
export interface PlanInput {
  readonly snapshotId: string;
  readonly forceResync: boolean;
  readonly resyncReason?: string;
  readonly resumePending: boolean;
}
export interface PlanOutput {
  readonly mode: SyncMode;
}
export interface SnapshotRef {
  readonly snapshotId: string;
}
export interface TransferOutput {
  readonly bytesRead: number;
  readonly bytesStored: number;
}

/**
 * What an actor should reject with. `retryable` defaults to false: an error nobody classified is
 * not retried in a tight loop, and `failed` is left on the next TICK anyway.
 */
export interface SyncActorError {
  readonly code: string;
  readonly message?: string;
  readonly retryable?: boolean;
}

/** Failure code for a preflight that found blocking problems (details in `preflightFindings`). */
export const PREFLIGHT_FAILED = "PREFLIGHT_FAILED";
const SNAPSHOT_ABORTED = "SNAPSHOT_ABORTED";
export const CONFIG_FROZEN_MESSAGE =
  "excluded disks are frozen at registration; clear and re-register the source to change them";

// ── Pure helpers ─────────────────────────────────────────────────────────────────────────────────

/** Delay before retry number `attempts` (1-based): base·2^(attempts−1), capped at max. */
export function backoffDelay(attempts: number, backoff: { base: number; max: number }): number {
  return Math.min(backoff.max, backoff.base * 2 ** Math.max(0, attempts - 1));
}

interface FailureParams {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
}

function describeError(error: unknown): FailureParams {
  if (typeof error === "object" && error !== null && typeof (error as SyncActorError).code === "string") {
    const e = error as SyncActorError;
    return { code: e.code, message: e.message ?? e.code, retryable: e.retryable === true };
  }
  // An actor that rejects without a code broke its contract: report it as a bug, do not retry.
  return {
    code: "INTERNAL",
    message: error instanceof Error ? error.message : String(error),
    retryable: false,
  };
}

function sameDiskSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((d) => right.has(d));
}

function heldSnapshot(context: SyncContext): string {
  if (context.snapshotId === undefined) throw new Error(`sync ${context.source}: no snapshot is held`);
  return context.snapshotId;
}

function notProvided(name: string) {
  return () => Promise.reject(new Error(`sync machine: actor not provided: ${name}`));
}

// ── Machine ──────────────────────────────────────────────────────────────────────────────────────

/** A reset reported while an attempt is under way may postdate its plan: keep it past the commit. */
const RESET_DURING_SYNC = {
  CBT_RESET: {
    actions: {
      type: "requestResync",
      params: ({ event }: { event: SyncEvent }) => {
        assertEvent(event, "CBT_RESET");
        return { reason: event.reason, duringSync: true };
      },
    },
  },
} as const;

/** The snapshot or the target was lost while planning or transferring: release, then settle. */
const LOST_DURING_SYNC = {
  SNAPSHOT_ABORTED: {
    target: "releasing",
    actions: {
      type: "fail",
      params: ({ event }: { event: SyncEvent }) => {
        assertEvent(event, "SNAPSHOT_ABORTED");
        return { code: SNAPSHOT_ABORTED, message: event.reason, retryable: true };
      },
    },
  },
  TARGET_ERROR: {
    target: "releasing",
    actions: {
      type: "fail",
      params: ({ event }: { event: SyncEvent }) => {
        assertEvent(event, "TARGET_ERROR");
        return { code: "TARGET_IO", message: event.message, retryable: event.retryable };
      },
    },
  },
} as const;

export const syncMachine = setup({
  types: {
    context: {} as SyncContext,
    events: {} as SyncEvent,
    input: {} as SyncInput,
  },
  actors: {
    preflight: fromPromise<PreflightOutput, PreflightInput>(notProvided("preflight")),
    snapshot: fromPromise<SnapshotOutput, SnapshotInput>(notProvided("snapshot")),
    plan: fromPromise<PlanOutput, PlanInput>(notProvided("plan")),
    transfer: fromPromise<TransferOutput, SnapshotRef>(notProvided("transfer")),
    commit: fromPromise<SyncPoint, SnapshotRef>(notProvided("commit")),
    release: fromPromise<void, SnapshotRef>(notProvided("release")),
  },
  actions: {
    /** A new run (schedule tick) gets a fresh attempt budget. */
    beginRun: assign({ attempts: 0 }),
    beginAttempt: assign({ resetDuringSync: false, outcome: undefined, mode: undefined }),
    requestResync: assign((_, params: { reason: string; duringSync: boolean }) =>
      params.duringSync
        ? { forceResync: true, resyncReason: params.reason, resetDuringSync: true }
        : { forceResync: true, resyncReason: params.reason },
    ),
    /**
     * Records why the attempt ends. Aborts do not consume an attempt: the snapshot provider gave up,
     * not our target, and the next tick simply retries the same increment.
     */
    fail: assign(({ context }, params: FailureParams) => {
      const lastFailure = { code: params.code, message: params.message, at: context.now() };
      if (params.code === SNAPSHOT_ABORTED) return { outcome: "aborted" as const, lastFailure };
      return {
        outcome: params.retryable ? ("retryable" as const) : ("fatal" as const),
        attempts: context.attempts + 1,
        lastFailure,
      };
    }),
    forgetSnapshot: assign({ snapshotId: undefined }),
    rejectConfig: assign({
      configRejected: ({ context }) => ({
        code: "CONFIG_INVALID",
        message: CONFIG_FROZEN_MESSAGE,
        at: context.now(),
      }),
    }),
    /**
     * The process died: keep only what is durable — the registration (source, frozen excluded disks)
     * and `lastPoint`, which mirrors a record in the repository.
     */
    forgetVolatile: assign({
      attempts: 0,
      // A lost tracker is rediscovered by the source itself (`changes()` answers reset), so dropping
      // the in-memory flag cannot make the next plan unsafe.
      forceResync: false,
      resyncReason: undefined,
      resetDuringSync: false,
      resumePending: false,
      snapshotId: undefined,
      mode: undefined,
      outcome: undefined,
      lastFailure: undefined,
      configRejected: undefined,
      releaseFailure: undefined,
    }),
  },
  guards: {
    sameExcludedDisks: ({ context, event }) => {
      assertEvent(event, "CONFIG_CHANGED");
      return sameDiskSet(context.excludedDisks, event.excludedDisks);
    },
    preflightPassed: (_, params: { ok: boolean }) => params.ok,
    committed: ({ context }) => context.outcome === "committed",
    aborted: ({ context }) => context.outcome === "aborted",
    canRetry: ({ context }) => context.outcome === "retryable" && context.attempts < context.maxAttempts,
    registered: ({ context }) => context.registered,
  },
  delays: {
    backoff: ({ context }) => backoffDelay(context.attempts, context.backoffMs),
  },
}).createMachine({
  id: "sync",
  context: ({ input }) => ({
    source: input.source,
    excludedDisks: [...input.excludedDisks],
    maxAttempts: input.maxAttempts ?? 5,
    backoffMs: input.backoffMs ?? { base: 30_000, max: 15 * 60_000 },
    now: input.now ?? Date.now,
    registered: false,
    attempts: 0,
    forceResync: false,
    resetDuringSync: false,
    resumePending: false,
  }),
  initial: "unregistered",
  on: {
    CRASH: { target: ".stopped", actions: "forgetVolatile" },
    CBT_RESET: {
      actions: {
        type: "requestResync",
        params: ({ event }) => ({ reason: event.reason, duringSync: false }),
      },
    },
    CONFIG_CHANGED: [
      { guard: "sameExcludedDisks", actions: assign({ configRejected: undefined }) },
      { actions: "rejectConfig" },
    ],
  },
  states: {
    unregistered: {
      on: {
        REGISTER: { target: "preflight" },
        // Not frozen yet: registration is what freezes the excluded disks.
        CONFIG_CHANGED: {
          actions: assign({
            excludedDisks: ({ event }) => [...event.excludedDisks],
            configRejected: undefined,
          }),
        },
      },
    },
    preflight: {
      invoke: {
        id: "preflight",
        src: "preflight",
        input: ({ context }) => ({ source: context.source, excludedDisks: context.excludedDisks }),
        onDone: [
          {
            guard: { type: "preflightPassed", params: ({ event }) => ({ ok: event.output.ok }) },
            target: "idle",
            actions: assign({ registered: true, preflightFindings: ({ event }) => event.output.findings }),
          },
          {
            target: "unregistered",
            actions: [
              assign({ preflightFindings: ({ event }) => event.output.findings }),
              {
                type: "fail",
                params: ({ event }) => ({
                  code: PREFLIGHT_FAILED,
                  message: `preflight found ${event.output.findings.length} blocking problem(s)`,
                  retryable: false,
                }),
              },
            ],
          },
        ],
        onError: {
          target: "unregistered",
          actions: { type: "fail", params: ({ event }) => describeError(event.error) },
        },
      },
    },
    idle: {
      on: { TICK: { target: "snapshotting", actions: "beginRun" } },
    },
    snapshotting: {
      entry: "beginAttempt",
      invoke: {
        id: "snapshot",
        src: "snapshot",
        input: ({ context }) => ({
          source: context.source,
          excludedDisks: context.excludedDisks,
          resumePending: context.resumePending,
        }),
        onDone: {
          target: "planning",
          actions: assign({ snapshotId: ({ event }) => event.output.snapshotId }),
        },
        // No snapshot exists to release (an adapter that fails half-way cleans up its own), so skip
        // `releasing`. SNAPSHOT_ABORTED is not accepted here for the same reason: leaving now would
        // orphan a snapshot the actor is about to hand back — the actor rejects instead.
        onError: {
          target: "settling",
          actions: { type: "fail", params: ({ event }) => describeError(event.error) },
        },
      },
      on: RESET_DURING_SYNC,
    },
    planning: {
      invoke: {
        id: "plan",
        src: "plan",
        input: ({ context }) => ({
          snapshotId: heldSnapshot(context),
          forceResync: context.forceResync,
          resyncReason: context.resyncReason,
          resumePending: context.resumePending,
        }),
        onDone: { target: "transferring", actions: assign({ mode: ({ event }) => event.output.mode }) },
        onError: {
          target: "releasing",
          actions: { type: "fail", params: ({ event }) => describeError(event.error) },
        },
      },
      on: {
        ...RESET_DURING_SYNC,
        ...LOST_DURING_SYNC,
      },
    },
    transferring: {
      invoke: {
        id: "transfer",
        src: "transfer",
        input: ({ context }) => ({ snapshotId: heldSnapshot(context) }),
        onDone: { target: "committing" },
        onError: {
          target: "releasing",
          actions: { type: "fail", params: ({ event }) => describeError(event.error) },
        },
      },
      on: {
        ...RESET_DURING_SYNC,
        // Leaving the state stops the transfer actor (its AbortSignal fires) before we release.
        ...LOST_DURING_SYNC,
      },
    },
    committing: {
      invoke: {
        id: "commit",
        src: "commit",
        input: ({ context }) => ({ snapshotId: heldSnapshot(context) }),
        onDone: {
          target: "releasing",
          actions: assign(({ context, event }) => ({
            outcome: "committed" as const,
            lastPoint: { pointId: event.output.pointId, seq: event.output.seq },
            attempts: 0,
            resumePending: false,
            forceResync: context.resetDuringSync,
            resyncReason: context.resetDuringSync ? context.resyncReason : undefined,
          })),
        },
        onError: {
          target: "releasing",
          actions: { type: "fail", params: ({ event }) => describeError(event.error) },
        },
      },
      on: {
        ...RESET_DURING_SYNC,
        // Every read is done by now; the commit writes metadata only, so a lost snapshot cannot hurt
        // this point and SNAPSHOT_ABORTED is deliberately ignored.
        TARGET_ERROR: {
          target: "releasing",
          actions: {
            type: "fail",
            params: ({ event }) => ({
              code: "TARGET_IO",
              message: event.message,
              retryable: event.retryable,
            }),
          },
        },
      },
    },
    releasing: {
      invoke: {
        id: "release",
        src: "release",
        input: ({ context }) => ({ snapshotId: heldSnapshot(context) }),
        onDone: { target: "settling", actions: "forgetSnapshot" },
        // A failed release must not turn a committed point into a failure, nor block the next run.
        onError: {
          target: "settling",
          actions: [
            "forgetSnapshot",
            assign({
              releaseFailure: ({ context, event }) => ({ ...describeError(event.error), at: context.now() }),
            }),
          ],
        },
      },
    },
    /** Transient: routes on how the attempt ended, after the snapshot is gone. */
    settling: {
      always: [
        { guard: "committed", target: "idle" },
        // An abort is not a reset: the tracker still holds every change since the committed token,
        // so the next TICK retries the same incremental (design §4).
        { guard: "aborted", target: "idle" },
        { guard: "canRetry", target: "backoff" },
        { target: "failed" },
      ],
    },
    backoff: {
      after: { backoff: { target: "snapshotting" } },
    },
    /** Not terminal: operators read `lastFailure`; the next schedule tick starts a fresh run. */
    failed: {
      on: { TICK: { target: "snapshotting", actions: "beginRun" } },
    },
    /** The process is gone: nothing runs and only RESTART is heard. */
    stopped: {
      on: {
        RESTART: [
          { guard: "registered", target: "idle", actions: assign({ resumePending: true }) },
          { target: "unregistered" },
        ],
        CBT_RESET: {},
        CONFIG_CHANGED: {},
      },
    },
  },
});

// ── Diagram ──────────────────────────────────────────────────────────────────────────────────────

type AnyNode = AnyStateMachine["root"];
type AnyTransition = NonNullable<AnyNode["always"]>[number];

function eventLabel(eventType: string): string {
  const done = /^xstate\.done\.actor\.(.+)$/.exec(eventType);
  if (done) return `${done[1]} done`;
  const error = /^xstate\.error\.actor\.(.+)$/.exec(eventType);
  if (error) return `${error[1]} error`;
  const after = /^xstate\.after\.([^.]+)\./.exec(eventType);
  if (after) return `after ${after[1]}`;
  return eventType;
}

function guardLabel(guard: AnyTransition["guard"]): string | undefined {
  if (guard === undefined) return undefined;
  if (typeof guard === "string") return guard;
  if (typeof guard === "function") return guard.name || "guard";
  return typeof guard.type === "string" ? guard.type : "guard";
}

function transitionLabel(t: AnyTransition, siblings: readonly AnyTransition[]): string {
  // An unguarded transition after guarded ones for the same event is the fallback branch.
  const guard = guardLabel(t.guard) ?? (siblings.some((s) => s.guard !== undefined) ? "else" : undefined);
  const event = t.eventType === "" ? "" : eventLabel(t.eventType);
  return [event, guard && `[${guard}]`].filter(Boolean).join(" ");
}

/**
 * A Mermaid `stateDiagram-v2` generated from the machine definition itself, so the picture cannot
 * drift from the code. Parallel edges are merged into one labelled edge; machine-wide (root)
 * transitions are drawn as a note rather than as an edge from every state.
 */
export function syncMachineMermaid(machine: AnyStateMachine = syncMachine): string {
  const root = machine.root;
  const lines = ["stateDiagram-v2"];
  for (const target of root.initial.target) lines.push(`  [*] --> ${target.key}`);
  const edges = new Map<string, string[]>();
  for (const node of Object.values(root.states)) {
    const groups = [...node.transitions.values(), ...(node.always ? [node.always] : [])];
    for (const group of groups) {
      for (const t of group) {
        for (const target of t.target ?? []) {
          const edge = `${node.key} --> ${target.key}`;
          const labels = edges.get(edge) ?? [];
          labels.push(transitionLabel(t, group));
          edges.set(edge, labels);
        }
      }
    }
  }
  for (const [edge, labels] of edges) {
    const label = labels.filter(Boolean).join(", ");
    lines.push(`  ${edge}${label ? ` : ${label}` : ""}`);
  }
  for (const group of root.transitions.values()) {
    for (const t of group) {
      for (const target of t.target ?? []) {
        lines.push(`  note right of ${target.key} : ${transitionLabel(t, group)} from any state`);
      }
    }
  }
  return `${lines.join("\n")}\n`;
}
