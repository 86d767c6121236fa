/**
 * RETRIEVAL_POINTERS_BUFFER, the answer to FSCTL_GET_RETRIEVAL_POINTERS: where a file's clusters
 * lie on the volume. Each extent ends at NextVcn and starts at the previous extent's end; an LCN of
 * −1 is a hole (sparse, or the unused tail of a compression unit) that occupies no cluster.
 */

import { ByteReader } from "./byte-reader.ts";
import { RETRIEVAL_POINTERS } from "./layout.ts";

export interface FileRun {
  /** First virtual cluster (cluster index within the file). */
  readonly vcn: number;
  /** First logical cluster on the volume, or null for a hole. */
  readonly lcn: number | null;
  readonly clusters: number;
}

export interface RetrievalPointers {
  readonly startingVcn: number;
  readonly runs: readonly FileRun[];
  /** Where the next call continues when this answer came with ERROR_MORE_DATA. */
  readonly nextVcn: number;
}

/**
 * @param volumeClusters when given, runs must lie inside the volume (a hostile or stale answer
 *   pointing past the end is refused rather than mapped to a disk offset outside the volume).
 */
export function parseRetrievalPointers(bytes: Uint8Array, volumeClusters?: number): RetrievalPointers {
  const r = new ByteReader(bytes, "RETRIEVAL_POINTERS_BUFFER");
  const count = r.u32(RETRIEVAL_POINTERS.extentCount, "ExtentCount");
  const startingVcn = r.i64(RETRIEVAL_POINTERS.startingVcn, "StartingVcn");
  if (startingVcn < 0) r.fail(`StartingVcn ${startingVcn} is negative`);
  const room = Math.floor((bytes.length - RETRIEVAL_POINTERS.extents) / RETRIEVAL_POINTERS.extentSize);
  if (count > room)
    r.fail(`ExtentCount ${count} needs ${count} extents, the buffer holds ${Math.max(0, room)}`);
  const runs: FileRun[] = [];
  let vcn = startingVcn;
  for (let i = 0; i < count; i++) {
    const at = RETRIEVAL_POINTERS.extents + i * RETRIEVAL_POINTERS.extentSize;
    const nextVcn = r.i64(at, `Extents[${i}].NextVcn`);
    const lcn = r.i64(at + 8, `Extents[${i}].Lcn`);
    if (nextVcn <= vcn) r.fail(`Extents[${i}].NextVcn ${nextVcn} does not move past VCN ${vcn}`);
    if (lcn < -1) r.fail(`Extents[${i}].Lcn ${lcn} is negative`);
    const clusters = nextVcn - vcn;
    if (lcn >= 0 && volumeClusters !== undefined && lcn + clusters > volumeClusters) {
      r.fail(`Extents[${i}] (LCN ${lcn} × ${clusters}) runs past the volume's ${volumeClusters} clusters`);
    }
    runs.push({ vcn, lcn: lcn === -1 ? null : lcn, clusters });
    vcn = nextVcn;
  }
  return { startingVcn, runs, nextVcn: vcn };
}

/** Encodes an answer (for the simulated host and tests). */
export function encodeRetrievalPointers(startingVcn: number, runs: readonly FileRun[]): Uint8Array {
  const out = new Uint8Array(RETRIEVAL_POINTERS.extents + runs.length * RETRIEVAL_POINTERS.extentSize);
  const view = new DataView(out.buffer);
  view.setUint32(RETRIEVAL_POINTERS.extentCount, runs.length, true);
  view.setBigInt64(RETRIEVAL_POINTERS.startingVcn, BigInt(startingVcn), true);
  runs.forEach((run, i) => {
    const at = RETRIEVAL_POINTERS.extents + i * RETRIEVAL_POINTERS.extentSize;
    view.setBigInt64(at, BigInt(run.vcn + run.clusters), true);
    view.setBigInt64(at + 8, BigInt(run.lcn ?? -1), true);
  });
  return out;
}
