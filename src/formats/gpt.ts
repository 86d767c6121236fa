/**
 * The GUID partition table: a header at LBA 1 and its backup at the last LBA, each with a CRC32 of
 * itself and of the partition entry array it points to. A damaged primary falls back to the
 * backup (and says so); when neither is sound the table is LAYOUT_INVALID.
 */

import type { Extent } from "../domain/block-map.ts";
import { copyBytes, fail, Fields, isAllZero, MAX_STRUCTURE_BYTES, type ReadAt } from "./bytes.ts";
import { crc32 } from "./crc32.ts";
import type { Finding, Partition } from "./partition.ts";
import { gptTypeName } from "./partition-types.ts";

export const GPT_SIGNATURE = "EFI PART";

export interface GptHeader {
  readonly lba: number;
  readonly alternateLba: number;
  readonly firstUsableLba: number;
  readonly lastUsableLba: number;
  readonly diskGuid: string;
  readonly entriesLba: number;
  readonly entryCount: number;
  readonly entrySize: number;
}

export interface ParsedGpt {
  readonly header: GptHeader;
  readonly partitions: Partition[];
  readonly metadata: Extent[];
  readonly findings: Finding[];
}

/** Whether the sector holds a GPT header signature (before any check). */
export function hasGptSignature(sector: Uint8Array): boolean {
  return sector.length >= 8 && String.fromCharCode(...sector.subarray(0, 8)) === GPT_SIGNATURE;
}

export async function parseGpt(read: ReadAt, sectorSize: number, diskSectors: number): Promise<ParsedGpt> {
  const lastLba = diskSectors - 1;
  const findings: Finding[] = [];
  const primary = await tryTable(read, 1, sectorSize, diskSectors);
  let chosen: { header: GptHeader; entries: Uint8Array };
  let backup: typeof primary;
  if (primary.ok) {
    chosen = primary;
    backup = await tryTable(read, primary.header.alternateLba, sectorSize, diskSectors);
    if (!backup.ok) {
      findings.push({
        code: "LAYOUT_INVALID",
        message: `the backup GPT is damaged (${backup.reason}); the primary is used`,
      });
    } else if (primary.header.alternateLba !== lastLba) {
      findings.push({
        code: "LAYOUT_INVALID",
        message: `the backup GPT is at LBA ${primary.header.alternateLba}, not at the last LBA ${lastLba} (was the disk resized?)`,
      });
    }
  } else {
    backup = await tryTable(read, lastLba, sectorSize, diskSectors);
    if (!backup.ok) {
      fail("LAYOUT_INVALID", "GPT", `primary: ${primary.reason}; backup at LBA ${lastLba}: ${backup.reason}`);
    }
    chosen = backup;
    findings.push({
      code: "LAYOUT_INVALID",
      message: `the primary GPT is damaged (${primary.reason}); the backup at LBA ${lastLba} is used`,
    });
  }
  const { header, entries } = chosen;
  const partitions = parseEntries(entries, header, sectorSize);
  const metadata: Extent[] = [{ offset: 0, length: 2 * sectorSize }];
  const arrayBytes = Math.ceil((header.entryCount * header.entrySize) / sectorSize) * sectorSize;
  metadata.push({ offset: header.entriesLba * sectorSize, length: arrayBytes });
  if (backup.ok) {
    metadata.push({ offset: backup.header.entriesLba * sectorSize, length: arrayBytes });
    metadata.push({ offset: backup.header.lba * sectorSize, length: sectorSize });
  }
  return { header, partitions, metadata, findings };
}

type TableResult = { ok: true; header: GptHeader; entries: Uint8Array } | { ok: false; reason: string };

async function tryTable(
  read: ReadAt,
  lba: number,
  sectorSize: number,
  diskSectors: number,
): Promise<TableResult> {
  if (!Number.isSafeInteger(lba) || lba < 1 || lba >= diskSectors)
    return { ok: false, reason: `header LBA ${lba} is outside the disk` };
  const sector = await read(lba * sectorSize, sectorSize);
  const f: Fields = new Fields(sector, "LAYOUT_INVALID", `GPT header at LBA ${lba}`);
  if (!hasGptSignature(sector)) return { ok: false, reason: "no EFI PART signature" };
  const headerSize = f.u32(12);
  if (headerSize < 92 || headerSize > sectorSize) return { ok: false, reason: `header size ${headerSize}` };
  const copy = copyBytes(sector, 0, headerSize);
  copy.fill(0, 16, 20);
  if (crc32(copy) !== f.u32(16)) return { ok: false, reason: "header CRC32 mismatch" };
  const header: GptHeader = {
    lba: f.u64(24),
    alternateLba: f.u64(32),
    firstUsableLba: f.u64(40),
    lastUsableLba: f.u64(48),
    diskGuid: f.guid(56),
    entriesLba: f.u64(72),
    entryCount: f.u32(80),
    entrySize: f.u32(84),
  };
  if (header.lba !== lba) return { ok: false, reason: `header says it is at LBA ${header.lba}` };
  if (header.firstUsableLba > header.lastUsableLba || header.lastUsableLba >= diskSectors) {
    return {
      ok: false,
      reason: `usable LBAs ${header.firstUsableLba}–${header.lastUsableLba} do not fit the disk`,
    };
  }
  if (header.entrySize < 128 || header.entrySize % 128 !== 0 || header.entryCount === 0) {
    return { ok: false, reason: `${header.entryCount} entries of ${header.entrySize} bytes` };
  }
  const arrayBytes = header.entryCount * header.entrySize;
  const arraySectors = Math.ceil(arrayBytes / sectorSize);
  if (
    arrayBytes > MAX_STRUCTURE_BYTES ||
    header.entriesLba + arraySectors > diskSectors ||
    header.entriesLba < 1
  ) {
    return {
      ok: false,
      reason: `entry array at LBA ${header.entriesLba} (${arrayBytes} bytes) does not fit`,
    };
  }
  const inUsable =
    header.entriesLba <= header.lastUsableLba && header.entriesLba + arraySectors > header.firstUsableLba;
  if (inUsable) return { ok: false, reason: "the entry array overlaps the usable area" };
  const entries = await read(header.entriesLba * sectorSize, arrayBytes);
  if (crc32(entries) !== f.u32(88)) return { ok: false, reason: "entry array CRC32 mismatch" };
  return { ok: true, header, entries };
}

function parseEntries(entries: Uint8Array, header: GptHeader, sectorSize: number): Partition[] {
  const partitions: Partition[] = [];
  for (let i = 0; i < header.entryCount; i++) {
    const raw = entries.subarray(i * header.entrySize, i * header.entrySize + 128);
    if (isAllZero(raw.subarray(0, 16))) continue;
    const f: Fields = new Fields(raw, "LAYOUT_INVALID", `GPT entry ${i + 1}`);
    const first = f.u64(32);
    const last = f.u64(40);
    const type = f.guid(0);
    const problems: string[] = [];
    if (last < first) problems.push(`its last LBA ${last} is before its first ${first}`);
    else if (first < header.firstUsableLba || last > header.lastUsableLba) {
      problems.push(
        `LBAs ${first}–${last} lie outside the usable ${header.firstUsableLba}–${header.lastUsableLba}`,
      );
    }
    const sectors = last >= first ? last - first + 1 : 0;
    const name = f.utf16(56, 36);
    const attributes = [...f.slice(48, 8)]
      .reverse()
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    partitions.push({
      number: i + 1,
      role: "primary",
      start: first * sectorSize,
      size: sectors * sectorSize,
      startSector: first,
      sectors,
      type,
      typeName: gptTypeName(type),
      ...(name === "" ? {} : { name }),
      uuid: f.guid(16),
      attributes: `0x${attributes}`,
      problems,
    });
  }
  return partitions;
}
