import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { type Actor, createActor, fromPromise, SimulatedClock, waitFor } from "xstate";
import {
  backoffDelay,
  CONFIG_FROZEN_MESSAGE,
  type PlanInput,
  type PlanOutput,
  PREFLIGHT_FAILED,
  type PreflightInput,
  type PreflightOutput,
  type SnapshotInput,
  type SnapshotOutput,
  type SnapshotRef,
  type SyncEvent,
  type SyncInput,
  type SyncPoint,
  syncMachine,
  syncMachineMermaid,
  type TransferOutput,
} from "../../../src/domain/sync-machine.ts";

/**
 * What a fake actor does when called:
 * - ok / retryable / fatal: resolve, or reject with a retryable / non-retryable coded error;
 * - abort: the snapshot is lost — a `transfer` hears it as a SNAPSHOT_ABORTED event (as the engine
 *   would forward the source's abort signal), the other steps reject with code SNAPSHOT_ABORTED;
 * - hang: never settles by itself, only when the machine stops the actor (its AbortSignal fires).
 */
type Outcome = "ok" | "retryable" | "fatal" | "abort" | "hang";
type Step = "snapshot" | "plan" | "transfer" | "commit";

type SyncActor = Actor<typeof syncMachine>;

/** Fake engine: records every call the machine makes and answers from a script. */
class FakeWorld {
  actor: SyncActor | undefined;
  readonly taken: string[] = [];
  readonly released: string[] = [];
  readonly commits: SyncPoint[] = [];
  /** For each commit, the index in `planInputs` of the plan it committed. */
  readonly commitPlans: number[] = [];
  readonly snapshotInputs: SnapshotInput[] = [];
  readonly planInputs: PlanInput[] = [];
  readonly preflightInputs: PreflightInput[] = [];
  readonly stopped: Step[] = [];
  private seq = 0;

  constructor(
    private readonly decide: (step: Step) => Outcome,
    private readonly preflight: PreflightOutput = { ok: true, findings: [] },
    private readonly releaseFails = false,
  ) {}

  private async run<T>(step: Step, signal: AbortSignal, value: () => T): Promise<T> {
    const outcome = this.decide(step);
    // Settle asynchronously, as real I/O would, so events sent meanwhile interleave realistically.
    await Promise.resolve();
    switch (outcome) {
      case "ok":
        return value();
      case "retryable":
        throw { code: "STORE_IO", message: `${step} hiccup`, retryable: true };
      case "fatal":
        throw { code: "STORE_FULL", message: `${step} cannot go on`, retryable: false };
      case "abort":
        if (step !== "transfer") throw { code: "SNAPSHOT_ABORTED", message: "diff area overflow" };
        setTimeout(() => this.actor?.send({ type: "SNAPSHOT_ABORTED", reason: "VolSnap event 25" }), 0);
        return this.hang(step, signal);
      case "hang":
        return this.hang(step, signal);
    }
  }

  private hang<T>(step: Step, signal: AbortSignal): Promise<T> {
    return new Promise<T>((_, reject) =>
      signal.addEventListener("abort", () => {
        this.stopped.push(step);
        reject(signal.reason);
      }),
    );
  }

  actors() {
    return {
      preflight: fromPromise<PreflightOutput, PreflightInput>(async ({ input }) => {
        this.preflightInputs.push(input);
        return this.preflight;
      }),
      snapshot: fromPromise<SnapshotOutput, SnapshotInput>(({ input, signal }) => {
        this.snapshotInputs.push(input);
        return this.run("snapshot", signal, () => {
          const snapshotId = `snap-${this.taken.length + 1}`;
          this.taken.push(snapshotId);
          return { snapshotId };
        });
      }),
      plan: fromPromise<PlanOutput, PlanInput>(({ input, signal }) => {
        this.planInputs.push(input);
        return this.run("plan", signal, () => ({ mode: input.forceResync ? "resync" : "incremental" }));
      }),
      transfer: fromPromise<TransferOutput, SnapshotRef>(({ signal }) =>
        this.run("transfer", signal, () => ({ bytesRead: 4096, bytesStored: 1024 })),
      ),
      commit: fromPromise<SyncPoint, SnapshotRef>(({ signal }) =>
        this.run("commit", signal, () => {
          this.seq += 1;
          const point = { pointId: `point-${this.seq}`, seq: this.seq };
          this.commits.push(point);
          this.commitPlans.push(this.planInputs.length - 1);
          return point;
        }),
      ),
      release: fromPromise<void, SnapshotRef>(async ({ input }) => {
        this.released.push(input.snapshotId);
        if (this.releaseFails) throw { code: "SNAPSHOT_FAILED", message: "snapshot already gone" };
      }),
    };
  }
}

/** Answers from per-step queues; a step whose queue is empty succeeds. */
function scripted(script: Partial<Record<Step, Outcome[]>>): (step: Step) => Outcome {
  return (step) => script[step]?.shift() ?? "ok";
}

const FAST: Partial<SyncInput> = { maxAttempts: 3, backoffMs: { base: 1, max: 4 } };

async function start(world: FakeWorld, input: Partial<SyncInput> = {}, clock?: SimulatedClock) {
  const actor = createActor(syncMachine.provide({ actors: world.actors() }), {
    ...(clock && { clock }),
    input: { source: "host-1", excludedDisks: ["disk-9"], now: () => 1_000, ...FAST, ...input },
  });
  world.actor = actor;
  actor.start();
  actor.send({ type: "REGISTER" });
  await waitFor(actor, (s) => s.matches("idle"));
  return actor;
}

/** One schedule tick, run until the machine rests again. */
async function tick(actor: SyncActor) {
  actor.send({ type: "TICK" });
  return waitFor(actor, (s) => s.matches("idle") || s.matches("failed"));
}

describe("syncMachine", () => {
  it("registers through preflight and syncs on TICK: snapshot → plan → transfer → commit → release", async () => {
    const world = new FakeWorld(scripted({}));
    const actor = await start(world);
    expect(world.preflightInputs).toEqual([{ source: "host-1", excludedDisks: ["disk-9"] }]);

    const s = await tick(actor);
    expect(s.value).toBe("idle");
    expect(s.context.lastPoint).toEqual({ pointId: "point-1", seq: 1 });
    expect(s.context.mode).toBe("incremental");
    expect(s.context.attempts).toBe(0);
    expect(s.context.snapshotId).toBeUndefined();
    expect(world.snapshotInputs).toEqual([
      { source: "host-1", excludedDisks: ["disk-9"], resumePending: false },
    ]);
    expect(world.released).toEqual(["snap-1"]);
  });

  it("fails loudly when the engine forgot to provide an actor", async () => {
    const actor = createActor(syncMachine, { input: { source: "host-1", excludedDisks: [] } }).start();
    actor.send({ type: "REGISTER" });
    const s = await waitFor(
      actor,
      (snap) => snap.matches("unregistered") && snap.context.lastFailure !== undefined,
    );
    expect(s.context.lastFailure?.message).toMatch(/actor not provided: preflight/);
  });

  it("stays unregistered when preflight finds blocking problems", async () => {
    const findings = [{ code: "FREE_SPACE_LOW", volume: "C:" }];
    const world = new FakeWorld(scripted({}), { ok: false, findings });
    const actor = createActor(syncMachine.provide({ actors: world.actors() }), {
      input: { source: "host-1", excludedDisks: [], now: () => 7 },
    }).start();
    actor.send({ type: "REGISTER" });
    const s = await waitFor(actor, (snap) => snap.context.lastFailure !== undefined);
    expect(s.value).toBe("unregistered");
    expect(s.context.lastFailure).toMatchObject({ code: PREFLIGHT_FAILED, at: 7 });
    expect(s.context.preflightFindings).toEqual(findings);
    actor.send({ type: "TICK" });
    expect(actor.getSnapshot().value).toBe("unregistered");
  });

  describe("snapshot abort is not a reset", () => {
    it("releases, keeps the token and forceResync, and the next TICK runs the incremental again", async () => {
      const world = new FakeWorld(scripted({ transfer: ["hang"] }));
      const actor = await start(world);
      actor.send({ type: "TICK" });
      await waitFor(actor, (s) => s.matches("transferring"));
      actor.send({ type: "SNAPSHOT_ABORTED", reason: "diff area full" });

      const s = await waitFor(actor, (snap) => snap.matches("idle"));
      expect(world.stopped).toEqual(["transfer"]);
      expect(world.released).toEqual(["snap-1"]);
      expect(s.context.lastPoint).toBeUndefined();
      expect(s.context.forceResync).toBe(false);
      expect(s.context.attempts).toBe(0);
      expect(s.context.lastFailure).toEqual({
        code: "SNAPSHOT_ABORTED",
        message: "diff area full",
        at: 1_000,
      });

      const again = await tick(actor);
      expect(world.planInputs.map((p) => p.forceResync)).toEqual([false, false]);
      expect(again.context.mode).toBe("incremental");
      expect(again.context.lastPoint).toEqual({ pointId: "point-1", seq: 1 });
      expect(world.released).toEqual(["snap-1", "snap-2"]);
    });

    it("leaves a pending resync pending", async () => {
      const world = new FakeWorld(scripted({ transfer: ["abort"] }));
      const actor = await start(world);
      actor.send({ type: "CBT_RESET", reason: "unclean reboot" });
      const s = await tick(actor);
      expect(s.context.lastFailure?.code).toBe("SNAPSHOT_ABORTED");
      expect(s.context.forceResync).toBe(true);
      await tick(actor);
      expect(world.planInputs.map((p) => p.forceResync)).toEqual([true, true]);
    });

    it("is ignored while committing: every read is already done", async () => {
      const world = new FakeWorld(scripted({}));
      const actor = await start(world);
      actor.send({ type: "TICK" });
      await waitFor(actor, (s) => s.matches("committing"));
      actor.send({ type: "SNAPSHOT_ABORTED", reason: "too late to matter" });
      const s = await waitFor(actor, (snap) => snap.matches("idle"));
      expect(s.context.lastPoint?.seq).toBe(1);
      expect(s.context.lastFailure).toBeUndefined();
    });
  });

  describe("CBT_RESET", () => {
    it("makes the next plan a resync and is cleared by the commit", async () => {
      const world = new FakeWorld(scripted({}));
      const actor = await start(world);
      actor.send({ type: "CBT_RESET", reason: "disk resized" });
      expect(actor.getSnapshot().context.forceResync).toBe(true);

      const s = await tick(actor);
      expect(world.planInputs[0]).toMatchObject({ forceResync: true, resyncReason: "disk resized" });
      expect(s.context.mode).toBe("resync");
      expect(s.context.forceResync).toBe(false);
      expect(s.context.resyncReason).toBeUndefined();
      await tick(actor);
      expect(world.planInputs[1]?.forceResync).toBe(false);
    });

    it("still forces the retry's plan after the attempt that heard it failed", async () => {
      const world = new FakeWorld(scripted({ transfer: ["hang"] }));
      const actor = await start(world);
      actor.send({ type: "TICK" });
      await waitFor(actor, (s) => s.matches("transferring"));
      actor.send({ type: "CBT_RESET", reason: "vMotion" });
      actor.send({ type: "TARGET_ERROR", retryable: true, message: "503 SlowDown" });
      const s = await waitFor(actor, (snap) => snap.matches("idle"));
      expect(world.planInputs.map((p) => p.forceResync)).toEqual([false, true]);
      expect(s.context.forceResync).toBe(false);
    });

    it("arriving after the plan survives that sync's commit", async () => {
      const world = new FakeWorld(scripted({}));
      const actor = await start(world);
      actor.send({ type: "TICK" });
      await waitFor(actor, (snap) => snap.matches("transferring"));
      actor.send({ type: "CBT_RESET", reason: "vMotion" });
      const s = await waitFor(actor, (snap) => snap.matches("idle"));
      expect(s.context.lastPoint?.seq).toBe(1);
      expect(s.context.forceResync).toBe(true);
      await tick(actor);
      expect(world.planInputs.map((p) => p.forceResync)).toEqual([false, true]);
    });
  });

  describe("errors", () => {
    it("retries a retryable transfer error after backoff", async () => {
      const world = new FakeWorld(scripted({ transfer: ["retryable"] }));
      const actor = await start(world);
      actor.send({ type: "TICK" });
      await waitFor(actor, (s) => s.matches("backoff"));
      expect(actor.getSnapshot().context.attempts).toBe(1);
      const s = await waitFor(actor, (snap) => snap.matches("idle"));
      expect(s.context.lastPoint?.seq).toBe(1);
      expect(s.context.attempts).toBe(0);
      expect(s.context.lastFailure?.code).toBe("STORE_IO");
      expect(world.released).toEqual(["snap-1", "snap-2"]);
    });

    it("waits base·2^(n−1) ms, capped, between attempts (on xstate's simulated clock)", async () => {
      const clock = new SimulatedClock();
      const world = new FakeWorld(scripted({ commit: ["retryable", "retryable", "retryable"] }));
      const actor = await start(world, { maxAttempts: 4, backoffMs: { base: 100, max: 250 } }, clock);
      actor.send({ type: "TICK" });
      for (const delay of [100, 200, 250]) {
        await waitFor(actor, (s) => s.matches("backoff"));
        clock.increment(delay - 1);
        expect(actor.getSnapshot().value).toBe("backoff");
        clock.increment(1);
        expect(actor.getSnapshot().value).toBe("snapshotting");
      }
      const s = await waitFor(actor, (snap) => snap.matches("idle"));
      expect(s.context.lastPoint?.seq).toBe(1);
      expect(world.taken).toHaveLength(4);
    });

    it("parks a non-retryable error in failed; the next TICK is a fresh run", async () => {
      const world = new FakeWorld(scripted({ transfer: ["fatal"] }));
      const actor = await start(world);
      const s = await tick(actor);
      expect(s.value).toBe("failed");
      expect(s.context.lastFailure).toEqual({
        code: "STORE_FULL",
        message: "transfer cannot go on",
        at: 1_000,
      });
      expect(s.context.lastPoint).toBeUndefined();
      expect(world.released).toEqual(["snap-1"]);

      const again = await tick(actor);
      expect(again.value).toBe("idle");
      expect(again.context.lastPoint?.seq).toBe(1);
    });

    it("gives up after maxAttempts retryable failures", async () => {
      const world = new FakeWorld(scripted({ plan: ["retryable", "retryable", "retryable"] }));
      const actor = await start(world);
      const s = await tick(actor);
      expect(s.value).toBe("failed");
      expect(s.context.attempts).toBe(3);
      expect(world.released).toEqual(["snap-1", "snap-2", "snap-3"]);
    });

    it("treats an uncoded rejection as an internal, non-retryable error", async () => {
      const world = new FakeWorld(scripted({}));
      const actor = createActor(
        syncMachine.provide({
          actors: {
            ...world.actors(),
            transfer: fromPromise<TransferOutput, SnapshotRef>(() => Promise.reject(new Error("boom"))),
          },
        }),
        { input: { source: "h", excludedDisks: [], ...FAST } },
      ).start();
      actor.send({ type: "REGISTER" });
      await waitFor(actor, (s) => s.matches("idle"));
      actor.send({ type: "TICK" });
      const s = await waitFor(actor, (snap) => snap.matches("failed"));
      expect(s.context.lastFailure).toMatchObject({ code: "INTERNAL", message: "boom" });
    });

    it("records a failed release but keeps the committed point", async () => {
      const world = new FakeWorld(scripted({}), undefined, true);
      const actor = await start(world);
      const s = await tick(actor);
      expect(s.value).toBe("idle");
      expect(s.context.lastPoint?.seq).toBe(1);
      expect(s.context.releaseFailure).toMatchObject({ code: "SNAPSHOT_FAILED" });
    });

    type Busy = "planning" | "transferring" | "committing";
    type Case = { name: string; script: Partial<Record<Step, Outcome[]>>; at?: Busy; event?: SyncEvent };
    const targetError: SyncEvent = { type: "TARGET_ERROR", retryable: false, message: "EIO" };
    const cases: Case[] = [
      { name: "snapshot error", script: { snapshot: ["fatal"] } },
      { name: "snapshot abort", script: { snapshot: ["abort"] } },
      { name: "plan error", script: { plan: ["fatal"] } },
      { name: "plan abort", script: { plan: ["abort"] } },
      { name: "transfer error", script: { transfer: ["fatal"] } },
      { name: "transfer abort", script: { transfer: ["abort"] } },
      { name: "commit error", script: { commit: ["fatal"] } },
      {
        name: "retryable errors until exhausted",
        script: { commit: ["retryable", "retryable", "retryable"] },
      },
      { name: "TARGET_ERROR while planning", script: { plan: ["hang"] }, at: "planning", event: targetError },
      {
        name: "TARGET_ERROR while transferring",
        script: { transfer: ["hang"] },
        at: "transferring",
        event: targetError,
      },
      {
        name: "TARGET_ERROR while committing",
        script: { commit: ["hang"] },
        at: "committing",
        event: targetError,
      },
      {
        name: "SNAPSHOT_ABORTED while planning",
        script: { plan: ["hang"] },
        at: "planning",
        event: { type: "SNAPSHOT_ABORTED", reason: "snapshot removed" },
      },
    ];
    it.each(cases)("releases every snapshot taken exactly once: $name", async ({ script, at, event }) => {
      const world = new FakeWorld(scripted(structuredClone(script)));
      const actor = await start(world);
      actor.send({ type: "TICK" });
      if (at && event) {
        await waitFor(actor, (s) => s.matches(at));
        actor.send(event);
      }
      const s = await waitFor(actor, (snap) => snap.matches("idle") || snap.matches("failed"));
      expect(world.released).toEqual(world.taken);
      expect(s.context.lastPoint).toBeUndefined();
      expect(s.context.snapshotId).toBeUndefined();
    });
  });

  describe("crash and restart", () => {
    it("stops without releasing, keeps what is durable, and resumes on the next sync", async () => {
      const world = new FakeWorld(scripted({ transfer: ["ok", "hang"] }));
      const actor = await start(world);
      await tick(actor);
      actor.send({ type: "CBT_RESET", reason: "journal wrap" });
      actor.send({ type: "TICK" });
      await waitFor(actor, (s) => s.matches("transferring"));

      actor.send({ type: "CRASH" });
      const down = actor.getSnapshot();
      expect(down.value).toBe("stopped");
      await vi.waitFor(() => expect(world.stopped).toEqual(["transfer"]));
      expect(world.released).toEqual(["snap-1"]); // snap-2 is the restarted job's to reuse or clean up
      expect(down.context.lastPoint?.seq).toBe(1);
      expect(down.context.snapshotId).toBeUndefined();
      expect(down.context.forceResync).toBe(false);

      actor.send({ type: "TICK" });
      actor.send({ type: "CONFIG_CHANGED", excludedDisks: [] });
      expect(actor.getSnapshot().value).toBe("stopped");
      expect(actor.getSnapshot().context.configRejected).toBeUndefined();

      actor.send({ type: "RESTART" });
      expect(actor.getSnapshot().value).toBe("idle");
      expect(actor.getSnapshot().context.resumePending).toBe(true);

      const s = await tick(actor);
      expect(world.snapshotInputs[2]?.resumePending).toBe(true);
      expect(world.planInputs[2]?.resumePending).toBe(true);
      expect(s.context.resumePending).toBe(false);
      expect(s.context.lastPoint?.seq).toBe(2);
    });

    it("returns to unregistered when the crash came before registration", () => {
      const world = new FakeWorld(scripted({}));
      const actor = createActor(syncMachine.provide({ actors: world.actors() }), {
        input: { source: "h", excludedDisks: [] },
      }).start();
      actor.send({ type: "CRASH" });
      actor.send({ type: "RESTART" });
      expect(actor.getSnapshot().value).toBe("unregistered");
    });
  });

  describe("CONFIG_CHANGED", () => {
    it("rejects a different excluded-disk set after registration and carries on", async () => {
      const world = new FakeWorld(scripted({ transfer: ["hang"] }));
      const actor = await start(world);
      actor.send({ type: "TICK" });
      await waitFor(actor, (s) => s.matches("transferring"));
      actor.send({ type: "CONFIG_CHANGED", excludedDisks: ["disk-9", "disk-2"] });
      const s = actor.getSnapshot();
      expect(s.value).toBe("transferring");
      expect(s.context.excludedDisks).toEqual(["disk-9"]);
      expect(s.context.configRejected).toEqual({
        code: "CONFIG_INVALID",
        message: CONFIG_FROZEN_MESSAGE,
        at: 1_000,
      });

      // The same set (in any order) is accepted as a no-op and clears the stale rejection.
      actor.send({ type: "CONFIG_CHANGED", excludedDisks: ["disk-9", "disk-9"] });
      expect(actor.getSnapshot().context.configRejected).toBeUndefined();
      expect(actor.getSnapshot().value).toBe("transferring");
    });

    it("is adopted before registration", async () => {
      const world = new FakeWorld(scripted({}));
      const actor = createActor(syncMachine.provide({ actors: world.actors() }), {
        input: { source: "h", excludedDisks: ["a"] },
      }).start();
      actor.send({ type: "CONFIG_CHANGED", excludedDisks: ["b"] });
      actor.send({ type: "REGISTER" });
      await waitFor(actor, (s) => s.matches("idle"));
      expect(world.preflightInputs[0]?.excludedDisks).toEqual(["b"]);
    });
  });

  it("ignores TICK while a sync is under way", async () => {
    const world = new FakeWorld(scripted({ transfer: ["hang"] }));
    const actor = await start(world);
    actor.send({ type: "TICK" });
    await waitFor(actor, (s) => s.matches("transferring"));
    actor.send({ type: "TICK" });
    expect(actor.getSnapshot().value).toBe("transferring");
    expect(world.taken).toHaveLength(1);
  });

  it("property: every snapshot taken is released exactly once; lastPoint moves only on a commit", async () => {
    const outcome = fc.constantFrom<Outcome>("ok", "retryable", "fatal", "abort");
    await fc.assert(
      fc.asyncProperty(fc.array(outcome, { maxLength: 24 }), fc.boolean(), async (outcomes, reset) => {
        const queue = [...outcomes];
        const world = new FakeWorld(() => queue.shift() ?? "ok");
        const actor = await start(world);
        const seen: SyncPoint[] = [];
        actor.subscribe((s) => {
          const point = s.context.lastPoint;
          if (point !== undefined && point !== seen.at(-1)) seen.push(point);
        });
        if (reset) actor.send({ type: "CBT_RESET", reason: "property" });

        // Tick until the script is used up and a run has committed (an empty queue succeeds).
        do await tick(actor);
        while (queue.length > 0 || actor.getSnapshot().context.outcome !== "committed");
        actor.stop();

        const counts = new Map<string, number>();
        for (const id of world.released) counts.set(id, (counts.get(id) ?? 0) + 1);
        expect([...counts.keys()].sort()).toEqual([...world.taken].sort());
        expect([...counts.values()].every((n) => n === 1)).toBe(true);
        expect(seen).toEqual(world.commits);
        // A pending resync is honoured by every plan up to the commit that consumes it, and only then.
        const consumedAt = world.commitPlans[0] ?? world.planInputs.length;
        world.planInputs.forEach((p, i) => {
          expect(p.forceResync).toBe(reset && i <= consumedAt);
        });
        expect(actor.getSnapshot().context.forceResync).toBe(false);
      }),
      { numRuns: 150 },
    );
  });
});

describe("backoffDelay", () => {
  it("doubles from base and caps at max", () => {
    const b = { base: 1_000, max: 5_000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, b))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
  });
});

describe("syncMachineMermaid", () => {
  const diagram = syncMachineMermaid();

  it("draws every state and the main path from the machine definition", () => {
    expect(diagram.startsWith("stateDiagram-v2\n")).toBe(true);
    for (const state of Object.keys(syncMachine.root.states)) expect(diagram).toContain(state);
    expect(diagram).toContain("[*] --> unregistered");
    expect(diagram).toContain("idle --> snapshotting : TICK");
    expect(diagram).toContain("transferring --> releasing : SNAPSHOT_ABORTED");
    expect(diagram).toContain("settling --> backoff : [canRetry]");
    expect(diagram).toContain("CRASH from any state");
  });

  it("matches docs/sync-machine.md (regenerate with scripts/sync-machine-diagram.ts --write)", () => {
    const doc = readFileSync(new URL("../../../docs/sync-machine.md", import.meta.url), "utf8");
    expect(doc).toContain(`\`\`\`mermaid\n${diagram}\`\`\``);
  });
});
