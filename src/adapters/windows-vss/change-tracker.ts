/**
 * The change-tracker port of the Windows agent (design §4): one tracker per disk, asked three
 * things in a fixed order around every snapshot. Two implementations: the filter driver
 * (filter-tracker.ts, exact, disk-level) and the driverless USN tracker (usn-disk-tracker.ts, a
 * superset of changed clusters per NTFS volume). Whatever the implementation:
 *
 * - `beforeSnapshot` is called strictly before the snapshot: writes after it land in a later epoch
 *   and are reported again next time, so nothing between the boundary and the snapshot is lost;
 * - `changes(since, upto)` answers the union of every epoch after `since` up to `upto`, so an
 *   aborted or failed sync that never committed loses nothing — the next sync asks from the same
 *   `since`;
 * - `committed(token)` is the only thing that lets a tracker forget, and only at or before `token`.
 */

import type { BlockMap } from "../../domain/block-map.ts";
import type { ChangeReset, ChangeToken } from "../../domain/snapshot.ts";

/** What the tracker may look at in the snapshot (the USN tracker reads the shadow copies). */
export interface TrackedSnapshot {
  readonly id: string;
}

export interface DiskChangeTracker {
  /** "filter-driver" or "usn-journal": recorded in warnings and the inventory. */
  readonly kind: string;
  /** Closes the current epoch; the token names the boundary the coming snapshot is taken after. */
  beforeSnapshot(): Promise<ChangeToken>;
  /** Called once the snapshot exists, with the token `beforeSnapshot` returned for it. */
  afterSnapshot?(token: ChangeToken, snapshot: TrackedSnapshot): Promise<void>;
  /** Changed blocks (any grain, disk offsets) after `since` up to `upto`, or why that cannot be told. */
  changes(since: ChangeToken, upto: ChangeToken): Promise<BlockMap | ChangeReset>;
  /** A restore point holding `token` is committed: history at or before it may be dropped. */
  committed(token: ChangeToken): Promise<void>;
}

export function reset(reason: string): ChangeReset {
  return { kind: "reset", reason };
}
