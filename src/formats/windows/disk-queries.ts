/**
 * The small answers the agent gets about disks and volumes: which disk ranges a volume occupies
 * (VOLUME_DISK_EXTENTS), a disk's size and sector size (DISK_GEOMETRY_EX), whether it is offline
 * (GET_DISK_ATTRIBUTES) or clustered (shared), a volume's NTFS geometry (NTFS_VOLUME_DATA_BUFFER)
 * and where one logical offset of a volume lands physically (VOLUME_PHYSICAL_OFFSETS, which tells a
 * mirror from a simple or spanned volume).
 */

import { ByteReader } from "./byte-reader.ts";
import { DISK_EXTENTS, DISK_GEOMETRY_EX, NTFS_VOLUME_DATA } from "./layout.ts";

export interface DiskExtent {
  readonly diskNumber: number;
  readonly startingOffset: number;
  readonly length: number;
}

export function parseVolumeDiskExtents(bytes: Uint8Array): DiskExtent[] {
  const r = new ByteReader(bytes, "VOLUME_DISK_EXTENTS");
  const count = r.u32(DISK_EXTENTS.count, "NumberOfDiskExtents");
  const room = Math.floor((bytes.length - DISK_EXTENTS.extents) / DISK_EXTENTS.extentSize);
  if (count > room) r.fail(`NumberOfDiskExtents ${count}, the buffer holds ${Math.max(0, room)}`);
  const extents: DiskExtent[] = [];
  for (let i = 0; i < count; i++) {
    const at = DISK_EXTENTS.extents + i * DISK_EXTENTS.extentSize;
    const extent = {
      diskNumber: r.u32(at + DISK_EXTENTS.diskNumber, `Extents[${i}].DiskNumber`),
      startingOffset: r.i64(at + DISK_EXTENTS.startingOffset, `Extents[${i}].StartingOffset`),
      length: r.i64(at + DISK_EXTENTS.extentLength, `Extents[${i}].ExtentLength`),
    };
    if (extent.startingOffset < 0 || extent.length <= 0) r.fail(`Extents[${i}] is empty or negative`);
    extents.push(extent);
  }
  return extents;
}

export function encodeVolumeDiskExtents(extents: readonly DiskExtent[]): Uint8Array {
  const out = new Uint8Array(DISK_EXTENTS.extents + extents.length * DISK_EXTENTS.extentSize);
  const view = new DataView(out.buffer);
  view.setUint32(DISK_EXTENTS.count, extents.length, true);
  extents.forEach((e, i) => {
    const at = DISK_EXTENTS.extents + i * DISK_EXTENTS.extentSize;
    view.setUint32(at + DISK_EXTENTS.diskNumber, e.diskNumber, true);
    view.setBigInt64(at + DISK_EXTENTS.startingOffset, BigInt(e.startingOffset), true);
    view.setBigInt64(at + DISK_EXTENTS.extentLength, BigInt(e.length), true);
  });
  return out;
}

export interface DiskGeometry {
  readonly sectorSize: number;
  readonly diskSize: number;
}

export function parseDiskGeometryEx(bytes: Uint8Array): DiskGeometry {
  const r = new ByteReader(bytes, "DISK_GEOMETRY_EX");
  const sectorSize = r.u32(DISK_GEOMETRY_EX.bytesPerSector, "Geometry.BytesPerSector");
  const diskSize = r.i64(DISK_GEOMETRY_EX.diskSize, "DiskSize");
  if (![512, 1024, 2048, 4096].includes(sectorSize))
    r.fail(`BytesPerSector ${sectorSize} is not a sector size`);
  if (diskSize <= 0 || diskSize % sectorSize !== 0)
    r.fail(`DiskSize ${diskSize} is not a whole number of sectors`);
  return { sectorSize, diskSize };
}

export function encodeDiskGeometryEx(geometry: DiskGeometry): Uint8Array {
  const out = new Uint8Array(DISK_GEOMETRY_EX.size);
  const view = new DataView(out.buffer);
  view.setUint32(DISK_GEOMETRY_EX.bytesPerSector, geometry.sectorSize, true);
  view.setBigInt64(DISK_GEOMETRY_EX.diskSize, BigInt(geometry.diskSize), true);
  return out;
}

/** GET_LENGTH_INFORMATION: a volume's or partition's length in bytes. */
export function parseLengthInfo(bytes: Uint8Array): number {
  const length = new ByteReader(bytes, "GET_LENGTH_INFORMATION").i64(0, "Length");
  if (length < 0) throw new RangeError(`negative length ${length}`);
  return length;
}

export function encodeLengthInfo(length: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, BigInt(length), true);
  return out;
}

/** GET_DISK_ATTRIBUTES: DWORD Version, DWORD Reserved, DWORDLONG Attributes. */
export function parseDiskAttributes(bytes: Uint8Array): { offline: boolean; readOnly: boolean } {
  const attributes = new ByteReader(bytes, "GET_DISK_ATTRIBUTES").u64big(8, "Attributes");
  return { offline: (attributes & 1n) !== 0n, readOnly: (attributes & 2n) !== 0n };
}

export function encodeDiskAttributes(flags: { offline: boolean; readOnly: boolean }): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setUint32(0, 16, true);
  view.setBigUint64(8, (flags.offline ? 1n : 0n) | (flags.readOnly ? 2n : 0n), true);
  return out;
}

/** IOCTL_DISK_IS_CLUSTERED answers one BOOLEAN: the disk belongs to a failover cluster (shared). */
export function parseBooleanAnswer(bytes: Uint8Array, structure: string): boolean {
  return new ByteReader(bytes, structure).u8(0, "BOOLEAN") !== 0;
}

/** VOLUME_PHYSICAL_OFFSETS: every physical copy of one logical offset (two or more for a mirror). */
export function parseVolumePhysicalOffsets(bytes: Uint8Array): Array<{ diskNumber: number; offset: number }> {
  const r = new ByteReader(bytes, "VOLUME_PHYSICAL_OFFSETS");
  const count = r.u32(0, "NumberOfPhysicalOffsets");
  if (count > Math.floor((bytes.length - 8) / 16))
    r.fail(`NumberOfPhysicalOffsets ${count} exceeds the buffer`);
  const out = [];
  for (let i = 0; i < count; i++) {
    out.push({
      diskNumber: r.u32(8 + i * 16, `[${i}].DiskNumber`),
      offset: r.i64(16 + i * 16, `[${i}].Offset`),
    });
  }
  return out;
}

export function encodeVolumePhysicalOffsets(
  offsets: ReadonlyArray<{ diskNumber: number; offset: number }>,
): Uint8Array {
  const out = new Uint8Array(8 + offsets.length * 16);
  const view = new DataView(out.buffer);
  view.setUint32(0, offsets.length, true);
  offsets.forEach((o, i) => {
    view.setUint32(8 + i * 16, o.diskNumber, true);
    view.setBigInt64(16 + i * 16, BigInt(o.offset), true);
  });
  return out;
}

/** VOLUME_LOGICAL_OFFSET input of IOCTL_VOLUME_LOGICAL_TO_PHYSICAL. */
export function encodeLogicalOffset(offset: number): Uint8Array {
  return encodeLengthInfo(offset);
}

export interface NtfsVolumeData {
  readonly serialNumber: bigint;
  readonly totalClusters: number;
  readonly freeClusters: number;
  readonly bytesPerSector: number;
  readonly bytesPerCluster: number;
  readonly bytesPerFileRecord: number;
  readonly mftValidDataLength: number;
  readonly mftStartLcn: number;
  readonly mft2StartLcn: number;
}

export function parseNtfsVolumeData(bytes: Uint8Array): NtfsVolumeData {
  const r = new ByteReader(bytes, "NTFS_VOLUME_DATA_BUFFER");
  const L = NTFS_VOLUME_DATA;
  const data: NtfsVolumeData = {
    serialNumber: r.u64big(L.volumeSerialNumber, "VolumeSerialNumber"),
    totalClusters: r.i64(L.totalClusters, "TotalClusters"),
    freeClusters: r.i64(L.freeClusters, "FreeClusters"),
    bytesPerSector: r.u32(L.bytesPerSector, "BytesPerSector"),
    bytesPerCluster: r.u32(L.bytesPerCluster, "BytesPerCluster"),
    bytesPerFileRecord: r.u32(L.bytesPerFileRecordSegment, "BytesPerFileRecordSegment"),
    mftValidDataLength: r.i64(L.mftValidDataLength, "MftValidDataLength"),
    mftStartLcn: r.i64(L.mftStartLcn, "MftStartLcn"),
    mft2StartLcn: r.i64(L.mft2StartLcn, "Mft2StartLcn"),
  };
  const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;
  if (
    !pow2(data.bytesPerSector) ||
    !pow2(data.bytesPerCluster) ||
    data.bytesPerCluster < data.bytesPerSector
  ) {
    r.fail(`sector ${data.bytesPerSector} / cluster ${data.bytesPerCluster} bytes is not an NTFS geometry`);
  }
  if (data.totalClusters <= 0 || data.freeClusters < 0 || data.freeClusters > data.totalClusters) {
    r.fail(`${data.freeClusters} free of ${data.totalClusters} clusters`);
  }
  for (const [name, lcn] of [
    ["MftStartLcn", data.mftStartLcn],
    ["Mft2StartLcn", data.mft2StartLcn],
  ] as const) {
    if (lcn < 0 || lcn >= data.totalClusters) r.fail(`${name} ${lcn} lies outside the volume`);
  }
  return data;
}

export function encodeNtfsVolumeData(data: NtfsVolumeData): Uint8Array {
  const L = NTFS_VOLUME_DATA;
  const out = new Uint8Array(L.size);
  const view = new DataView(out.buffer);
  view.setBigUint64(L.volumeSerialNumber, data.serialNumber, true);
  view.setBigInt64(
    L.numberSectors,
    BigInt((data.totalClusters * data.bytesPerCluster) / data.bytesPerSector),
    true,
  );
  view.setBigInt64(L.totalClusters, BigInt(data.totalClusters), true);
  view.setBigInt64(L.freeClusters, BigInt(data.freeClusters), true);
  view.setUint32(L.bytesPerSector, data.bytesPerSector, true);
  view.setUint32(L.bytesPerCluster, data.bytesPerCluster, true);
  view.setUint32(L.bytesPerFileRecordSegment, data.bytesPerFileRecord, true);
  view.setBigInt64(L.mftValidDataLength, BigInt(data.mftValidDataLength), true);
  view.setBigInt64(L.mftStartLcn, BigInt(data.mftStartLcn), true);
  view.setBigInt64(L.mft2StartLcn, BigInt(data.mft2StartLcn), true);
  return out;
}
