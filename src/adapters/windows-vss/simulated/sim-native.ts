/**
 * The native boundary answered by a simulated Windows host: device paths, IOCTLs and their byte
 * layouts, VSS sessions, the System event log — each answer encoded exactly as Windows lays it out,
 * so the adapter's parsers and error mapping run as they would on Windows.
 */

import { WIN32_ERROR } from "../../../formats/windows/layout.ts";
import type { DeviceOptions, NativeDevice, NativeVssSession, ShadowSet, WindowsNative } from "../native.ts";
import { diskDevice, type LiveSet, renderEvents, shadowDevice, volumeDevice } from "./sim-devices.ts";
import { nativeError } from "./sim-errors.ts";
import type { SimDiskInfo, SimWindowsHost } from "./sim-windows-host.ts";

export function simulatedNative(sim: SimWindowsHost): WindowsNative {
  const sets = new Map<string, LiveSet>();
  let shadowNumber = 0;
  const findShadow = (n: number): { set: LiveSet; disk: SimDiskInfo } | undefined => {
    for (const set of sets.values()) {
      const disk = set.shadows.get(n);
      if (disk !== undefined) return { set, disk };
    }
    return undefined;
  };

  const openDevice = (path: string, options: DeviceOptions): NativeDevice => {
    const drive = /^\\\\\.\\PhysicalDrive(\d+)$/.exec(path);
    const volume = /^\\\\\?\\Volume\{([0-9A-F-]+)\}$/i.exec(path);
    const shadow = /^\\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy(\d+)$/.exec(path);
    const notFound = () =>
      nativeError(`CreateFileW ${path}: The system cannot find the file specified.`, {
        win32: WIN32_ERROR.FILE_NOT_FOUND,
        syscall: "CreateFileW",
      });
    if (drive !== null) {
      const disk = sim.disk(Number(drive[1]));
      if (disk === undefined) throw notFound();
      return diskDevice(sim, disk, options);
    }
    if (volume !== null) {
      const disk = sim.byVolume(path);
      if (disk === undefined) throw notFound();
      return volumeDevice(sim, disk, options);
    }
    if (shadow !== null) {
      const found = findShadow(Number(shadow[1]));
      if (found === undefined) throw notFound();
      return shadowDevice(sim, found.set, found.disk, options);
    }
    throw notFound();
  };

  const createVssSession = (): NativeVssSession => {
    let setId: string | undefined;
    return {
      async create(volumes): Promise<ShadowSet> {
        const failure = sim.takeFailure();
        if (failure !== undefined) {
          if (failure.volSnapEvent !== undefined) {
            const first = sim.byVolume(volumes[0] ?? "");
            sim.logEvent(failure.volSnapEvent, ["", `${first?.letter ?? "C"}:`, `${first?.letter ?? "C"}:`]);
          }
          throw nativeError(`${failure.step} failed`, { hresult: failure.hresult >>> 0, step: failure.step });
        }
        const disks = volumes.map((v) => {
          const d = sim.byVolume(v);
          if (d === undefined)
            throw nativeError(`AddToSnapshotSet ${v}`, { hresult: 0x8004230c, step: "AddToSnapshotSet" });
          return d;
        });
        const snapshot = await sim.host.openSnapshot(disks.map((d) => d.simId));
        setId = sim.nextSetId();
        const live: LiveSet = {
          snapshot,
          shadows: new Map(),
          burst: sim.takeBurst(),
          reads: 0,
          aborted: false,
        };
        const shadowCopies = disks.map((d, i) => {
          const n = ++shadowNumber;
          live.shadows.set(n, d);
          return {
            volume: volumes[i] as string,
            snapshotId: `${setId}-${n}`,
            device: `\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy${n}`,
          };
        });
        sets.set(setId, live);
        sim.snapshots.set(setId, snapshot);
        return {
          setId,
          shadowCopies,
          writers: [{ name: "Simulated Writer", writerId: "", instanceId: "", state: 1, failure: 0 }],
        };
      },
      async close() {
        if (setId !== undefined) {
          await sets.get(setId)?.snapshot.release();
          sets.delete(setId);
        }
        return { ok: true, cleanupFailures: [] };
      },
    };
  };

  return {
    kind: `simulated Windows host (seed ${sim.options.seed})`,
    openDevice,
    openFileById: () => {
      throw nativeError("OpenFileById: not supported by the simulated host", {
        win32: WIN32_ERROR.NOT_SUPPORTED,
        syscall: "OpenFileById",
      });
    },
    createVssSession,
    queryEvents: async (_channel, xpath, max) => renderEvents(sim, xpath).slice(0, max),
    hostFacts: () => sim.facts(),
    services: () => sim.services(),
    volumes: () =>
      sim.disks.map((d) => {
        const disk = sim.host.disk(d.simId);
        return {
          guidPath: `\\\\?\\Volume{${d.volumeGuid}}\\`,
          mountPoints: [`${d.letter}:\\`],
          label: d.number === 0 ? "System" : `Data${d.number}`,
          fileSystem: "NTFS",
          serial: d.signature,
          totalBytes: disk.capacity,
          freeBytes: (disk.clusterCount - disk.allocatedClusters) * disk.clusterSize,
          clusterSize: disk.clusterSize,
          driveType: 3,
        };
      }),
    timeSync: async () => sim.timeSync(),
    hotfixes: async () => [],
    now: () => sim.now(),
  };
}
