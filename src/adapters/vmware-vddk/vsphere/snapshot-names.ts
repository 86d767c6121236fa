/**
 * How Lifeboat recognises its own snapshots: a name starting `lifeboat-` AND a description that
 * carries the `lifeboat-snapshot` marker. Both are required so that a user's snapshot that merely
 * happens to be called "lifeboat-…" is never deleted by the stale-snapshot cleanup.
 */

import { decodeVimName } from "./vm-inventory.ts";

export const SNAPSHOT_PREFIX = "lifeboat-";
const MARKER = "lifeboat-snapshot";

export interface SnapshotLabel {
  readonly name: string;
  readonly description: string;
}

/** Name and description for a new sync snapshot of job `jobId` taken by proxy `proxyId`. */
export function snapshotLabel(jobId: string, proxyId: string, at: Date): SnapshotLabel {
  return {
    name: `${SNAPSHOT_PREFIX}${jobId.slice(0, 8)}`,
    description: `${MARKER} job=${jobId} proxy=${proxyId} at=${at.toISOString()} — taken by Lifeboat for a sync and removed after it; safe to delete if it lingers`,
  };
}

export function isLifeboatSnapshot(node: { name: string; description: string }): boolean {
  return decodeVimName(node.name).startsWith(SNAPSHOT_PREFIX) && node.description.startsWith(`${MARKER} `);
}

/** The proxy id a Lifeboat snapshot's description names, if any. */
export function snapshotProxy(description: string): string | undefined {
  return / proxy=(\S+)/.exec(description)?.[1];
}
