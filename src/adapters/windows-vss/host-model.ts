/**
 * The host's disks and volumes as the agent sees them, read through the native boundary: each
 * physical disk's size, layout, identity and state, and each volume's file system, free space and
 * the disk ranges it occupies (so a disk offset can be served from the right shadow copy).
 */

import { IOCTL, WIN32_ERROR } from "../../formats/windows/layout.ts";
import {
  type DiskExtent,
  encodeLogicalOffset,
  parseBooleanAnswer,
  parseDiskAttributes,
  parseDiskGeometryEx,
  parseLengthInfo,
  parseVolumeDiskExtents,
  parseVolumePhysicalOffsets,
} from "../../formats/windows/disk-queries.ts";
import {
  diskIdentity,
  type DriveLayout,
  isDynamic,
  parseDriveLayout,
} from "../../formats/windows/drive-layout.ts";
import { type NativeDevice, type VolumeFacts, type WindowsNative, win32Code } from "./native.ts";

/** Windows numbers disks from 0; gaps happen after removals, so every number is tried. */
const MAX_DISKS = 64;

export interface HostDisk {
  readonly number: number;
  readonly path: string;
  /** GPT disk GUID or MBR signature; `disk-N` only for a disk with neither (unstable, warned). */
  readonly id: string;
  readonly stableId: boolean;
  readonly capacity: number;
  readonly sectorSize: number;
  readonly layout: DriveLayout;
  readonly offline: boolean;
  readonly readOnly: boolean;
  /** Member of a failover cluster: shared with other hosts. */
  readonly shared: boolean;
  readonly dynamic: boolean;
}

export type VolumeLayout = "partition" | "simple" | "spanned" | "striped" | "mirror" | "raid5";

export interface VolumeExtent extends DiskExtent {
  /** Where on the volume this disk range begins. */
  readonly volumeOffset: number;
}

export interface HostVolume extends VolumeFacts {
  readonly length: number;
  readonly extents: readonly VolumeExtent[];
  readonly layout: VolumeLayout;
  /** Holds the Windows directory (the "boot volume" in Windows' terms). */
  readonly windowsVolume: boolean;
}

export interface HostModel {
  readonly disks: readonly HostDisk[];
  readonly volumes: readonly HostVolume[];
}

export async function discoverHost(native: WindowsNative): Promise<HostModel> {
  const disks: HostDisk[] = [];
  for (let n = 0; n < MAX_DISKS; n++) {
    const path = `\\\\.\\PhysicalDrive${n}`;
    let device: NativeDevice;
    try {
      device = native.openDevice(path, { access: "query" });
    } catch (e) {
      if (win32Code(e) === WIN32_ERROR.FILE_NOT_FOUND) continue;
      throw e;
    }
    try {
      disks.push(await describeDisk(device, n, path));
    } finally {
      device.close();
    }
  }
  const volumes: HostVolume[] = [];
  const windows = native.hostFacts().windowsVolume;
  for (const facts of native.volumes()) {
    const volume = await describeVolume(native, facts, disks, facts.guidPath === windows);
    if (volume !== undefined) volumes.push(volume);
  }
  return { disks, volumes };
}

async function describeDisk(device: NativeDevice, number: number, path: string): Promise<HostDisk> {
  const geometry = parseDiskGeometryEx(
    (await device.ioctl(IOCTL.IOCTL_DISK_GET_DRIVE_GEOMETRY_EX, null, 256)).bytes,
  );
  const layout = parseDriveLayout(
    (await device.ioctl(IOCTL.IOCTL_DISK_GET_DRIVE_LAYOUT_EX, null, 48 + 128 * 144)).bytes,
    geometry.diskSize,
  );
  const attributes = await optional(device, IOCTL.IOCTL_DISK_GET_DISK_ATTRIBUTES, 16, parseDiskAttributes);
  const clustered = await optional(device, IOCTL.IOCTL_DISK_IS_CLUSTERED, 1, (b) =>
    parseBooleanAnswer(b, "IS_CLUSTERED"),
  );
  const id = diskIdentity(layout);
  return {
    number,
    path,
    id: id ?? `disk-${number}`,
    stableId: id !== undefined,
    capacity: geometry.diskSize,
    sectorSize: geometry.sectorSize,
    layout,
    offline: attributes?.offline ?? false,
    readOnly: attributes?.readOnly ?? false,
    shared: clustered ?? false,
    dynamic: isDynamic(layout),
  };
}

/** An IOCTL older Windows versions or some disk stacks do not implement: undefined then. */
async function optional<T>(
  device: NativeDevice,
  code: number,
  size: number,
  parse: (b: Uint8Array) => T,
): Promise<T | undefined> {
  try {
    return parse((await device.ioctl(code, null, size)).bytes);
  } catch (e) {
    const w = win32Code(e);
    if (w === WIN32_ERROR.INVALID_FUNCTION || w === WIN32_ERROR.NOT_SUPPORTED) return undefined;
    throw e;
  }
}

async function describeVolume(
  native: WindowsNative,
  facts: VolumeFacts,
  disks: readonly HostDisk[],
  windowsVolume: boolean,
): Promise<HostVolume | undefined> {
  // Volume GUID paths end in a backslash; the device itself is the path without it.
  const path = facts.guidPath.replace(/\\$/, "");
  let device: NativeDevice;
  try {
    device = native.openDevice(path, { access: "query" });
  } catch {
    return undefined; // a volume that vanished between listing and opening
  }
  try {
    let extents: DiskExtent[];
    try {
      extents = parseVolumeDiskExtents(
        (await device.ioctl(IOCTL.IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS, null, 8 + 32 * 24)).bytes,
      );
    } catch {
      return undefined; // CD-ROMs, RAM disks and the like have no disk extents: nothing to sync
    }
    if (!extents.every((e) => disks.some((d) => d.number === e.diskNumber))) return undefined;
    const length = parseLengthInfo((await device.ioctl(IOCTL.IOCTL_DISK_GET_LENGTH_INFO, null, 8)).bytes);
    const copies = parseVolumePhysicalOffsets(
      (await device.ioctl(IOCTL.IOCTL_VOLUME_LOGICAL_TO_PHYSICAL, encodeLogicalOffset(0), 8 + 16 * 32)).bytes,
    );
    const placed = await placeExtents(device, extents);
    const dynamic = extents.some((e) => disks.find((d) => d.number === e.diskNumber)?.dynamic === true);
    return {
      ...facts,
      length,
      extents: placed,
      layout: classify(length, placed, copies.length, dynamic),
      windowsVolume,
    };
  } finally {
    device.close();
  }
}

/** Where each extent starts on the volume, asked of the volume manager (IOCTL_VOLUME_PHYSICAL_TO_LOGICAL). */
async function placeExtents(device: NativeDevice, extents: readonly DiskExtent[]): Promise<VolumeExtent[]> {
  if (extents.length === 1) return [{ ...(extents[0] as DiskExtent), volumeOffset: 0 }];
  const placed: VolumeExtent[] = [];
  for (const e of extents) {
    const input = new Uint8Array(16);
    const view = new DataView(input.buffer);
    view.setUint32(0, e.diskNumber, true);
    view.setBigInt64(8, BigInt(e.startingOffset), true);
    const { bytes } = await device.ioctl(IOCTL.IOCTL_VOLUME_PHYSICAL_TO_LOGICAL, input, 8);
    placed.push({ ...e, volumeOffset: parseLengthInfo(bytes) });
  }
  return placed.sort((a, b) => a.volumeOffset - b.volumeOffset);
}

export function classify(
  length: number,
  extents: readonly VolumeExtent[],
  copiesOfFirstByte: number,
  dynamic: boolean,
): VolumeLayout {
  if (extents.length <= 1) return copiesOfFirstByte > 1 ? "mirror" : dynamic ? "simple" : "partition";
  if (copiesOfFirstByte > 1) return "mirror";
  const total = extents.reduce((n, e) => n + e.length, 0);
  let offset = 0;
  const concatenated = extents.every((e) => {
    const ok = e.volumeOffset === offset;
    offset += e.length;
    return ok;
  });
  if (concatenated && total === length) return "spanned";
  if (total === length) return "striped";
  return "raid5";
}
