/**
 * Retention: which restore points of one source to keep. Keep-last keeps the newest N; each
 * calendar rule (hourly, daily, weekly, monthly) keeps the newest point of each of the N most recent
 * periods that have one (restic's and borg's semantics). A point is kept if any rule keeps it; the
 * newest point is always kept, so a policy can never leave a source without a restore point.
 */

export interface RetentionPolicy {
  readonly keepLast?: number;
  readonly keepHourly?: number;
  readonly keepDaily?: number;
  readonly keepWeekly?: number;
  readonly keepMonthly?: number;
}

export interface RetainedPoint {
  readonly seq: number;
  /** When the snapshot was taken (ms since the epoch, UTC). */
  readonly takenAt: number;
}

export interface RetentionDecision {
  readonly keep: ReadonlySet<number>;
  /** Why each kept point is kept (e.g. "last", "daily 2026-11-21"). */
  readonly reasons: ReadonlyMap<number, readonly string[]>;
}

type Period = (t: Date) => string;

const PERIODS: ReadonlyArray<[keyof RetentionPolicy, string, Period]> = [
  ["keepHourly", "hourly", (t) => t.toISOString().slice(0, 13)],
  ["keepDaily", "daily", (t) => t.toISOString().slice(0, 10)],
  ["keepWeekly", "weekly", isoWeek],
  ["keepMonthly", "monthly", (t) => t.toISOString().slice(0, 7)],
];

export function applyRetention(points: readonly RetainedPoint[], policy: RetentionPolicy): RetentionDecision {
  for (const [name, value] of Object.entries(policy)) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
    }
  }
  // Newest first; ties broken by seq so the decision never depends on input order.
  const newestFirst = [...points].sort((a, b) => b.takenAt - a.takenAt || b.seq - a.seq);
  const reasons = new Map<number, string[]>();
  const keep = (seq: number, why: string) => reasons.set(seq, [...(reasons.get(seq) ?? []), why]);

  newestFirst.slice(0, policy.keepLast ?? 0).forEach((p) => keep(p.seq, "last"));
  for (const [field, label, period] of PERIODS) {
    const wanted = policy[field] ?? 0;
    const seen = new Set<string>();
    for (const p of newestFirst) {
      if (seen.size >= wanted) break;
      const bucket = period(new Date(p.takenAt));
      if (seen.has(bucket)) continue;
      seen.add(bucket);
      keep(p.seq, `${label} ${bucket}`);
    }
  }
  const newest = newestFirst[0];
  if (newest !== undefined && !reasons.has(newest.seq)) keep(newest.seq, "newest");
  return { keep: new Set(reasons.keys()), reasons };
}

/** ISO-8601 week, e.g. 2026-W47 (weeks start on Monday; week 1 holds the year's first Thursday). */
function isoWeek(t: Date): string {
  const d = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}
