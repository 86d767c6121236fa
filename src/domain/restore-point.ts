/**
 * A restore point: one source's disks, all at one instant. Its record is written last, after every
 * chunk and disk manifest it names, so a point exists if and only if its record exists.
 */

import type { Consistency } from "./snapshot.ts";

export type SyncMode = "full" | "incremental" | "resync";

export interface PointDisk {
  readonly disk: string;
  readonly capacity: number;
  /** Object key of this disk's manifest at this point. */
  readonly manifest: string;
  /** The change token of the snapshot this disk was read from; null when the source has no tracker. */
  readonly token: string | null;
  readonly mode: SyncMode;
  /** Why the planner chose resync (tracker lost, capacity changed…). */
  readonly resetReason?: string;
  readonly bytesRead: number;
  readonly bytesStored: number;
  readonly chunksRead: number;
  readonly chunksStored: number;
}

export interface RestorePoint {
  readonly formatVersion: 1;
  readonly source: string;
  readonly seq: number;
  /** Identifies the job that wrote the point, so a commit that "failed" but landed is recognised. */
  readonly jobId: string;
  readonly snapshotId: string;
  /** When the source snapshot was taken (ms since the epoch). */
  readonly takenAt: number;
  readonly committedAt: number;
  readonly consistency: Consistency;
  readonly disks: readonly PointDisk[];
  readonly warnings: readonly string[];
}

/** The id operators type: `<source>@<seq>`. */
export function pointId(source: string, seq: number): string {
  return `${source}@${seq}`;
}

export function parsePointId(id: string): { source: string; seq: number } | undefined {
  const at = id.lastIndexOf("@");
  if (at <= 0) return undefined;
  const seq = Number(id.slice(at + 1));
  if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
  return { source: id.slice(0, at), seq };
}

/** The mode of a point as a whole: the heaviest of its disks' modes. */
export function pointMode(point: RestorePoint): SyncMode {
  const modes = point.disks.map((d) => d.mode);
  if (modes.includes("full")) return "full";
  if (modes.includes("resync")) return "resync";
  return "incremental";
}
