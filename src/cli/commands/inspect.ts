/** `lifeboat inspect IMAGE_OR_DEVICE`: the partition table, volumes and allocated bytes Lifeboat sees. */

import { type FileHandle, open } from "node:fs/promises";
import type { Command } from "commander";
import { deviceSize } from "../../adapters/image/device-size.ts";
import { ERROR_CATALOGUE, LifeboatError } from "../../domain/errors.ts";
import { buildAllocatedMap } from "../../formats/disk-layout/allocated-map.ts";
import type { DiskLayout, VolumeReport } from "../../formats/disk-layout/disk-layout.ts";
import type { GlobalOptions } from "../context.ts";
import { formatBytes, printJson, printTable } from "../output.ts";

interface InspectOptions {
  readonly sectorSize?: string;
}

export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description("show a disk's partition table, volumes and the bytes a full backup reads")
    .argument("<image-or-device>", "a raw disk image, a bare volume image or a block device")
    .option("--sector-size <bytes>", "logical sector size of an MBR disk (default 512; GPT finds its own)")
    .action(async (path: string, options: InspectOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const sectorSize = parseSectorSize(options.sectorSize);
      const { handle, capacity } = await openDisk(path);
      try {
        const read = async (offset: number, length: number): Promise<Uint8Array> => {
          const buffer = Buffer.alloc(length);
          const { bytesRead } = await handle.read(buffer, 0, length, offset);
          if (bytesRead !== length) {
            throw new LifeboatError("SOURCE_READ", `${path} ended at ${offset + bytesRead}, inside the disk`);
          }
          return buffer;
        };
        const { layout, map } = await buildAllocatedMap(
          read,
          capacity,
          sectorSize === undefined ? {} : { sectorSize },
        );
        const report = inspectReport(
          path,
          layout,
          map === null ? capacity : map.count() * map.grain,
          map?.grain,
        );
        if (globals.json) printJson(report);
        else printHuman(report);
      } finally {
        await handle.close();
      }
    });
}

function parseSectorSize(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (![512, 1024, 2048, 4096].includes(n)) {
    throw new LifeboatError("USAGE", `--sector-size ${text} is not 512, 1024, 2048 or 4096`);
  }
  return n;
}

async function openDisk(path: string): Promise<{ handle: FileHandle; capacity: number }> {
  try {
    const capacity = await deviceSize(path);
    return { handle: await open(path, "r"), capacity };
  } catch (e) {
    throw new LifeboatError("SOURCE_NOT_FOUND", `cannot open ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** The `--json` shape (cli.md): table type, partitions with byte `start`/`size`, volumes with sizes. */
export function inspectReport(
  path: string,
  layout: DiskLayout,
  syncedBytes: number,
  grain: number | undefined,
) {
  const { table } = layout;
  return {
    path,
    capacity: layout.capacity,
    partitionTable: {
      type: table.kind,
      sectorSize: table.sectorSize,
      ...(table.id === undefined ? {} : { id: table.id }),
      ...(table.firstUsableLba === undefined
        ? {}
        : { firstUsableLba: table.firstUsableLba, lastUsableLba: table.lastUsableLba }),
    },
    partitions: table.partitions.map((p) => ({
      number: p.number,
      role: p.role,
      start: p.start,
      size: p.size,
      type: p.type,
      typeName: p.typeName,
      ...(p.name === undefined ? {} : { name: p.name }),
      ...(p.uuid === undefined ? {} : { uuid: p.uuid }),
      ...(p.bootable === undefined ? {} : { bootable: p.bootable }),
      ...(p.attributes === undefined ? {} : { attributes: p.attributes }),
      problems: p.problems,
    })),
    volumes: layout.volumes.map(volumeJson),
    dynamic:
      layout.dynamic === null
        ? null
        : {
            scheme: layout.dynamic.scheme,
            version: layout.dynamic.database?.version ?? null,
            diskGuid: layout.dynamic.database?.diskGuid ?? null,
            group: layout.dynamic.database?.groupName ?? null,
            volumes: layout.dynamic.database?.volumes ?? [],
          },
    /** What a full backup reads before rounding to chunks. */
    syncedBytes,
    ...(grain === undefined ? {} : { mapGrain: grain }),
    findings: layout.findings.map((f) => ({
      code: f.code,
      message: f.message,
      remedy: ERROR_CATALOGUE[f.code].remedy,
    })),
  };
}

function volumeJson(v: VolumeReport) {
  const ntfs = v.ntfs;
  const sizes =
    ntfs === undefined
      ? { clusterSize: null, totalBytes: v.size, allocatedBytes: v.size }
      : {
          clusterSize: ntfs.clusterSize,
          totalBytes: ntfs.clusterCount * ntfs.clusterSize,
          allocatedBytes: ntfs.usedClusters === undefined ? null : ntfs.usedClusters * ntfs.clusterSize,
          clusterCount: ntfs.clusterCount,
          usedClusters: ntfs.usedClusters ?? null,
          label: ntfs.label ?? null,
          version: ntfs.version ?? null,
          serial: ntfs.serial,
          recordSize: ntfs.recordSize,
          volumeFlags: ntfs.volumeFlags,
          logState: ntfs.logState,
        };
  return {
    partition: v.partition,
    start: v.start,
    size: v.size,
    filesystem: v.filesystem,
    signatures: v.signatures,
    sync: v.sync,
    ...(v.reason === undefined ? {} : { reason: v.reason }),
    ...sizes,
  };
}

type Report = ReturnType<typeof inspectReport>;

function printHuman(r: Report): void {
  const t = r.partitionTable;
  process.stdout.write(
    `${r.path}: ${formatBytes(r.capacity)}, partition table ${t.type}${"id" in t ? ` ${t.id}` : ""}, ${t.sectorSize}-byte sectors\n\n`,
  );
  if (r.partitions.length > 0) {
    printTable(
      ["#", "ROLE", "START", "SIZE", "TYPE", "NAME"],
      r.partitions.map((p) => [p.number, p.role, p.start, formatBytes(p.size), p.typeName, p.name ?? ""]),
    );
    process.stdout.write("\n");
  }
  printTable(
    ["VOLUME", "FILESYSTEM", "CLUSTER", "TOTAL", "ALLOCATED", "SYNC"],
    r.volumes.map((v) => [
      v.partition === null ? "disk" : `#${v.partition}`,
      v.filesystem,
      v.clusterSize === null ? "-" : formatBytes(v.clusterSize),
      formatBytes(v.totalBytes),
      v.allocatedBytes === null ? "?" : formatBytes(v.allocatedBytes),
      v.sync,
    ]),
  );
  for (const v of r.volumes) {
    if (v.reason !== undefined)
      process.stdout.write(`  ${v.partition === null ? "disk" : `#${v.partition}`}: ${v.reason}\n`);
  }
  if (r.dynamic !== null) {
    process.stdout.write(`\ndynamic disk (LDM, ${r.dynamic.scheme}): synced at full capacity\n`);
    for (const d of r.dynamic.volumes) {
      process.stdout.write(
        `  volume ${d.name}: ${d.layout}, ${formatBytes(d.size)}${d.onThisDisk ? " (on this disk)" : ""}\n`,
      );
    }
  }
  process.stdout.write(`\na full backup reads ${formatBytes(r.syncedBytes)} of ${formatBytes(r.capacity)}\n`);
  for (const f of r.findings)
    process.stdout.write(`warning: ${f.code}: ${f.message}\n  remedy: ${f.remedy}\n`);
}
