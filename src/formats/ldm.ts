/**
 * Windows dynamic disks (Logical Disk Manager). An MBR partition of type 0x42, or GPT "LDM
 * metadata"/"LDM data" partitions, mark the disk as dynamic; its volumes are described by the LDM
 * database at the end of the disk, not by the partition table. Lifeboat syncs a dynamic disk at full
 * capacity (correct, just slower) and reads the database only to name its volumes and to refuse the
 * layouts the product does not support (mirrored, striped, RAID-5).
 */

import { isLifeboatError } from "../domain/errors.ts";
import type { ReadAt } from "./bytes.ts";
import { type LdmDatabase, readLdmDatabase } from "./ldm-database.ts";
import type { Finding, Partition, PartitionTable } from "./partition.ts";
import { GPT_LDM_DATA, GPT_LDM_METADATA, MBR_LDM } from "./partition-types.ts";

export interface DynamicDisk {
  readonly scheme: "mbr" | "gpt";
  /** The database, or undefined when it could not be read (see findings). */
  readonly database: LdmDatabase | undefined;
  readonly findings: readonly Finding[];
}

/** LDM partitions of the table: type 0x42 on MBR, the LDM GUIDs on GPT. */
export function ldmPartitions(table: PartitionTable): Partition[] {
  return table.partitions.filter((p) =>
    table.kind === "mbr"
      ? p.type === `0x${MBR_LDM.toString(16)}`
      : p.type === GPT_LDM_METADATA || p.type === GPT_LDM_DATA,
  );
}

export async function readDynamicDisk(
  read: ReadAt,
  capacity: number,
  table: PartitionTable,
): Promise<DynamicDisk | null> {
  const ldm = ldmPartitions(table);
  if (ldm.length === 0 || table.kind === "none") return null;
  const scheme = table.kind;
  // The private header sits in sector 6 on MBR disks and in the last sector of the metadata partition on GPT.
  const metadata = ldm.find((p) => p.type === GPT_LDM_METADATA);
  const privheadSector =
    scheme === "mbr" ? 6 : metadata === undefined ? undefined : metadata.startSector + metadata.sectors - 1;
  if (privheadSector === undefined) {
    return {
      scheme,
      database: undefined,
      findings: [{ code: "LAYOUT_INVALID", message: "dynamic disk without an LDM metadata partition" }],
    };
  }
  try {
    const database = await readLdmDatabase(read, capacity, table.sectorSize, privheadSector);
    return { scheme, database, findings: [] };
  } catch (e) {
    if (!isLifeboatError(e, "LAYOUT_INVALID")) throw e;
    return {
      scheme,
      database: undefined,
      findings: [
        { code: "LAYOUT_INVALID", message: `dynamic disk: ${e.message}; its volume layouts are unknown` },
      ],
    };
  }
}
