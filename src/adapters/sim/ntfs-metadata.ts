import type { BlockMap, Extent } from "../../domain/block-map.ts";

/**
 * The on-disk metadata an NTFS volume rewrites whenever allocation changes: the boot sector, the
 * $Bitmap sectors holding the changed bits and the file's $MFT record. The simulator writes them so
 * the always-allocated metadata region changes between snapshots, as it does on a real volume.
 */
export const SECTOR_SIZE = 512;
/** Boot sector, $Bitmap and $MFT live in the first MiB, which is always allocated. */
export const METADATA_BYTES = 1 << 20;
/** NTFS reserves the first MFT records for system files. */
export const FIRST_USER_FILE = 64;

const BITMAP_OFFSET = 4096;
/** Enough bits for 4 GiB at 4 KiB clusters; larger volumes wrap (the bytes are realistic, not parsed). */
const BITMAP_BYTES = 124 * 1024;
const MFT_OFFSET = BITMAP_OFFSET + BITMAP_BYTES;
const MFT_RECORD = 1024;
const MFT_SLOTS = (METADATA_BYTES - MFT_OFFSET) / MFT_RECORD;

/** A sector-aligned metadata write. */
export interface MetadataWrite {
  readonly offset: number;
  readonly data: Uint8Array;
}

export function bootSector(volume: string, capacity: number): MetadataWrite {
  const data = new Uint8Array(SECTOR_SIZE);
  data.set([0xeb, 0x52, 0x90], 0);
  new TextEncoder().encodeInto(`NTFS    sim volume ${volume} bytes=${capacity}`, data.subarray(3));
  data.set([0x55, 0xaa], SECTOR_SIZE - 2);
  return { offset: 0, data };
}

/** The $Bitmap sectors holding the bits of `extents`, rebuilt from `allocation`. */
export function bitmapSectors(allocation: BlockMap, extents: readonly Extent[]): MetadataWrite[] {
  const clusterSize = allocation.grain;
  const sectors = new Set<number>();
  for (const e of extents) {
    const firstByte = Math.floor(e.offset / clusterSize / 8);
    const lastByte = Math.floor((e.offset + e.length - 1) / clusterSize / 8);
    for (let b = firstByte; b <= lastByte; b++) sectors.add(Math.floor((b % BITMAP_BYTES) / SECTOR_SIZE));
  }
  return [...sectors]
    .sort((a, b) => a - b)
    .map((s) => {
      const data = new Uint8Array(SECTOR_SIZE);
      for (let j = 0; j < SECTOR_SIZE; j++) {
        let bits = 0;
        for (let k = 0, c = (s * SECTOR_SIZE + j) * 8; k < 8; k++, c++) {
          if (c < allocation.blocks && allocation.has(c)) bits |= 1 << k;
        }
        data[j] = bits;
      }
      return { offset: BITMAP_OFFSET + s * SECTOR_SIZE, data };
    });
}

/** The file's $MFT record (id, size and cluster runs, as text). */
export function mftRecord(
  file: { readonly id: number; readonly size: number; readonly extents: readonly Extent[] },
  clusterSize: number,
  inUse: boolean,
): MetadataWrite {
  const data = new Uint8Array(MFT_RECORD);
  const runs = file.extents.map((e) => `${e.offset / clusterSize}+${e.length / clusterSize}`);
  const text = `FILE0 id=${file.id} inUse=${inUse} size=${file.size} runs=${runs.join(",")}`;
  new TextEncoder().encodeInto(text.slice(0, MFT_RECORD - 8), data);
  return { offset: MFT_OFFSET + (file.id % MFT_SLOTS) * MFT_RECORD, data };
}
