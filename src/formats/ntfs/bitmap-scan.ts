/**
 * Streaming $Bitmap: one bit per cluster, 1 = allocated. Read in bounded pieces so a 2 TiB volume
 * (64 MiB of bitmap at 4 KiB clusters) never sits in memory whole. Bits at or past the volume's
 * cluster count mean nothing (ntfs-3g sets them) and are ignored.
 */

import { fail } from "../bytes.ts";
import type { DataRun } from "./runlist.ts";
import type { NtfsVolume } from "./volume.ts";

export interface BitmapScan {
  readonly usedClusters: number;
}

const PIECE_BYTES = 1 << 20;

/**
 * Calls `onAllocated(lcn, count)` for every maximal run of allocated clusters, in ascending order,
 * and checks that the system files' own clusters are marked allocated (else NTFS_INVALID: a bitmap
 * that forgets $MFT cannot be trusted to remember user data).
 */
export async function scanBitmap(
  volume: Pick<NtfsVolume, "bitmap" | "boot" | "systemRuns">,
  onAllocated: (lcn: number, count: number) => void,
  pieceBytes = PIECE_BYTES,
): Promise<BitmapScan> {
  const clusterCount = volume.boot.clusterCount;
  const required = volume.systemRuns
    .filter((r) => r.lcn !== null)
    .sort((a, b) => (a.lcn as number) - (b.lcn as number));
  const needed = Math.ceil(clusterCount / 8);
  let used = 0;
  let runStart = -1;
  for (let byteOffset = 0; byteOffset < needed; byteOffset += pieceBytes) {
    const piece = await volume.bitmap.read(byteOffset, Math.min(pieceBytes, needed - byteOffset));
    const firstBit = byteOffset * 8;
    const endBit = Math.min(clusterCount, firstBit + piece.length * 8);
    checkRequired(piece, firstBit, endBit, required);
    for (let i = 0; i < piece.length; i++) {
      const byte = piece[i] as number;
      const bit0 = firstBit + i * 8;
      if (bit0 + 8 <= endBit && (byte === 0 || byte === 0xff)) {
        // Whole-byte fast path: most of a bitmap is long runs of 0x00 or 0xFF.
        if (byte === 0xff) {
          used += 8;
          if (runStart < 0) runStart = bit0;
        } else if (runStart >= 0) {
          onAllocated(runStart, bit0 - runStart);
          runStart = -1;
        }
        continue;
      }
      for (let b = 0; b < 8 && bit0 + b < endBit; b++) {
        if ((byte >>> b) & 1) {
          used++;
          if (runStart < 0) runStart = bit0 + b;
        } else if (runStart >= 0) {
          onAllocated(runStart, bit0 + b - runStart);
          runStart = -1;
        }
      }
    }
  }
  if (runStart >= 0) onAllocated(runStart, clusterCount - runStart);
  return { usedClusters: used };
}

function checkRequired(
  piece: Uint8Array,
  firstBit: number,
  endBit: number,
  required: readonly DataRun[],
): void {
  for (const run of required) {
    const lcn = run.lcn as number;
    const from = Math.max(lcn, firstBit);
    const to = Math.min(lcn + run.length, endBit);
    for (let bit = from; bit < to; bit++) {
      const rel = bit - firstBit;
      if ((((piece[rel >>> 3] as number) >>> (rel & 7)) & 1) === 0) {
        fail("NTFS_INVALID", "$Bitmap", `cluster ${bit}, used by a system file, is marked free`);
      }
    }
  }
}
