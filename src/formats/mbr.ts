/**
 * The MBR partition table: four primary entries, and an extended partition holding a chain of
 * extended boot records (EBRs), each with a logical partition and a link to the next. The chain is
 * followed with a visited set and a hop limit, so a looping or endless chain cannot hang us.
 */

import { Fields, type ReadAt } from "./bytes.ts";
import type { Finding, Partition } from "./partition.ts";
import { MBR_EXTENDED_TYPES, mbrTypeName } from "./partition-types.ts";

export const MAX_LOGICAL_PARTITIONS = 128;

export interface MbrEntry {
  readonly status: number;
  readonly type: number;
  readonly relativeStart: number;
  readonly sectors: number;
}

export interface ParsedMbr {
  readonly signature: string;
  readonly partitions: Partition[];
  /** Sectors holding the MBR and every EBR read. */
  readonly tableSectors: number[];
  readonly findings: Finding[];
}

/** The four 16-byte entries of an MBR or EBR; undefined when the sector has no 0x55AA signature. */
export function mbrEntries(sector: Uint8Array): MbrEntry[] | undefined {
  const f: Fields = new Fields(sector, "LAYOUT_INVALID", "MBR");
  if (f.length < 512 || f.u16(510) !== 0xaa55) return undefined;
  return [0, 1, 2, 3].map((i) => {
    const o = 446 + 16 * i;
    return { status: f.u8(o), type: f.u8(o + 4), relativeStart: f.u32(o + 8), sectors: f.u32(o + 12) };
  });
}

/** Whether sector 0 is a plausible MBR: signature present and every boot flag 0x00 or 0x80. */
export function looksLikeMbr(sector: Uint8Array): boolean {
  const entries = mbrEntries(sector);
  return entries !== undefined && entries.every((e) => e.status === 0 || e.status === 0x80);
}

export async function parseMbr(
  read: ReadAt,
  sector0: Uint8Array,
  sectorSize: number,
  diskSectors: number,
): Promise<ParsedMbr> {
  const entries = mbrEntries(sector0);
  const f: Fields = new Fields(sector0, "LAYOUT_INVALID", "MBR");
  const findings: Finding[] = [];
  const partitions: Partition[] = [];
  const tableSectors = [0];
  if (entries === undefined) return { signature: "", partitions, tableSectors, findings };
  const make = (number: number, role: Partition["role"], e: MbrEntry, startSector: number): Partition => ({
    number,
    role,
    start: startSector * sectorSize,
    size: e.sectors * sectorSize,
    startSector,
    sectors: e.sectors,
    type: `0x${e.type.toString(16).padStart(2, "0")}`,
    typeName: mbrTypeName(e.type),
    ...(role === "logical" ? {} : { bootable: e.status === 0x80 }),
    problems: [],
  });
  let extended: Partition | undefined;
  entries.forEach((e, i) => {
    if (e.type === 0 || e.sectors === 0) return;
    const isExtended = MBR_EXTENDED_TYPES.has(e.type);
    const p = make(i + 1, isExtended ? "extended" : "primary", e, e.relativeStart);
    partitions.push(p);
    if (isExtended) {
      if (extended === undefined) extended = p;
      else
        findings.push({
          code: "LAYOUT_INVALID",
          message: `MBR has a second extended partition (${i + 1}); ignored`,
        });
    }
  });
  if (extended !== undefined) {
    await readLogicals(read, extended, sectorSize, diskSectors, make, partitions, tableSectors, findings);
  }
  return { signature: `0x${f.u32(440).toString(16).padStart(8, "0")}`, partitions, tableSectors, findings };
}

async function readLogicals(
  read: ReadAt,
  extended: Partition,
  sectorSize: number,
  diskSectors: number,
  make: (n: number, role: Partition["role"], e: MbrEntry, start: number) => Partition,
  partitions: Partition[],
  tableSectors: number[],
  findings: Finding[],
): Promise<void> {
  const extStart = extended.startSector;
  const extEnd = Math.min(extStart + extended.sectors, diskSectors);
  const visited = new Set<number>();
  let number = 5;
  let link: number | undefined = extStart;
  while (link !== undefined) {
    if (visited.has(link)) {
      findings.push({
        code: "LAYOUT_INVALID",
        message: `the extended partition's EBR chain loops back to sector ${link}; stopped there`,
      });
      return;
    }
    if (visited.size >= MAX_LOGICAL_PARTITIONS) {
      findings.push({
        code: "LAYOUT_INVALID",
        message: `the EBR chain is longer than ${MAX_LOGICAL_PARTITIONS} links; stopped there`,
      });
      return;
    }
    if (link < extStart || link >= extEnd) {
      findings.push({
        code: "LAYOUT_INVALID",
        message: `an EBR link points to sector ${link}, outside the extended partition`,
      });
      return;
    }
    visited.add(link);
    tableSectors.push(link);
    const entries = mbrEntries(await read(link * sectorSize, 512));
    if (entries === undefined) {
      // An empty extended partition has no EBR signature at its first sector: not an error.
      if (link !== extStart) {
        findings.push({
          code: "LAYOUT_INVALID",
          message: `the EBR at sector ${link} has no 0x55AA signature`,
        });
      }
      return;
    }
    let next: number | undefined;
    for (const e of entries) {
      if (e.type === 0 || e.sectors === 0) continue;
      if (MBR_EXTENDED_TYPES.has(e.type)) {
        // The link is relative to the extended partition; extra links are ignored (as Linux does).
        if (next === undefined) next = extStart + e.relativeStart;
        continue;
      }
      // Like Linux, take every data entry of an EBR, not only the first (OS/2 and hand-edited tables use more).
      const p = make(number++, "logical", e, link + e.relativeStart);
      partitions.push(p);
    }
    link = next;
  }
}
