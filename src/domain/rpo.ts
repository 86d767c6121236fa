/**
 * RPO accounting (pure). The exposure ("lag") at an instant t is how much data a disaster at t would
 * lose: t minus the `takenAt` of the newest point already *committed* at t. It grows linearly and
 * drops only when a commit lands, so its maxima sit just before each commit and at `now`.
 *
 * Points carry `committedAt` as well as `takenAt` because a point protects nothing until its record
 * exists: measuring gaps between `takenAt`s alone would understate the exposure by every sync's
 * duration. `RestorePoint` objects can be passed as they are.
 */

import { LifeboatError } from "./errors.ts";
import type { RestorePoint } from "./restore-point.ts";

export type CommittedPoint = Pick<RestorePoint, "takenAt" | "committedAt">;

export interface RpoInput {
  /** The recovery point objective, in ms. */
  readonly targetMs: number;
  readonly points: readonly CommittedPoint[];
  /** ms since the epoch. Points committed after `now` are ignored (not yet visible). */
  readonly now: number;
  /** How long a sync is expected to take from snapshot to commit; 0 when unknown. */
  readonly expectedSyncMs?: number;
  /** Only exposure during [now − windowMs, now] counts towards `worstLagMs`; default: all history. */
  readonly windowMs?: number;
}

export interface RpoStatus {
  /** now − takenAt of the newest committed point; Infinity when nothing is committed. */
  readonly currentLagMs: number;
  readonly breached: boolean;
  /**
   * The largest exposure in the window: each gap from a point's snapshot to the commit that
   * superseded it, and the open gap to now. Time before the first commit is not counted —
   * protection starts with the first point, and the registration time is not known here.
   */
  readonly worstLagMs: number;
  /**
   * Latest start for the next sync to commit within the RPO: newest takenAt + target − expected
   * duration. In the past when overdue (callers clamp their delay at 0); `now` when nothing is
   * committed yet.
   */
  readonly nextDueAt: number;
}

function requireMs(name: string, value: number, allowZero: boolean): void {
  if (Number.isNaN(value) || value < 0 || (!allowZero && value === 0)) {
    throw new LifeboatError(
      "CONFIG_INVALID",
      `${name} must be a ${allowZero ? "non-negative" : "positive"} duration in ms, got ${value}`,
    );
  }
}

export function rpoStatus(input: RpoInput): RpoStatus {
  const { targetMs, now, expectedSyncMs = 0, windowMs = Number.POSITIVE_INFINITY } = input;
  requireMs("RPO target", targetMs, false);
  requireMs("expected sync duration", expectedSyncMs, true);
  requireMs("RPO window", windowMs, false);

  const committed = input.points
    .filter((p) => p.committedAt <= now)
    .sort((a, b) => a.committedAt - b.committedAt);
  if (committed.length === 0) {
    return {
      currentLagMs: Number.POSITIVE_INFINITY,
      breached: true,
      worstLagMs: Number.POSITIVE_INFINITY,
      nextDueAt: now,
    };
  }

  const windowStart = now - windowMs;
  let newestTakenAt = Number.NEGATIVE_INFINITY;
  let worstLagMs = 0;
  for (let i = 0; i < committed.length;) {
    const at = (committed[i] as CommittedPoint).committedAt;
    // Just before this instant the newest restorable snapshot was `newestTakenAt`; points that
    // commit at the same instant were not restorable before it either.
    if (newestTakenAt !== Number.NEGATIVE_INFINITY && at > windowStart) {
      worstLagMs = Math.max(worstLagMs, at - newestTakenAt);
    }
    // A point committed late with an older snapshot does not reduce the exposure.
    for (; i < committed.length && (committed[i] as CommittedPoint).committedAt === at; i++) {
      newestTakenAt = Math.max(newestTakenAt, (committed[i] as CommittedPoint).takenAt);
    }
  }
  const currentLagMs = now - newestTakenAt;
  return {
    currentLagMs,
    breached: currentLagMs > targetMs,
    worstLagMs: Math.max(worstLagMs, currentLagMs),
    nextDueAt: newestTakenAt + targetMs - expectedSyncMs,
  };
}
