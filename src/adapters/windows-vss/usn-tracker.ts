/**
 * The driverless change tracker's rules, as pure code: from what one NTFS volume looked like at
 * the last committed snapshot (UsnVolumeState) and what it looks like in the new one (UsnView),
 * the clusters that may have changed — always a superset — or why that cannot be told (a reset,
 * which the planner turns into a resync).
 *
 * A cluster may have changed if any of these holds:
 * 1. it is NTFS metadata ($MFT, $LogFile, $Bitmap, the journal, $Extend…): always read;
 * 2. it is allocated now and was not at the last snapshot (new files, growth, moves into free space);
 * 3. it belongs to a file with a data-changing USN record since (V4 records narrow this to ranges);
 * 4. it belongs to a directory one of whose entries has a record (created, deleted, renamed, resized);
 * 5. it belongs to a file still open without a CLOSE record: NTFS writes one record per reason per
 *    open, so later writes to an open file leave no trace — such a file counts on every sync until
 *    its CLOSE appears;
 * 6. it belongs to a file whose runlist differs from the last snapshot's (defragmentation moves
 *    data with no USN record at all) or that was not known then.
 * Resets: no state for the token, another volume or journal id, a journal that wrapped past the
 * token, an unclean shutdown since the token, a resized volume.
 */

import { BlockMap, type Run } from "../../domain/block-map.ts";
import type { ChangeReset } from "../../domain/snapshot.ts";
import type { FileRun } from "../../formats/windows/retrieval-pointers.ts";
import { USN_REASON } from "../../formats/windows/layout.ts";
import { mftRecordNumber, type UsnRecord } from "../../formats/windows/usn-record.ts";
import { reset } from "./change-tracker.ts";

/** What the tracker keeps about one volume at a committed snapshot. */
export interface UsnVolumeState {
  readonly volumeSerial: bigint;
  readonly journalId: bigint;
  /** The journal's NextUsn in the snapshot: records from here on are new next time. */
  readonly nextUsn: bigint;
  /** Identifies the boot session, so a reboot in between is noticed. */
  readonly bootId: string;
  readonly clusterCount: number;
  readonly allocation: BlockMap;
  /** Files opened for change and not closed yet: MFT record number → its parent directory's. */
  readonly openFiles: ReadonlyMap<number, number>;
  /** MFT record number → digest of the file's runlist. */
  readonly runDigests: ReadonlyMap<number, number>;
}

/** The volume as the new snapshot shows it. */
export interface UsnView {
  readonly volumeSerial: bigint;
  readonly journalId: bigint;
  /** Lowest USN still in the journal: older records were purged. */
  readonly firstUsn: bigint;
  readonly nextUsn: bigint;
  /** Journal records from the state's `nextUsn` up to `nextUsn`. */
  readonly records: readonly UsnRecord[];
  readonly bootId: string;
  /** The volume was not shut down cleanly since the state's boot (dirty bit, Kernel-Power 41). */
  readonly uncleanShutdown: boolean;
  readonly clusterCount: number;
  readonly clusterSize: number;
  readonly allocation: BlockMap;
  /** Clusters of the NTFS metadata files and of everything under $Extend. */
  readonly metadata: readonly Run[];
  /** Every file with clusters, by MFT record number, with its runlist in the snapshot. */
  readonly files: ReadonlyMap<number, readonly FileRun[]>;
}

export interface UsnOutcome {
  /** Changed clusters of the volume, or a reset. */
  readonly changes: BlockMap | ChangeReset;
  /** The state to keep with the new snapshot's token. */
  readonly state: UsnVolumeState;
}

const DATA_CHANGE =
  USN_REASON.DATA_OVERWRITE |
  USN_REASON.DATA_EXTEND |
  USN_REASON.DATA_TRUNCATION |
  USN_REASON.NAMED_DATA_OVERWRITE |
  USN_REASON.NAMED_DATA_EXTEND |
  USN_REASON.NAMED_DATA_TRUNCATION |
  USN_REASON.FILE_CREATE |
  USN_REASON.STREAM_CHANGE |
  // Compression, encryption, reparse-point and transacted changes rewrite the data in place.
  0x20000 |
  0x40000 |
  0x100000 |
  0x400000;
/** Changes range tracking (V4 records) describes exactly; anything else counts the whole file. */
const RANGE_TRACKED = USN_REASON.DATA_OVERWRITE | USN_REASON.DATA_EXTEND;

export function usnChanges(previous: UsnVolumeState | undefined, view: UsnView): UsnOutcome {
  const changed = new BlockMap(view.clusterSize, view.clusterCount);
  const openFiles = new Map(previous?.openFiles ?? []);
  const state = (): UsnVolumeState => ({
    volumeSerial: view.volumeSerial,
    journalId: view.journalId,
    nextUsn: view.nextUsn,
    bootId: view.bootId,
    clusterCount: view.clusterCount,
    allocation: view.allocation,
    openFiles,
    runDigests: digests(view.files),
  });
  const why = resetReason(previous, view);
  if (why !== undefined) {
    // History is gone, but the open-file set must be rebuilt from what this window shows.
    applyOpenClose(openFiles, view.records);
    return { changes: reset(why), state: state() };
  }
  const prior = previous as UsnVolumeState;

  const addRuns = (runs: readonly FileRun[] | undefined) => {
    for (const run of runs ?? [])
      if (run.lcn !== null) changed.addRange(run.lcn, clampCount(run, view.clusterCount));
  };
  for (const run of view.metadata)
    changed.addRange(run.start, Math.min(run.count, view.clusterCount - run.start));
  for (const cluster of view.allocation.difference(prior.allocation).runs())
    changed.addRange(cluster.start, cluster.count);

  const whole = new Set<number>();
  const ranges = new Map<number, Array<{ offset: number; length: number }>>();
  for (const record of view.records) {
    const file = mftRecordNumber(record.fileReference);
    // Any change to a file may touch its entry in the parent's index (names, and the sizes and
    // times NTFS duplicates there), so the parent directory counts too.
    whole.add(mftRecordNumber(record.parentReference));
    if (!(record.reason & DATA_CHANGE)) continue;
    if (record.majorVersion === 4 && (record.reason & ~USN_REASON.CLOSE & ~RANGE_TRACKED) === 0) {
      const list = ranges.get(file) ?? [];
      list.push(...(record.extents ?? []));
      ranges.set(file, list);
    } else {
      whole.add(file);
    }
  }
  // Files still open at the last snapshot, and files opened since, were maybe written without
  // further records — and so maybe were their index entries in the parent directory.
  const addOpen = () => {
    for (const [file, parent] of openFiles) whole.add(file).add(parent);
  };
  addOpen();
  applyOpenClose(openFiles, view.records);
  addOpen();

  for (const [file, runs] of view.files) {
    const before = prior.runDigests.get(file);
    if (before === undefined || before !== runDigest(runs)) whole.add(file);
  }
  for (const file of whole) addRuns(view.files.get(file));
  for (const [file, extents] of ranges) {
    if (whole.has(file)) continue;
    addRuns(clustersOfRanges(view.files.get(file) ?? [], extents, view.clusterSize));
  }
  return { changes: changed, state: state() };
}

function resetReason(previous: UsnVolumeState | undefined, view: UsnView): string | undefined {
  if (previous === undefined) return "no change-journal state was kept for the last committed point";
  if (previous.volumeSerial !== view.volumeSerial) {
    return `the volume serial changed (${previous.volumeSerial.toString(16)} → ${view.volumeSerial.toString(16)}): reformatted`;
  }
  if (previous.journalId !== view.journalId) {
    return `the change journal was deleted and recreated (id ${previous.journalId.toString(16)} → ${view.journalId.toString(16)})`;
  }
  if (previous.nextUsn < view.firstUsn) {
    return `the change journal wrapped: records from USN ${previous.nextUsn} to ${view.firstUsn} were purged`;
  }
  if (view.nextUsn < previous.nextUsn)
    return `the change journal went backwards (${previous.nextUsn} → ${view.nextUsn})`;
  if (view.uncleanShutdown) return "the volume was not shut down cleanly since the last committed point";
  if (previous.clusterCount !== view.clusterCount) {
    return `the volume was resized (${previous.clusterCount} → ${view.clusterCount} clusters)`;
  }
  const stray = view.records.find((r) => r.usn < previous.nextUsn || r.usn >= view.nextUsn);
  if (stray !== undefined)
    return `journal record ${stray.usn} lies outside ${previous.nextUsn}–${view.nextUsn}`;
  return undefined;
}

/** A file is open from its first record until a record carrying CLOSE. */
function applyOpenClose(open: Map<number, number>, records: readonly UsnRecord[]): void {
  for (const record of records) {
    const file = mftRecordNumber(record.fileReference);
    if (record.reason & USN_REASON.CLOSE) open.delete(file);
    else open.set(file, mftRecordNumber(record.parentReference));
  }
}

/** The clusters holding the given byte ranges of a file, through its runlist. */
function clustersOfRanges(
  runs: readonly FileRun[],
  extents: ReadonlyArray<{ offset: number; length: number }>,
  clusterSize: number,
): FileRun[] {
  const out: FileRun[] = [];
  for (const extent of extents) {
    if (extent.length <= 0) continue;
    const firstVcn = Math.floor(extent.offset / clusterSize);
    const lastVcn = Math.floor((extent.offset + extent.length - 1) / clusterSize);
    for (const run of runs) {
      const from = Math.max(firstVcn, run.vcn);
      const to = Math.min(lastVcn, run.vcn + run.clusters - 1);
      if (from > to || run.lcn === null) continue;
      out.push({ vcn: from, lcn: run.lcn + (from - run.vcn), clusters: to - from + 1 });
    }
  }
  return out;
}

function clampCount(run: FileRun, clusterCount: number): number {
  return Math.max(0, Math.min(run.clusters, clusterCount - (run.lcn ?? 0)));
}

function digests(files: ReadonlyMap<number, readonly FileRun[]>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [file, runs] of files) out.set(file, runDigest(runs));
  return out;
}

/**
 * A 53-bit digest of a runlist (two FNV-1a lanes with different offsets). A moved file is missed
 * only if its new runlist collides with its old one: about one chance in 2^53 per moved file.
 */
export function runDigest(runs: readonly FileRun[]): number {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  const mix = (n: number) => {
    // Both halves of values up to 2^53, so large LCNs do not alias.
    for (const part of [n % 0x100000000, Math.floor(n / 0x100000000)]) {
      for (const byte of [part & 0xff, (part >>> 8) & 0xff, (part >>> 16) & 0xff, part >>> 24]) {
        a = Math.imul(a ^ byte, 0x01000193) >>> 0;
        b = Math.imul(b ^ byte, 0x01000193) >>> 0;
      }
    }
  };
  mix(runs.length);
  for (const run of runs) {
    mix(run.vcn);
    mix(run.lcn === null ? 0x1fffffffffffff : run.lcn);
    mix(run.clusters);
  }
  return a * 0x200000 + (b & 0x1fffff);
}
