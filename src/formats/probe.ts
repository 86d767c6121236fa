/** Recognises what a volume holds from its first bytes (only NTFS is parsed further; the rest sync whole). */

import { looksLikeNtfs } from "./ntfs/boot-sector.ts";

/** Bytes a probe needs from the start of the volume (UFS2 and btrfs keep their superblock at 64 KiB). */
export const PROBE_BYTES = 68 * 1024;

const ascii = (b: Uint8Array, at: number, n: number) =>
  at + n <= b.length ? String.fromCharCode(...b.subarray(at, at + n)) : "";
const le16 = (b: Uint8Array, at: number) =>
  at + 2 <= b.length ? (b[at] as number) | ((b[at + 1] as number) << 8) : -1;
const le32 = (b: Uint8Array, at: number) => (at + 4 <= b.length ? le16(b, at) + le16(b, at + 2) * 65536 : -1);

/**
 * Every file-system or container signature found in `head` (the first PROBE_BYTES of a volume),
 * most specific first. Several signatures mean the volume was reformatted over without wiping.
 */
export function probeSignatures(head: Uint8Array): string[] {
  const found: string[] = [];
  if (looksLikeNtfs(head)) found.push("ntfs");
  if (ascii(head, 3, 8) === "-FVE-FS-") found.push("bitlocker");
  if (ascii(head, 3, 8) === "EXFAT   ") found.push("exfat");
  if (ascii(head, 3, 8) === "ReFS\0\0\0\0") found.push("refs");
  const fat = fatType(head);
  if (fat !== undefined) found.push(fat);
  const ext = extType(head);
  if (ext !== undefined) found.push(ext);
  if (ascii(head, 0, 4) === "XFSB") found.push("xfs");
  if (ascii(head, 512, 8) === "LABELONE") found.push("lvm2");
  if (ascii(head, 0, 6) === "LUKS\xba\xbe") found.push("luks");
  if (ascii(head, 65536 + 64, 8) === "_BHRfS_M") found.push("btrfs");
  const ufs1 = le32(head, 8192 + 1372);
  const ufs2 = le32(head, 65536 + 1372);
  if (ufs1 === 0x011954 || ufs2 === 0x19540119) found.push(ufs1 === 0x011954 ? "ufs1" : "ufs2");
  if (ascii(head, 4086, 10) === "SWAPSPACE2" || ascii(head, 4086, 10) === "SWAP-SPACE") found.push("swap");
  return found;
}

/** Whether sector 0 of a disk is a volume boot record rather than an MBR (a bare, unpartitioned volume). */
export function looksLikeVolumeBootRecord(sector0: Uint8Array): boolean {
  const s = probeSignatures(sector0);
  return (
    s.includes("ntfs") ||
    s.includes("exfat") ||
    s.includes("bitlocker") ||
    s.includes("refs") ||
    fatType(sector0) !== undefined
  );
}

function fatType(b: Uint8Array): string | undefined {
  if (b[0] !== 0xeb && b[0] !== 0xe9) return undefined;
  const bytesPerSector = le16(b, 11);
  const sectorsPerCluster = b[13] ?? 0;
  if (![512, 1024, 2048, 4096].includes(bytesPerSector)) return undefined;
  if (sectorsPerCluster === 0 || (sectorsPerCluster & (sectorsPerCluster - 1)) !== 0) return undefined;
  if (ascii(b, 0x52, 5) === "FAT32") return "fat32";
  const label = ascii(b, 0x36, 5);
  if (label === "FAT12") return "fat12";
  if (label === "FAT16") return "fat16";
  if (label === "FAT  ") return "fat";
  return undefined;
}

function extType(b: Uint8Array): string | undefined {
  const sb = 1024;
  if (le16(b, sb + 56) !== 0xef53) return undefined;
  const inodes = le32(b, sb);
  const blocks = le32(b, sb + 4);
  const logBlockSize = le32(b, sb + 24);
  if (inodes <= 0 || blocks <= 0 || logBlockSize < 0 || logBlockSize > 6) return undefined;
  const compat = le32(b, sb + 92);
  const incompat = le32(b, sb + 96);
  if ((incompat & 0x0040) !== 0) return "ext4"; // extents
  return (compat & 0x0004) !== 0 ? "ext3" : "ext2"; // has_journal
}
