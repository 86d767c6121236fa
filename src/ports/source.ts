import type { BlockMap } from "../domain/block-map.ts";
import type { Disk, DiskId } from "../domain/disk.ts";
import type { ChangeReset, ChangeToken, Consistency } from "../domain/snapshot.ts";

/** A protected machine: a Windows host, a VMware VM, a raw image, a simulated host. */
export interface Source {
  /** Stable name used in the repository (`points/<name>/…`); matches SAFE_NAME. */
  readonly name: string;
  /** The disks the source has now. */
  describe(): Promise<readonly Disk[]>;
  /** One consistent point in time across `disks`. The caller must `release()` it. */
  openSnapshot(disks: readonly DiskId[]): Promise<SourceSnapshot>;
  /**
   * Tells the change tracker that a point holding these tokens is committed, so it may forget
   * history at or before them (never anything newer). Optional: sources without a tracker omit it.
   */
  committed?(tokens: ReadonlyMap<DiskId, ChangeToken>): Promise<void>;
}

/** One consistent point in time across a set of disks. */
export interface SourceSnapshot {
  /** Identifies this snapshot so a resumed job can tell whether it still holds the same one. */
  readonly id: string;
  /** When the snapshot was taken (ms since the epoch, the source's clock). */
  readonly takenAt: number;
  readonly consistency: Consistency;
  readonly disks: readonly Disk[];
  /** Degradations the operator must see in the job result (e.g. quiesce fell back to crash-consistent). */
  readonly warnings: readonly string[];
  /**
   * Reads bytes as they were at the snapshot. Rejects with SNAPSHOT_ABORTED once the snapshot has
   * been lost (diff-area overflow, snapshot removed behind our back).
   */
  read(disk: DiskId, offset: number, length: number): Promise<Uint8Array>;
  /**
   * Allocated blocks at the source's own grain (clusters), or null when the whole capacity counts
   * as allocated (raw or unknown file system).
   */
  allocation(disk: DiskId): Promise<BlockMap | null>;
  /** Blocks changed since `since` (at any grain), or a reset when the tracker cannot tell. */
  changes(disk: DiskId, since: ChangeToken): Promise<BlockMap | ChangeReset>;
  /** The token to record with a restore point made from this snapshot, or null if the source has no tracker. */
  token(disk: DiskId): ChangeToken | null;
  /** Why the snapshot was lost, if it was. */
  abortReason(): string | undefined;
  /** Releases the snapshot; safe to call more than once. */
  release(): Promise<void>;
}
