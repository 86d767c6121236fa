/**
 * The safety margins of repository maintenance, as data (kopia's SafetyParameters): tests pass
 * their own with a fake clock; operators may lengthen them, never need to shorten them.
 */
export interface MaintenanceSafety {
  /** An unreferenced object is deleted only after it has been seen unreferenced for this long. */
  readonly graceMs: number;
  /** A job pin whose heartbeat is older than this belongs to a dead job. */
  readonly pinTtlMs: number;
  /** Clocks of agents, proxies and the maintenance host may disagree by this much. */
  readonly clockSkewMs: number;
  /** A maintenance run that has not finished after this long has died. */
  readonly maxRunMs: number;
  /** A maintenance lease expires after this long without renewal. */
  readonly leaseTtlMs: number;
}

export const DEFAULT_SAFETY: MaintenanceSafety = {
  graceMs: 24 * 3600_000,
  pinTtlMs: 3600_000,
  clockSkewMs: 10 * 60_000,
  maxRunMs: 6 * 3600_000,
  leaseTtlMs: 6 * 3600_000,
};
