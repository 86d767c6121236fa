/**
 * Reads whichever partition table a disk has (GPT, MBR or none) and checks the partitions against
 * each other and the disk: overlaps, partitions past the end, logicals outside their extended
 * partition. Problems never stop the parse; they mark the partitions involved as untrusted.
 */

import type { Extent } from "../domain/block-map.ts";
import { isLifeboatError } from "../domain/errors.ts";
import type { ReadAt } from "./bytes.ts";
import { hasGptSignature, parseGpt } from "./gpt.ts";
import { looksLikeMbr, type MbrEntry, mbrEntries, parseMbr } from "./mbr.ts";
import type { Finding, Partition, PartitionTable } from "./partition.ts";
import { MBR_PROTECTIVE_GPT } from "./partition-types.ts";
import { looksLikeVolumeBootRecord } from "./probe.ts";

export interface TableOptions {
  /** Logical sector size; found from the GPT header's position when not given, else 512. */
  readonly sectorSize?: number;
}

export async function readPartitionTable(
  read: ReadAt,
  capacity: number,
  options: TableOptions = {},
): Promise<PartitionTable> {
  const hint = options.sectorSize ?? 512;
  if (capacity < 512) return emptyTable("none", hint, []);
  const sector0 = await read(0, 512);
  const entries = mbrEntries(sector0);
  const protective = entries?.some((e) => e.type === MBR_PROTECTIVE_GPT) ?? false;
  let gptSectorSize: number | undefined;
  for (const size of options.sectorSize === undefined ? [512, 4096] : [options.sectorSize]) {
    if (capacity >= 3 * size && hasGptSignature(await read(size, 512))) {
      gptSectorSize = size;
      break;
    }
  }
  // An MBR with real entries and no protective entry wins over a GPT header left behind by an
  // earlier table (as Linux decides); a bare volume's boot sector also ends in 0x55AA.
  const isVolume = looksLikeVolumeBootRecord(sector0);
  const usedMbr = !isVolume && looksLikeMbr(sector0) && (entries?.some((e) => e.type !== 0) ?? false);
  if (protective || (gptSectorSize !== undefined && !usedMbr && !isVolume)) {
    return readGpt(read, capacity, gptSectorSize ?? hint, entries ?? [], protective);
  }
  if (isVolume || !looksLikeMbr(sector0)) return emptyTable("none", hint, []);
  const mbr = await parseMbr(read, sector0, hint, Math.floor(capacity / hint));
  return validate(
    {
      kind: "mbr",
      sectorSize: hint,
      id: mbr.signature,
      partitions: mbr.partitions,
      metadata: mbr.tableSectors.map((s) => ({ offset: s * hint, length: hint })),
      findings:
        gptSectorSize === undefined
          ? mbr.findings
          : [
              ...mbr.findings,
              {
                code: "LAYOUT_INVALID",
                message: "a GPT header left by an earlier table is ignored; the MBR is used",
              },
            ],
    },
    capacity,
  );
}

async function readGpt(
  read: ReadAt,
  capacity: number,
  sectorSize: number,
  entries: readonly MbrEntry[],
  protective: boolean,
): Promise<PartitionTable> {
  const findings: Finding[] = [];
  if (!protective) findings.push({ code: "LAYOUT_INVALID", message: "the GPT has no protective MBR" });
  else if (entries.some((e) => e.type !== 0 && e.type !== MBR_PROTECTIVE_GPT)) {
    findings.push({
      code: "LAYOUT_INVALID",
      message: "hybrid MBR: its entries are ignored and the GPT is used",
    });
  }
  try {
    const gpt = await parseGpt(read, sectorSize, Math.floor(capacity / sectorSize));
    return validate(
      {
        kind: "gpt",
        sectorSize,
        id: gpt.header.diskGuid,
        firstUsableLba: gpt.header.firstUsableLba,
        lastUsableLba: gpt.header.lastUsableLba,
        partitions: gpt.partitions,
        metadata: gpt.metadata,
        findings: [...findings, ...gpt.findings],
      },
      capacity,
    );
  } catch (e) {
    if (!isLifeboatError(e, "LAYOUT_INVALID")) throw e;
    return emptyTable("gpt", sectorSize, [...findings, { code: e.code, message: e.message }]);
  }
}

function emptyTable(kind: PartitionTable["kind"], sectorSize: number, findings: Finding[]): PartitionTable {
  return { kind, sectorSize, partitions: [], metadata: [], findings };
}

/** Marks partitions that overlap each other or the table, run past the disk, or escape their container. */
function validate(table: PartitionTable, capacity: number): PartitionTable {
  const problems = new Map<Partition, string[]>(table.partitions.map((p) => [p, [...p.problems]]));
  const note = (p: Partition, why: string) => problems.get(p)?.push(why);
  const end = (p: Partition | Extent) => ("start" in p ? p.start + p.size : p.offset + p.length);
  const extended = table.partitions.find((p) => p.role === "extended");
  const data = table.partitions.filter((p) => p.role !== "extended");
  if (extended !== undefined && end(extended) > capacity) {
    note(extended, `it runs ${end(extended) - capacity} bytes past the end of the disk`);
  }
  for (const p of data) {
    if (end(p) > capacity) note(p, `it runs ${end(p) - capacity} bytes past the end of the disk`);
    if (
      p.role === "logical" &&
      extended !== undefined &&
      (p.start < extended.start || end(p) > end(extended))
    ) {
      note(p, `it lies outside its extended partition ${extended.number}`);
    }
    if (
      p.role === "primary" &&
      extended !== undefined &&
      p.start < end(extended) &&
      extended.start < end(p)
    ) {
      note(p, `it overlaps extended partition ${extended.number}`);
    }
    for (const m of table.metadata) {
      if (p.start < end(m) && m.offset < end(p))
        note(p, `it overlaps the partition table at byte ${m.offset}`);
    }
  }
  for (let i = 0; i < data.length; i++) {
    for (let j = i + 1; j < data.length; j++) {
      const a = data[i] as Partition;
      const b = data[j] as Partition;
      if (a.size > 0 && b.size > 0 && a.start < end(b) && b.start < end(a)) {
        note(a, `it overlaps partition ${b.number}`);
        note(b, `it overlaps partition ${a.number}`);
      }
    }
  }
  const findings = [...table.findings];
  const partitions = table.partitions.map((p) => {
    const why = problems.get(p) ?? [];
    for (const w of why) findings.push({ code: "LAYOUT_INVALID", message: `partition ${p.number}: ${w}` });
    return { ...p, problems: why };
  });
  return { ...table, partitions, findings };
}
