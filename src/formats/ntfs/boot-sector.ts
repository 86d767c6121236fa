/** The NTFS boot sector ($Boot, sector 0 of the volume): geometry and where $MFT lives. */

import { Fields } from "../bytes.ts";

export interface NtfsBootSector {
  readonly bytesPerSector: number;
  /** The raw sectors-per-cluster byte: 1…128, or 0xF4…0xFF meaning 2^(256 − byte) (clusters over 64 KiB). */
  readonly sectorsPerClusterByte: number;
  readonly sectorsPerCluster: number;
  readonly clusterSize: number;
  /** Sectors in the volume, not counting the backup boot sector that follows them. */
  readonly totalSectors: number;
  /** Clusters the volume has: only bits of $Bitmap below this count mean anything. */
  readonly clusterCount: number;
  readonly mftLcn: number;
  readonly mftMirrLcn: number;
  readonly recordSize: number;
  readonly indexRecordSize: number;
  readonly serial: string;
  /** Whether the sector starts with an x86 jump to boot code (absent on data-only volumes). */
  readonly hasBootCode: boolean;
  readonly hasSignature: boolean;
}

export const NTFS_OEM_ID = "NTFS    ";
/** Windows formats clusters of at most 2 MiB. */
export const MAX_CLUSTER_SIZE = 2 << 20;

export function looksLikeNtfs(sector: Uint8Array): boolean {
  return sector.length >= 11 && String.fromCharCode(...sector.subarray(3, 11)) === NTFS_OEM_ID;
}

/** Decodes and validates a boot sector; anything inconsistent is NTFS_INVALID. */
export function parseNtfsBootSector(sector: Uint8Array): NtfsBootSector {
  const f: Fields = new Fields(sector, "NTFS_INVALID", "NTFS boot sector");
  if (f.length < 512) f.fail(`only ${f.length} bytes`);
  if (f.ascii(3, 8) !== NTFS_OEM_ID) f.fail(`OEM id is ${JSON.stringify(f.ascii(3, 8))}, not "NTFS    "`);
  const bytesPerSector = f.u16(0x0b);
  if (!isPowerOfTwo(bytesPerSector) || bytesPerSector < 256 || bytesPerSector > 4096) {
    f.fail(`bytes per sector ${bytesPerSector} is not a power of two from 256 to 4096`);
  }
  const sectorsPerClusterByte = f.u8(0x0d);
  const sectorsPerCluster = decodeClusterCount(sectorsPerClusterByte);
  if (sectorsPerCluster === undefined || !isPowerOfTwo(sectorsPerCluster)) {
    f.fail(`sectors per cluster byte 0x${sectorsPerClusterByte.toString(16)} is invalid`);
  }
  const clusterSize = bytesPerSector * sectorsPerCluster;
  if (clusterSize > MAX_CLUSTER_SIZE) f.fail(`cluster size ${clusterSize} exceeds 2 MiB`);
  // Fields NTFS inherited from FAT and always leaves zero; a FAT or damaged sector fails here.
  for (const [offset, size, name] of [
    [0x0e, 2, "reserved sectors"],
    [0x10, 1, "FAT count"],
    [0x11, 2, "root entries"],
    [0x13, 2, "small sector count"],
    [0x16, 2, "sectors per FAT"],
    [0x20, 4, "large sector count"],
  ] as const) {
    const value = size === 1 ? f.u8(offset) : size === 2 ? f.u16(offset) : f.u32(offset);
    if (value !== 0) f.fail(`${name} is ${value}, NTFS leaves it 0`);
  }
  const totalSectors = f.u64(0x28);
  const clusterCount = Math.floor(totalSectors / sectorsPerCluster);
  if (clusterCount < 1) f.fail(`volume of ${totalSectors} sectors holds no whole cluster`);
  const mftLcn = f.u64(0x30);
  const mftMirrLcn = f.u64(0x38);
  if (mftLcn >= clusterCount) f.fail(`$MFT at cluster ${mftLcn} lies past the volume's ${clusterCount}`);
  if (mftMirrLcn >= clusterCount) {
    f.fail(`$MFTMirr at cluster ${mftMirrLcn} lies past the volume's ${clusterCount}`);
  }
  const recordSize = decodeRecordSize(f.i8(0x40), clusterSize);
  if (recordSize === undefined || recordSize < 512 || recordSize > 65536 || !isPowerOfTwo(recordSize)) {
    f.fail(`file record size byte 0x${f.u8(0x40).toString(16)} is invalid`);
  }
  const indexRecordSize = decodeRecordSize(f.i8(0x44), clusterSize);
  if (indexRecordSize === undefined || indexRecordSize < 512 || !isPowerOfTwo(indexRecordSize)) {
    f.fail(`index record size byte 0x${f.u8(0x44).toString(16)} is invalid`);
  }
  const serial = [...f.slice(0x48, 8)]
    .reverse()
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("")
    .toUpperCase();
  const first = f.u8(0);
  return {
    bytesPerSector,
    sectorsPerClusterByte,
    sectorsPerCluster,
    clusterSize,
    totalSectors,
    clusterCount,
    mftLcn,
    mftMirrLcn,
    recordSize,
    indexRecordSize,
    serial,
    hasBootCode: first === 0xeb || first === 0xe9,
    hasSignature: f.u16(510) === 0xaa55,
  };
}

function decodeClusterCount(byte: number): number | undefined {
  if (byte >= 1 && byte <= 0x80) return byte;
  // Windows writes clusters above 64 KiB as a negative power of two.
  if (byte >= 0xf4) return 2 ** (256 - byte);
  return undefined;
}

/** A positive byte counts clusters; a negative one is −log2 of the size in bytes. */
function decodeRecordSize(value: number, clusterSize: number): number | undefined {
  if (value > 0) return value * clusterSize;
  if (value < 0 && value >= -31) return 2 ** -value;
  return undefined;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && Number.isInteger(Math.log2(n));
}
