/**
 * VOLUME_BITMAP_BUFFER, the answer to FSCTL_GET_VOLUME_BITMAP: which clusters of a volume are in
 * use. A large volume's bitmap comes in several answers (ERROR_MORE_DATA), each starting where the
 * last one stopped; `VolumeBitmapAssembler` checks they join up and builds one cluster map.
 */

import { BlockMap } from "../../domain/block-map.ts";
import { ByteReader, WindowsFormatError } from "./byte-reader.ts";
import { VOLUME_BITMAP } from "./layout.ts";

const STRUCTURE = "VOLUME_BITMAP_BUFFER";

export interface VolumeBitmapPart {
  /** First cluster described (the kernel rounds the requested LCN down to a multiple of 8). */
  readonly startingLcn: number;
  /** Clusters from `startingLcn` to the end of the volume, whether or not all are in this part. */
  readonly bitmapSize: number;
  /** Clusters this part actually describes. */
  readonly clusters: number;
  /** One bit per cluster, LSB first, starting at `startingLcn`. */
  readonly bits: Uint8Array;
}

/**
 * Parses one answer. `more` is true when the call failed with ERROR_MORE_DATA: the buffer then
 * holds only a prefix of the bitmap, and the caller asks again from `startingLcn + clusters`.
 */
export function parseVolumeBitmap(bytes: Uint8Array, more: boolean): VolumeBitmapPart {
  const r = new ByteReader(bytes, STRUCTURE);
  const startingLcn = r.i64(VOLUME_BITMAP.startingLcn, "StartingLcn");
  const bitmapSize = r.i64(VOLUME_BITMAP.bitmapSize, "BitmapSize");
  if (startingLcn < 0 || startingLcn % 8 !== 0)
    r.fail(`StartingLcn ${startingLcn} is not a non-negative multiple of 8`);
  if (bitmapSize < 0) r.fail(`BitmapSize ${bitmapSize} is negative`);
  const available = (bytes.length - VOLUME_BITMAP.buffer) * 8;
  let clusters: number;
  if (more) {
    // A partial answer covers whole bytes only, and must leave something for the next call.
    clusters = Math.min(available, bitmapSize);
    if (clusters === 0 && bitmapSize > 0) r.fail("a partial answer describes no cluster");
  } else {
    if (available < bitmapSize) {
      r.fail(
        `BitmapSize ${bitmapSize} needs ${Math.ceil(bitmapSize / 8)} bytes, the buffer has ${available / 8}`,
      );
    }
    clusters = bitmapSize;
  }
  return {
    startingLcn,
    bitmapSize,
    clusters,
    bits: bytes.subarray(VOLUME_BITMAP.buffer, VOLUME_BITMAP.buffer + Math.ceil(clusters / 8)),
  };
}

/** Joins the parts of one volume's bitmap, in order, into a map of allocated clusters. */
export class VolumeBitmapAssembler {
  readonly #map: BlockMap;
  #next = 0;

  /**
   * @param totalClusters the volume's cluster count (NTFS_VOLUME_DATA_BUFFER.TotalClusters)
   * @param clusterSize bytes per cluster: the grain of the resulting map
   */
  constructor(
    readonly totalClusters: number,
    clusterSize: number,
  ) {
    this.#map = new BlockMap(clusterSize, totalClusters);
  }

  /** The LCN to ask from next. */
  get nextLcn(): number {
    return this.#next;
  }

  get complete(): boolean {
    return this.#next >= this.totalClusters;
  }

  add(part: VolumeBitmapPart): void {
    const fail = (message: string): never => {
      throw new WindowsFormatError(STRUCTURE, message);
    };
    // A request from LCN n may be answered from n rounded down to a byte: overlap is allowed,
    // a gap is not.
    if (part.startingLcn > this.#next)
      fail(`part starts at LCN ${part.startingLcn}, expected ≤ ${this.#next}`);
    if (part.startingLcn + part.bitmapSize !== this.totalClusters) {
      fail(
        `part says the volume ends at cluster ${part.startingLcn + part.bitmapSize}, it has ${this.totalClusters}`,
      );
    }
    const end = part.startingLcn + part.clusters;
    for (let lcn = this.#next; lcn < end;) {
      const bit = lcn - part.startingLcn;
      const byte = part.bits[bit >>> 3] as number;
      // Skip whole empty or whole full bytes quickly; bitmaps are mostly runs.
      if ((bit & 7) === 0 && lcn + 8 <= end && (byte === 0 || byte === 0xff)) {
        if (byte === 0xff) this.#map.addRange(lcn, 8);
        lcn += 8;
        continue;
      }
      if ((byte >>> (bit & 7)) & 1) this.#map.add(lcn);
      lcn++;
    }
    this.#next = Math.max(this.#next, end);
  }

  /** The allocated clusters; throws if parts are missing. */
  result(): BlockMap {
    if (!this.complete) {
      throw new WindowsFormatError(STRUCTURE, `bitmap stops at LCN ${this.#next} of ${this.totalClusters}`);
    }
    return this.#map;
  }
}

/** Encodes a bitmap answer (used by the simulated host behind the native boundary). */
export function encodeVolumeBitmap(
  allocated: BlockMap,
  startingLcn: number,
  maxBytes: number,
): { bytes: Uint8Array; more: boolean } {
  const start = startingLcn - (startingLcn % 8);
  const bitmapSize = allocated.blocks - start;
  const room = Math.max(0, maxBytes - VOLUME_BITMAP.buffer) * 8;
  const clusters = Math.min(bitmapSize, room);
  const out = new Uint8Array(VOLUME_BITMAP.buffer + Math.ceil(clusters / 8));
  const view = new DataView(out.buffer);
  view.setBigInt64(VOLUME_BITMAP.startingLcn, BigInt(start), true);
  view.setBigInt64(VOLUME_BITMAP.bitmapSize, BigInt(bitmapSize), true);
  for (const run of allocated.runs()) {
    const from = Math.max(run.start, start);
    const to = Math.min(run.start + run.count, start + clusters);
    for (let lcn = from; lcn < to; lcn++) {
      const bit = lcn - start;
      out[VOLUME_BITMAP.buffer + (bit >>> 3)] =
        (out[VOLUME_BITMAP.buffer + (bit >>> 3)] as number) | (1 << (bit & 7));
    }
  }
  return { bytes: out, more: clusters < bitmapSize };
}
