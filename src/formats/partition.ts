/** What a partition table says about a disk, whichever kind of table it is. */

import type { Extent } from "../domain/block-map.ts";
import type { ErrorCode } from "../domain/errors.ts";

/** Something wrong or notable that the parser worked around; shown by `inspect` and in job warnings. */
export interface Finding {
  readonly code: ErrorCode;
  readonly message: string;
}

export interface Partition {
  /** Numbered as Linux numbers them: MBR 1–4 primary, 5… logical in chain order; GPT entry index + 1. */
  readonly number: number;
  readonly role: "primary" | "extended" | "logical";
  /** Bytes from the start of the disk. */
  readonly start: number;
  /** Bytes. */
  readonly size: number;
  readonly startSector: number;
  readonly sectors: number;
  /** "0x07" for MBR, the type GUID for GPT. */
  readonly type: string;
  readonly typeName: string;
  readonly name?: string;
  readonly uuid?: string;
  readonly bootable?: boolean;
  /** GPT attribute bits as hex. */
  readonly attributes?: string;
  /** Why the partition cannot be trusted (overlaps, runs past the disk…); empty when sound. */
  readonly problems: readonly string[];
}

export interface PartitionTable {
  readonly kind: "mbr" | "gpt" | "none";
  readonly sectorSize: number;
  /** MBR disk signature ("0x…") or GPT disk GUID. */
  readonly id?: string;
  readonly firstUsableLba?: number;
  readonly lastUsableLba?: number;
  readonly partitions: readonly Partition[];
  /** Byte ranges holding the table itself (MBR, EBRs, GPT headers and entry arrays). */
  readonly metadata: readonly Extent[];
  readonly findings: readonly Finding[];
}

/** Data partitions: everything but extended containers. */
export function dataPartitions(table: PartitionTable): Partition[] {
  return table.partitions.filter((p) => p.role !== "extended");
}
