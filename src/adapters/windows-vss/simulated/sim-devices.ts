/**
 * The simulated host's devices: physical drives, volumes and shadow copies, answering IOCTLs in
 * Win32 byte layouts and reads from the simulator's disks and snapshots; and its System log.
 */

import type { SimSnapshot } from "../../../adapters/sim/sim-snapshot.ts";
import type { BlockMap } from "../../../domain/block-map.ts";
import { isLifeboatError } from "../../../domain/errors.ts";
import {
  encodeDiskAttributes,
  encodeDiskGeometryEx,
  encodeLengthInfo,
  encodeNtfsVolumeData,
  encodeVolumeDiskExtents,
  encodeVolumePhysicalOffsets,
} from "../../../formats/windows/disk-queries.ts";
import { encodeDriveLayout } from "../../../formats/windows/drive-layout.ts";
import { IOCTL, WIN32_ERROR } from "../../../formats/windows/layout.ts";
import { TRACKER_IOCTL } from "../../../formats/windows/tracker-ioctl.ts";
import { encodeVolumeBitmap } from "../../../formats/windows/volume-bitmap.ts";
import type { DeviceOptions, NativeDevice, NativeError } from "../native.ts";
import { nativeError } from "./sim-errors.ts";
import { trackerIoctl } from "./sim-tracker-driver.ts";
import type { SimDiskInfo, SimWindowsHost } from "./sim-windows-host.ts";

const SECTOR = 512;

/** A snapshot set the simulated VSS holds, with its shadow devices and pending write burst. */
export interface LiveSet {
  readonly snapshot: SimSnapshot;
  readonly shadows: Map<number, SimDiskInfo>;
  burst: number;
  reads: number;
  aborted: boolean;
}

function unsupported(code: number): NativeError {
  return nativeError(`DeviceIoControl 0x${code.toString(16)}: Incorrect function.`, {
    win32: WIN32_ERROR.INVALID_FUNCTION,
    syscall: "DeviceIoControl",
  });
}

function checkRead(offset: number, length: number, options: DeviceOptions): void {
  if (options.unbuffered === true && (offset % SECTOR !== 0 || length % SECTOR !== 0)) {
    throw new RangeError("unbuffered reads need sector-aligned offsets and lengths");
  }
}

export function diskDevice(sim: SimWindowsHost, info: SimDiskInfo, options: DeviceOptions): NativeDevice {
  const disk = () => sim.host.disk(info.simId);
  return {
    async ioctl(code, input, capacity) {
      switch (code) {
        case IOCTL.IOCTL_DISK_GET_DRIVE_GEOMETRY_EX:
          return {
            bytes: encodeDiskGeometryEx({ sectorSize: SECTOR, diskSize: disk().capacity }),
            more: false,
          };
        case IOCTL.IOCTL_DISK_GET_DRIVE_LAYOUT_EX:
          return {
            bytes: encodeDriveLayout({
              style: "mbr",
              signature: info.signature,
              partitions: [
                {
                  number: 1,
                  startingOffset: 0,
                  length: disk().capacity,
                  mbr: { type: 0x07, bootIndicator: info.number === 0, recognized: true, hiddenSectors: 0 },
                },
              ],
            }),
            more: false,
          };
        case IOCTL.IOCTL_DISK_GET_DISK_ATTRIBUTES:
          return { bytes: encodeDiskAttributes({ offline: false, readOnly: false }), more: false };
        case IOCTL.IOCTL_DISK_IS_CLUSTERED:
          return { bytes: new Uint8Array(1), more: false };
        default:
          if (Object.values(TRACKER_IOCTL).includes(code as never) && sim.options.trackingDriver !== false) {
            return { bytes: trackerIoctl(sim, info, code, input, capacity), more: false };
          }
          throw unsupported(code);
      }
    },
    async read(offset, length) {
      checkRead(offset, length, options);
      return disk().read(offset, Math.min(length, disk().capacity - offset));
    },
    close: () => undefined,
  };
}

export function volumeDevice(sim: SimWindowsHost, info: SimDiskInfo, options: DeviceOptions): NativeDevice {
  const disk = () => sim.host.disk(info.simId);
  return {
    async ioctl(code, input, capacity) {
      const d = disk();
      switch (code) {
        case IOCTL.IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS:
          return {
            bytes: encodeVolumeDiskExtents([
              { diskNumber: info.number, startingOffset: 0, length: d.capacity },
            ]),
            more: false,
          };
        case IOCTL.IOCTL_DISK_GET_LENGTH_INFO:
          return { bytes: encodeLengthInfo(d.capacity), more: false };
        case IOCTL.IOCTL_VOLUME_LOGICAL_TO_PHYSICAL: {
          const offset =
            input === null ? 0 : Number(new DataView(input.buffer, input.byteOffset).getBigInt64(0, true));
          return { bytes: encodeVolumePhysicalOffsets([{ diskNumber: info.number, offset }]), more: false };
        }
        case IOCTL.FSCTL_GET_NTFS_VOLUME_DATA:
          return { bytes: ntfsData(d.capacity, d.clusterSize, d.captureAllocation(), info), more: false };
        case IOCTL.FSCTL_GET_VOLUME_BITMAP:
          return bitmapAnswer(d.captureAllocation(), input, capacity);
        case IOCTL.FSCTL_QUERY_USN_JOURNAL:
          throw nativeError("FSCTL_QUERY_USN_JOURNAL: The volume change journal is not active.", {
            win32: WIN32_ERROR.JOURNAL_NOT_ACTIVE,
            syscall: "DeviceIoControl",
          });
        default:
          throw unsupported(code);
      }
    },
    async read(offset, length) {
      checkRead(offset, length, options);
      return disk().read(offset, Math.min(length, disk().capacity - offset));
    },
    close: () => undefined,
  };
}

export function shadowDevice(
  sim: SimWindowsHost,
  set: LiveSet,
  info: SimDiskInfo,
  options: DeviceOptions,
): NativeDevice {
  /** A deleted shadow copy: VolSnap logs why (event 25: the diff area could not grow in time). */
  const gone = (e: unknown): never => {
    if (isLifeboatError(e, "SNAPSHOT_ABORTED") && !set.aborted) {
      set.aborted = true;
      sim.logEvent(25, [`\\Device\\HarddiskVolumeShadowCopy`, `${info.letter}:`, `${info.letter}:`]);
    }
    if (isLifeboatError(e, "SNAPSHOT_ABORTED")) {
      throw nativeError("ReadFile: The device is not connected.", {
        win32: WIN32_ERROR.DEVICE_NOT_CONNECTED,
        syscall: "ReadFile",
      });
    }
    throw e;
  };
  const allocation = async (): Promise<BlockMap> => {
    try {
      return (await set.snapshot.allocation(info.simId)) as BlockMap;
    } catch (e) {
      return gone(e);
    }
  };
  const capacity = () => set.snapshot.disks.find((d) => d.id === info.simId)?.capacity ?? 0;
  return {
    async ioctl(code, input, outputCapacity) {
      switch (code) {
        case IOCTL.FSCTL_GET_NTFS_VOLUME_DATA:
          return {
            bytes: ntfsData(capacity(), sim.host.disk(info.simId).clusterSize, await allocation(), info),
            more: false,
          };
        case IOCTL.FSCTL_GET_VOLUME_BITMAP:
          return bitmapAnswer(await allocation(), input, outputCapacity);
        case IOCTL.IOCTL_DISK_GET_LENGTH_INFO:
          return { bytes: encodeLengthInfo(capacity()), more: false };
        default:
          throw unsupported(code);
      }
    },
    async read(offset, length) {
      checkRead(offset, length, options);
      // The burst lands mid-transfer, after a few reads, as heavy business I/O would.
      if (set.burst > 0 && ++set.reads === 3) sim.host.burst(set.burst);
      try {
        return await set.snapshot.read(info.simId, offset, length);
      } catch (e) {
        return gone(e);
      }
    },
    close: () => undefined,
  };
}

function ntfsData(
  capacity: number,
  clusterSize: number,
  allocation: BlockMap,
  info: SimDiskInfo,
): Uint8Array {
  const total = Math.floor(capacity / clusterSize);
  return encodeNtfsVolumeData({
    serialNumber: BigInt(info.signature),
    totalClusters: total,
    freeClusters: total - allocation.count(),
    bytesPerSector: SECTOR,
    bytesPerCluster: clusterSize,
    bytesPerFileRecord: 1024,
    mftValidDataLength: 64 * 1024,
    mftStartLcn: Math.min(4, total - 1),
    mft2StartLcn: Math.min(2, total - 1),
  });
}

function bitmapAnswer(
  allocation: BlockMap,
  input: Uint8Array | null,
  capacity: number,
): { bytes: Uint8Array; more: boolean } {
  const lcn = input === null ? 0 : Number(new DataView(input.buffer, input.byteOffset).getBigInt64(0, true));
  return encodeVolumeBitmap(allocation, lcn, capacity);
}

export function renderEvents(sim: SimWindowsHost, xpath: string): string[] {
  const since = Date.parse(/@SystemTime>='([^']+)'/.exec(xpath)?.[1] ?? "1970-01-01T00:00:00Z");
  const ids = new Set([...xpath.matchAll(/EventID=(\d+)/g)].map((m) => Number(m[1])));
  return sim.events
    .filter((e) => e.time >= since && (ids.size === 0 || ids.has(e.eventId)))
    .map(
      (e) =>
        `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='volsnap'/>` +
        `<EventID Qualifiers='49158'>${e.eventId}</EventID><Level>2</Level>` +
        `<TimeCreated SystemTime='${new Date(e.time).toISOString()}'/><Channel>System</Channel></System>` +
        `<EventData>${e.data.map((d) => `<Data>${d.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</Data>`).join("")}</EventData></Event>`,
    );
}
