/**
 * What is on a disk, and which parts of it Lifeboat may skip: the partition table, every volume
 * with its file system, and for NTFS volumes that pass every check, their allocated clusters.
 * Anything not understood or not trusted is synced whole, and the reason is stated.
 */

import { type ErrorCode, isLifeboatError, LifeboatError } from "../../domain/errors.ts";
import { confinedReader, isAllZero, type ReadAt } from "../bytes.ts";
import { type DynamicDisk, readDynamicDisk } from "../ldm.ts";
import { scanBitmap } from "../ntfs/bitmap-scan.ts";
import type { LogState } from "../ntfs/logfile.ts";
import { openNtfsVolume, VOLUME_IS_DIRTY, type NtfsVolume } from "../ntfs/volume.ts";
import { dataPartitions, type Finding, type PartitionTable } from "../partition.ts";
import { readPartitionTable, type TableOptions } from "../partition-table.ts";
import { PROBE_BYTES, probeSignatures } from "../probe.ts";

export interface NtfsFacts {
  readonly label: string | undefined;
  readonly version: string | undefined;
  readonly serial: string;
  readonly clusterSize: number;
  readonly clusterCount: number;
  /** Clusters marked allocated in $Bitmap below the cluster count; undefined if it could not be read. */
  readonly usedClusters: number | undefined;
  readonly recordSize: number;
  readonly volumeFlags: number;
  readonly logState: LogState;
}

export interface VolumeReport {
  /** Partition number, or null for a volume that fills an unpartitioned disk. */
  readonly partition: number | null;
  readonly start: number;
  readonly size: number;
  /** The file system found ("ntfs", "fat32", "ext4", …), "unformatted" (all zeros) or "unknown". */
  readonly filesystem: string;
  /** Every signature found; more than one means an ambiguous, reformatted volume. */
  readonly signatures: readonly string[];
  /** "allocated": only clusters $Bitmap marks allocated are synced; "full": every byte. */
  readonly sync: "allocated" | "full";
  /** Why the volume is synced whole. */
  readonly reason?: string;
  readonly ntfs?: NtfsFacts;
}

export interface DiskLayout {
  readonly capacity: number;
  readonly table: PartitionTable;
  readonly dynamic: DynamicDisk | null;
  readonly volumes: readonly VolumeReport[];
  readonly findings: readonly Finding[];
}

/** Where an NTFS volume's clusters lie on the disk. */
export interface ClusterArea {
  readonly start: number;
  readonly clusterSize: number;
  readonly clusterCount: number;
}

export interface AnalyzeOptions extends TableOptions {
  /**
   * Called once the volumes whose $Bitmap will be trusted are known (before their bitmaps are
   * read); returns where to send their allocated cluster runs.
   */
  readonly onTrusted?: (
    areas: readonly ClusterArea[],
  ) => (area: ClusterArea, lcn: number, count: number) => void;
}

interface Candidate {
  readonly partition: number | null;
  readonly start: number;
  readonly size: number;
  readonly signatures: string[];
  readonly ntfs?: NtfsVolume;
  /** Why this volume's own structures cannot be trusted. */
  readonly reasons: string[];
  /** Why its place on the disk cannot be trusted (partition problems, dynamic disk): reported with the table. */
  readonly placement: string[];
  reasonCode: ErrorCode;
}

export async function analyzeDisk(
  read: ReadAt,
  capacity: number,
  options: AnalyzeOptions = {},
): Promise<DiskLayout> {
  const table = await readPartitionTable(read, capacity, options);
  const findings: Finding[] = [...table.findings];
  const dynamic = await readDynamicDisk(read, capacity, table);
  if (dynamic !== null) findings.push(...dynamic.findings);
  const areas =
    table.kind === "none"
      ? [{ partition: null, start: 0, size: capacity, problems: [] as readonly string[] }]
      : dataPartitions(table).map((p) => ({
          partition: p.number,
          start: p.start,
          size: p.size,
          problems: p.problems,
        }));
  const candidates: Candidate[] = [];
  for (const area of areas) {
    const candidate = await examine(read, capacity, area);
    candidate.placement.push(...area.problems.map((p) => `partition ${area.partition}: ${p}`));
    if (dynamic !== null) {
      candidate.placement.push("it is on a dynamic disk (LDM), which is synced at full capacity");
    }
    candidates.push(candidate);
  }
  const trusted = candidates.filter(
    (c) => c.ntfs !== undefined && c.reasons.length === 0 && c.placement.length === 0,
  );
  const toArea = (c: Candidate): ClusterArea => ({
    start: c.start,
    clusterSize: (c.ntfs as NtfsVolume).boot.clusterSize,
    clusterCount: (c.ntfs as NtfsVolume).boot.clusterCount,
  });
  const sink = options.onTrusted?.(trusted.map(toArea));
  const volumes: VolumeReport[] = [];
  for (const c of candidates) {
    let usedClusters: number | undefined;
    if (c.ntfs !== undefined) {
      const isTrusted = trusted.includes(c);
      const area = toArea(c);
      try {
        const scan = await scanBitmap(
          c.ntfs,
          isTrusted && sink !== undefined ? (lcn, n) => sink(area, lcn, n) : () => undefined,
        );
        usedClusters = scan.usedClusters;
      } catch (e) {
        if (!isLifeboatError(e, "NTFS_INVALID")) throw e;
        c.reasons.push(e.message);
        c.reasonCode = e.code;
      }
    }
    volumes.push(report(c, usedClusters));
    if (c.reasons.length > 0 && (c.ntfs !== undefined || c.signatures.includes("ntfs"))) {
      findings.push({ code: c.reasonCode, message: `volume at byte ${c.start}: ${c.reasons.join("; ")}` });
    }
  }
  return { capacity, table, dynamic, volumes, findings };
}

async function examine(
  read: ReadAt,
  capacity: number,
  area: { partition: number | null; start: number; size: number },
): Promise<Candidate> {
  const inside = Math.max(0, Math.min(area.size, capacity - area.start));
  const candidate: Candidate = {
    ...area,
    signatures: [],
    reasons: [],
    placement: [],
    reasonCode: "NTFS_INVALID",
  };
  if (inside === 0) return candidate;
  const head = await read(area.start, Math.min(PROBE_BYTES, inside));
  candidate.signatures.push(...probeSignatures(head));
  if (candidate.signatures.length === 0 && isAllZero(head)) candidate.signatures.push("unformatted");
  if (!candidate.signatures.includes("ntfs")) return candidate;
  const volumeRead = confinedReader(
    read,
    area.start,
    inside,
    "NTFS_INVALID",
    `NTFS volume at byte ${area.start}`,
  );
  let ntfs: NtfsVolume;
  try {
    ntfs = await openNtfsVolume(volumeRead, inside);
  } catch (e) {
    if (!isLifeboatError(e, "NTFS_INVALID")) throw e;
    candidate.reasons.push(e.message);
    candidate.reasonCode = e.code;
    return candidate;
  }
  const others = candidate.signatures.filter((s) => s !== "ntfs");
  if (others.length > 0) {
    candidate.reasons.push(
      `it also carries a file-system signature of ${others.join(", ")}, so which file system is live is ambiguous`,
    );
  }
  if ((ntfs.volumeFlags & VOLUME_IS_DIRTY) !== 0)
    candidate.reasons.push("the volume is marked dirty (chkdsk pending)");
  if (ntfs.logState !== "clean") {
    candidate.reasons.push(
      ntfs.logState === "dirty"
        ? "$LogFile holds unfinished transactions (the volume was not shut down cleanly)"
        : "$LogFile is in a state Lifeboat cannot read",
    );
  }
  return { ...candidate, ntfs };
}

function report(c: Candidate, usedClusters: number | undefined): VolumeReport {
  const filesystem = c.signatures[0] ?? "unknown";
  const signatures = c.signatures.filter((s) => s !== "unformatted");
  const ntfs = c.ntfs;
  const base = {
    partition: c.partition,
    start: c.start,
    size: c.size,
    filesystem,
    signatures,
  };
  const why = [...c.placement, ...c.reasons];
  const reason =
    why.length > 0
      ? why.join("; ")
      : ntfs === undefined
        ? filesystem === "unknown" || filesystem === "unformatted"
          ? `${filesystem === "unknown" ? "no file system Lifeboat recognises" : "it holds only zeros at its start"}: synced at full size`
          : `${filesystem} is synced at full size (only NTFS allocation is read)`
        : undefined;
  return {
    ...base,
    sync: reason === undefined ? "allocated" : "full",
    ...(reason === undefined ? {} : { reason }),
    ...(ntfs === undefined
      ? {}
      : {
          ntfs: {
            label: ntfs.label,
            version: ntfs.version,
            serial: ntfs.boot.serial,
            clusterSize: ntfs.boot.clusterSize,
            clusterCount: ntfs.boot.clusterCount,
            usedClusters,
            recordSize: ntfs.boot.recordSize,
            volumeFlags: ntfs.volumeFlags,
            logState: ntfs.logState,
          },
        }),
  };
}

/**
 * Refuses a disk holding a dynamic volume the product does not support: only simple and spanned
 * dynamic volumes are (mirrored, striped and RAID-5 are refused, as the seeds say).
 */
export function assertSupportedLayout(layout: DiskLayout): void {
  const refused = (layout.dynamic?.database?.volumes ?? []).filter(
    (v) => v.onThisDisk && v.layout !== "simple" && v.layout !== "spanned",
  );
  if (refused.length > 0) {
    throw new LifeboatError(
      "DYNAMIC_VOLUME_UNSUPPORTED",
      `the disk holds ${refused.map((v) => `${v.layout} dynamic volume ${JSON.stringify(v.name)}`).join(", ")}`,
    );
  }
}

/** The degradations a job must report for this disk: damaged tables, distrusted volumes, dynamic disks. */
export function layoutWarnings(layout: DiskLayout): string[] {
  const warnings = layout.findings.map((f) => `${f.code}: ${f.message}`);
  if (layout.dynamic !== null) {
    warnings.push("the disk is a Windows dynamic disk (LDM): it is synced at full capacity");
  }
  return warnings;
}
