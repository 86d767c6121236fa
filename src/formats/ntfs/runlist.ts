/**
 * Non-resident attribute runlists ("mapping pairs"): where each run of virtual clusters (VCNs) of an
 * attribute lives on the volume (LCNs), or that it is sparse.
 */

import { fail } from "../bytes.ts";

export interface DataRun {
  /** First virtual cluster of the run within the attribute. */
  readonly vcn: number;
  /** First logical cluster on the volume, or null for a sparse run (reads as zeros). */
  readonly lcn: number | null;
  readonly length: number;
}

/**
 * Decodes mapping pairs starting at `lowestVcn`. Every run must lie inside the volume's
 * `clusterCount` clusters: a runlist pointing past the volume is NTFS_INVALID.
 */
export function decodeRunlist(
  bytes: Uint8Array,
  lowestVcn: number,
  clusterCount: number,
  what: string,
): DataRun[] {
  const runs: DataRun[] = [];
  let pos = 0;
  let vcn = lowestVcn;
  let lcn = 0;
  while (pos < bytes.length) {
    const header = bytes[pos] as number;
    if (header === 0) return runs;
    const lengthSize = header & 0x0f;
    const offsetSize = header >>> 4;
    if (lengthSize === 0 || lengthSize > 8 || offsetSize > 8) {
      fail("NTFS_INVALID", what, `runlist header 0x${header.toString(16)} at byte ${pos} is invalid`);
    }
    if (pos + 1 + lengthSize + offsetSize > bytes.length) {
      fail("NTFS_INVALID", what, `runlist entry at byte ${pos} runs past the attribute`);
    }
    const length = signedLe(bytes, pos + 1, lengthSize);
    if (length <= 0 || !Number.isSafeInteger(length)) {
      fail("NTFS_INVALID", what, `run at byte ${pos} has length ${length}`);
    }
    let runLcn: number | null = null;
    if (offsetSize > 0) {
      lcn += signedLe(bytes, pos + 1 + lengthSize, offsetSize);
      if (!Number.isSafeInteger(lcn) || lcn < 0 || lcn + length > clusterCount) {
        fail(
          "NTFS_INVALID",
          what,
          `run of ${length} clusters at LCN ${lcn} lies outside the volume's ${clusterCount} clusters`,
        );
      }
      runLcn = lcn;
    }
    runs.push({ vcn, lcn: runLcn, length });
    vcn += length;
    if (!Number.isSafeInteger(vcn)) fail("NTFS_INVALID", what, "runlist VCNs overflow");
    pos += 1 + lengthSize + offsetSize;
  }
  fail("NTFS_INVALID", what, "runlist has no terminator");
}

/** A little-endian two's-complement integer of 1–8 bytes; magnitudes past 2^53 come back unsafe. */
function signedLe(bytes: Uint8Array, at: number, size: number): number {
  let value = 0n;
  for (let i = size - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[at + i] as number);
  if ((bytes[at + size - 1] as number) & 0x80) value -= 1n << BigInt(8 * size);
  return Number(value);
}

/** Clusters the runs cover (sparse ones included). */
export function runsLength(runs: readonly DataRun[]): number {
  const last = runs.at(-1);
  const first = runs[0];
  return last === undefined || first === undefined ? 0 : last.vcn + last.length - first.vcn;
}
