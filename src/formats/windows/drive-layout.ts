/**
 * DRIVE_LAYOUT_INFORMATION_EX, the answer to IOCTL_DISK_GET_DRIVE_LAYOUT_EX: a disk's partition
 * style, identity (MBR signature or GPT disk GUID) and partitions. MBR layouts list their table
 * slots in groups of four, empty ones included; those are dropped here.
 */

import { ByteReader, encodeGuid } from "./byte-reader.ts";
import { DRIVE_LAYOUT, PARTITION_ENTRY } from "./layout.ts";

export type PartitionStyle = "mbr" | "gpt" | "raw";

const STYLES: readonly PartitionStyle[] = ["mbr", "gpt", "raw"];

export interface Partition {
  readonly number: number;
  readonly startingOffset: number;
  readonly length: number;
  readonly mbr?: {
    readonly type: number;
    readonly bootIndicator: boolean;
    readonly recognized: boolean;
    readonly hiddenSectors: number;
  };
  readonly gpt?: {
    readonly type: string;
    readonly id: string;
    readonly attributes: bigint;
    readonly name: string;
  };
}

export interface DriveLayout {
  readonly style: PartitionStyle;
  /** MBR disk signature (0 when the disk has none). */
  readonly signature?: number;
  readonly gpt?: {
    readonly diskId: string;
    readonly startingUsableOffset: number;
    readonly usableLength: number;
    readonly maxPartitionCount: number;
  };
  readonly partitions: readonly Partition[];
}

/** GPT partition types the agent reasons about. */
export const GPT_TYPE = {
  ESP: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  MSR: "E3C9E316-0B5C-4DB8-817D-F92DF00215AE",
  BASIC_DATA: "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
  LDM_METADATA: "5808C8AA-7E8F-42E0-85D2-E1E90434CFB3",
  LDM_DATA: "AF9B60A0-1431-4F62-BC68-3311714A69AD",
  RECOVERY: "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC",
} as const;

/** MBR partition types the agent reasons about. */
export const MBR_TYPE = { EXTENDED: 0x05, EXTENDED_LBA: 0x0f, LDM: 0x42, GPT_PROTECTIVE: 0xee } as const;

/** @param diskSize when given, every partition must lie inside the disk. */
export function parseDriveLayout(bytes: Uint8Array, diskSize?: number): DriveLayout {
  const r = new ByteReader(bytes, "DRIVE_LAYOUT_INFORMATION_EX");
  const styleCode = r.u32(DRIVE_LAYOUT.partitionStyle, "PartitionStyle");
  const style = STYLES[styleCode] ?? r.fail(`PartitionStyle ${styleCode} is not MBR (0), GPT (1) or RAW (2)`);
  const count = r.u32(DRIVE_LAYOUT.partitionCount, "PartitionCount");
  const room = Math.floor((bytes.length - DRIVE_LAYOUT.partitionEntry) / PARTITION_ENTRY.size);
  if (count > room) r.fail(`PartitionCount ${count}, the buffer holds ${Math.max(0, room)} entries`);
  const partitions: Partition[] = [];
  for (let i = 0; i < count; i++) {
    const p = parsePartition(r, DRIVE_LAYOUT.partitionEntry + i * PARTITION_ENTRY.size, i, style, diskSize);
    if (p !== undefined) partitions.push(p);
  }
  const overlap = findOverlap(partitions);
  if (overlap !== undefined) r.fail(overlap);
  if (style === "mbr")
    return { style, signature: r.u32(DRIVE_LAYOUT.mbrSignature, "Mbr.Signature"), partitions };
  if (style === "gpt") {
    return {
      style,
      gpt: {
        diskId: r.guid(DRIVE_LAYOUT.gptDiskId, "Gpt.DiskId"),
        startingUsableOffset: r.i64(DRIVE_LAYOUT.gptStartingUsableOffset, "Gpt.StartingUsableOffset"),
        usableLength: r.i64(DRIVE_LAYOUT.gptUsableLength, "Gpt.UsableLength"),
        maxPartitionCount: r.u32(DRIVE_LAYOUT.gptMaxPartitionCount, "Gpt.MaxPartitionCount"),
      },
      partitions,
    };
  }
  return { style, partitions };
}

function parsePartition(
  r: ByteReader,
  at: number,
  index: number,
  style: PartitionStyle,
  diskSize: number | undefined,
): Partition | undefined {
  const field = (name: string) => `PartitionEntry[${index}].${name}`;
  const entryStyle = STYLES[r.u32(at + PARTITION_ENTRY.partitionStyle, field("PartitionStyle"))];
  const startingOffset = r.i64(at + PARTITION_ENTRY.startingOffset, field("StartingOffset"));
  const length = r.i64(at + PARTITION_ENTRY.partitionLength, field("PartitionLength"));
  const number = r.u32(at + PARTITION_ENTRY.partitionNumber, field("PartitionNumber"));
  if (style !== "raw" && entryStyle !== style)
    r.fail(`${field("PartitionStyle")} differs from the disk's ${style}`);
  if (startingOffset < 0 || length < 0) r.fail(`${field("StartingOffset/PartitionLength")} is negative`);
  if (style === "mbr") {
    const type = r.u8(at + PARTITION_ENTRY.mbrType, field("Mbr.PartitionType"));
    // An unused MBR slot: type 0 (PARTITION_ENTRY_UNUSED) and nothing in it.
    if (type === 0 && length === 0) return undefined;
    checkInside(r, field("extent"), startingOffset, length, diskSize);
    return {
      number,
      startingOffset,
      length,
      mbr: {
        type,
        bootIndicator: r.u8(at + PARTITION_ENTRY.mbrBootIndicator, field("Mbr.BootIndicator")) !== 0,
        recognized: r.u8(at + PARTITION_ENTRY.mbrRecognized, field("Mbr.RecognizedPartition")) !== 0,
        hiddenSectors: r.u32(at + PARTITION_ENTRY.mbrHiddenSectors, field("Mbr.HiddenSectors")),
      },
    };
  }
  checkInside(r, field("extent"), startingOffset, length, diskSize);
  if (style === "raw") return { number, startingOffset, length };
  const rawName = r.utf16(at + PARTITION_ENTRY.gptName, PARTITION_ENTRY.gptNameBytes, field("Gpt.Name"));
  const nul = rawName.indexOf("\0");
  return {
    number,
    startingOffset,
    length,
    gpt: {
      type: r.guid(at + PARTITION_ENTRY.gptType, field("Gpt.PartitionType")),
      id: r.guid(at + PARTITION_ENTRY.gptId, field("Gpt.PartitionId")),
      attributes: r.u64big(at + PARTITION_ENTRY.gptAttributes, field("Gpt.Attributes")),
      name: nul === -1 ? rawName : rawName.slice(0, nul),
    },
  };
}

function checkInside(r: ByteReader, field: string, offset: number, length: number, diskSize?: number): void {
  if (!Number.isSafeInteger(offset + length)) r.fail(`${field} overflows`);
  if (diskSize !== undefined && offset + length > diskSize) {
    r.fail(`${field} ${offset}+${length} runs past the end of the ${diskSize}-byte disk`);
  }
}

/** Data partitions must not overlap; an MBR extended container holds its logical partitions. */
function findOverlap(partitions: readonly Partition[]): string | undefined {
  const data = partitions
    .filter((p) => p.length > 0 && !isContainer(p))
    .sort((a, b) => a.startingOffset - b.startingOffset);
  for (let i = 1; i < data.length; i++) {
    const a = data[i - 1] as Partition;
    const b = data[i] as Partition;
    if (b.startingOffset < a.startingOffset + a.length) {
      return `partitions ${a.number} and ${b.number} overlap (${a.startingOffset}+${a.length}, ${b.startingOffset})`;
    }
  }
  return undefined;
}

export function isContainer(p: Partition): boolean {
  return p.mbr !== undefined && (p.mbr.type === MBR_TYPE.EXTENDED || p.mbr.type === MBR_TYPE.EXTENDED_LBA);
}

/** True for a disk managed by the Logical Disk Manager (a "dynamic disk"). */
export function isDynamic(layout: DriveLayout): boolean {
  return layout.partitions.some(
    (p) =>
      p.mbr?.type === MBR_TYPE.LDM ||
      p.gpt?.type === GPT_TYPE.LDM_METADATA ||
      p.gpt?.type === GPT_TYPE.LDM_DATA,
  );
}

/** The stable identity of a disk: its GPT disk GUID or MBR signature, never its number. */
export function diskIdentity(layout: DriveLayout): string | undefined {
  if (layout.style === "gpt" && layout.gpt !== undefined) return `gpt-${layout.gpt.diskId.toLowerCase()}`;
  if (layout.style === "mbr" && layout.signature !== undefined && layout.signature !== 0) {
    return `mbr-${layout.signature.toString(16).padStart(8, "0")}`;
  }
  return undefined;
}

/** Encodes a layout (for the simulated host and tests). */
export function encodeDriveLayout(layout: DriveLayout): Uint8Array {
  const slots =
    layout.style === "mbr"
      ? Math.max(4, Math.ceil(layout.partitions.length / 4) * 4)
      : layout.partitions.length;
  const out = new Uint8Array(DRIVE_LAYOUT.partitionEntry + slots * PARTITION_ENTRY.size);
  const view = new DataView(out.buffer);
  const styleCode = STYLES.indexOf(layout.style);
  view.setUint32(DRIVE_LAYOUT.partitionStyle, styleCode, true);
  view.setUint32(DRIVE_LAYOUT.partitionCount, slots, true);
  if (layout.style === "mbr") view.setUint32(DRIVE_LAYOUT.mbrSignature, layout.signature ?? 0, true);
  if (layout.gpt !== undefined) {
    out.set(encodeGuid(layout.gpt.diskId), DRIVE_LAYOUT.gptDiskId);
    view.setBigInt64(DRIVE_LAYOUT.gptStartingUsableOffset, BigInt(layout.gpt.startingUsableOffset), true);
    view.setBigInt64(DRIVE_LAYOUT.gptUsableLength, BigInt(layout.gpt.usableLength), true);
    view.setUint32(DRIVE_LAYOUT.gptMaxPartitionCount, layout.gpt.maxPartitionCount, true);
  }
  for (let i = 0; i < slots; i++) {
    const at = DRIVE_LAYOUT.partitionEntry + i * PARTITION_ENTRY.size;
    view.setUint32(at + PARTITION_ENTRY.partitionStyle, styleCode, true);
    const p = layout.partitions[i];
    if (p === undefined) continue;
    view.setBigInt64(at + PARTITION_ENTRY.startingOffset, BigInt(p.startingOffset), true);
    view.setBigInt64(at + PARTITION_ENTRY.partitionLength, BigInt(p.length), true);
    view.setUint32(at + PARTITION_ENTRY.partitionNumber, p.number, true);
    if (p.mbr !== undefined) {
      out[at + PARTITION_ENTRY.mbrType] = p.mbr.type;
      out[at + PARTITION_ENTRY.mbrBootIndicator] = p.mbr.bootIndicator ? 1 : 0;
      out[at + PARTITION_ENTRY.mbrRecognized] = p.mbr.recognized ? 1 : 0;
      view.setUint32(at + PARTITION_ENTRY.mbrHiddenSectors, p.mbr.hiddenSectors, true);
    }
    if (p.gpt !== undefined) {
      out.set(encodeGuid(p.gpt.type), at + PARTITION_ENTRY.gptType);
      out.set(encodeGuid(p.gpt.id), at + PARTITION_ENTRY.gptId);
      view.setBigUint64(at + PARTITION_ENTRY.gptAttributes, p.gpt.attributes, true);
      out.set(Buffer.from(p.gpt.name.slice(0, 36), "utf16le"), at + PARTITION_ENTRY.gptName);
    }
  }
  return out;
}
