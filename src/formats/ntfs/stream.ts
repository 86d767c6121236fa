/** Reading an attribute's content: resident bytes, or non-resident runs (sparse runs read as zeros). */

import { copyBytes, fail, MAX_STRUCTURE_BYTES, type ReadAt } from "../bytes.ts";
import type { DataRun } from "./runlist.ts";

export interface AttributeStream {
  /** Bytes of content (the attribute's data size). */
  readonly size: number;
  /** Bytes actually written; NTFS reads everything past this as zeros. */
  readonly initializedSize: number;
  /** Clusters the content occupies on the volume; empty when resident. */
  readonly runs: readonly DataRun[];
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function residentStream(value: Uint8Array): AttributeStream {
  return {
    size: value.length,
    initializedSize: value.length,
    runs: [],
    read: async (offset, length) => {
      if (offset < 0 || length < 0 || offset + length > value.length) {
        fail("NTFS_INVALID", "resident attribute", `read ${offset}+${length} past ${value.length} bytes`);
      }
      return copyBytes(value, offset, offset + length);
    },
  };
}

/**
 * A non-resident stream over `runs` (sorted, contiguous from VCN 0). Bytes at or past
 * `initializedSize` read as zeros, as NTFS defines them.
 */
export function nonResidentStream(
  read: ReadAt,
  clusterSize: number,
  runs: readonly DataRun[],
  size: number,
  initializedSize: number,
  what: string,
): AttributeStream {
  return {
    size,
    initializedSize,
    runs,
    read: async (offset, length) => {
      if (offset < 0 || length < 0 || offset + length > size || length > MAX_STRUCTURE_BYTES) {
        fail("NTFS_INVALID", what, `read ${offset}+${length} outside its ${size} bytes`);
      }
      const out = new Uint8Array(length);
      const end = offset + length;
      let pos = offset;
      while (pos < end) {
        const vcn = Math.floor(pos / clusterSize);
        const run = findRun(runs, vcn);
        if (run === undefined) fail("NTFS_INVALID", what, `no run maps VCN ${vcn}`);
        const runEnd = (run.vcn + run.length) * clusterSize;
        const n = Math.min(end, runEnd) - pos;
        if (run.lcn !== null && pos < initializedSize) {
          const bytes = await read(run.lcn * clusterSize + (pos - run.vcn * clusterSize), n);
          out.set(bytes, pos - offset);
        }
        pos += n;
      }
      if (initializedSize < end) out.fill(0, Math.max(0, initializedSize - offset));
      return out;
    },
  };
}

/** The run containing `vcn` (binary search over sorted runs). */
export function findRun(runs: readonly DataRun[], vcn: number): DataRun | undefined {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const run = runs[mid] as DataRun;
    if (vcn < run.vcn) hi = mid - 1;
    else if (vcn >= run.vcn + run.length) lo = mid + 1;
    else return run;
  }
  return undefined;
}
