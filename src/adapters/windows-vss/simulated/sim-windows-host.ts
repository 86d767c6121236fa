/**
 * A simulated Windows host: the seeded SimHost (disks with an NTFS-like file system, a write
 * workload, VSS-like copy-on-write snapshots with a bounded diff area, a dirty-block tracker with
 * epochs) dressed as Windows sees it — physical drives with MBR signatures, volume GUID paths,
 * shadow-copy devices, a System event log with VolSnap events, services — so that the Windows
 * adapter runs unchanged above the native boundary (sim-native.ts).
 *
 * Each simulated disk is a "superfloppy": one NTFS volume spanning the disk from byte 0, as the
 * simulator's disks are volumes.
 */

import { MemoryTarget } from "../../../adapters/memory-target/memory-target.ts";
import { SimHost, type SimHostOptions } from "../../../adapters/sim/sim-host.ts";
import type { SimSnapshot } from "../../../adapters/sim/sim-snapshot.ts";
import type { DiskId } from "../../../domain/disk.ts";
import type { RestorePoint } from "../../../domain/restore-point.ts";
import type { Repository } from "../../../engine/repository/repository.ts";
import { restoreDisk } from "../../../engine/restore.ts";
import type { HostFacts, ServiceFacts, TimeSyncFacts } from "../native.ts";

export interface SimWindowsHostOptions extends SimHostOptions {
  readonly firmware?: "uefi" | "bios" | "unknown";
  /** Extra services (e.g. a conflicting backup product) next to the defaults. */
  readonly services?: readonly ServiceFacts[];
  /** Whether the simulated disks carry the change-tracking driver (default true). */
  readonly trackingDriver?: boolean;
}

export interface SimEvent {
  readonly eventId: number;
  readonly time: number;
  readonly data: readonly string[];
}

export interface SimDiskInfo {
  readonly simId: DiskId;
  readonly number: number;
  readonly signature: number;
  readonly volumeGuid: string;
  readonly letter: string;
}

/** A VSS failure to inject into the next snapshot set (HRESULT at a step, maybe with a VolSnap event). */
export interface SnapshotFailure {
  readonly step: string;
  readonly hresult: number;
  readonly volSnapEvent?: number;
}

export class SimWindowsHost {
  readonly host: SimHost;
  readonly disks: readonly SimDiskInfo[];
  readonly events: SimEvent[] = [];
  readonly options: SimWindowsHostOptions;
  /** VSS set id → the simulator's snapshot (for reads and for the oracle). */
  readonly snapshots = new Map<string, SimSnapshot>();
  /** Why each disk's tracker history was last lost, for the driver's QUERY answer. */
  readonly lostReasons = new Map<DiskId, string>();
  /** Highest epoch forgotten per disk and tracker generation. */
  readonly forgotten = new Map<DiskId, { generation: string; through: number }>();
  #burstBytes = 0;
  #failure: SnapshotFailure | undefined;
  #bootedAt: number;
  #sets = 0;

  constructor(options: SimWindowsHostOptions) {
    this.options = options;
    this.host = new SimHost(options);
    const count = options.disks ?? 2;
    this.disks = Array.from({ length: count }, (_, i) => ({
      simId: `disk-${i}`,
      number: i,
      // Deterministic, non-zero and distinct per seed and disk, like Windows' random signatures.
      signature: (Math.imul(Number(options.seed) + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0 || 1,
      volumeGuid: `5EED${String(Number(options.seed) % 10000).padStart(4, "0")}-0000-4000-8000-${String(i).padStart(12, "0")}`,
      letter: String.fromCharCode(67 + i),
    }));
    this.#bootedAt = this.host.clock.now() - 3_600_000;
  }

  now(): number {
    return this.host.clock.now();
  }

  disk(number: number): SimDiskInfo | undefined {
    return this.disks[number];
  }

  byVolume(guidPath: string): SimDiskInfo | undefined {
    return this.disks.find((d) => guidPath.toUpperCase().includes(d.volumeGuid));
  }

  /** Heavy writes during the next transfer overflow the diff area: Windows deletes the shadow copy. */
  abortDuringNextSnapshot(burstBytes: number): void {
    this.#burstBytes = burstBytes;
  }

  takeBurst(): number {
    const b = this.#burstBytes;
    this.#burstBytes = 0;
    return b;
  }

  failNextSnapshot(failure: SnapshotFailure): void {
    this.#failure = failure;
  }

  takeFailure(): SnapshotFailure | undefined {
    const f = this.#failure;
    this.#failure = undefined;
    return f;
  }

  /** An unclean reboot: shadow copies die and every tracker loses its history. */
  uncleanReboot(): void {
    this.host.uncleanReboot();
    for (const d of this.disks) this.lostReasons.set(d.simId, "unclean shutdown");
    this.#bootedAt = this.now();
  }

  logEvent(eventId: number, data: readonly string[]): void {
    this.events.push({ eventId, time: this.now(), data });
  }

  nextSetId(): string {
    this.#sets++;
    return `5E7D${String(this.#sets).padStart(4, "0")}-0000-4000-8000-${String(Number(this.options.seed) % 1e12).padStart(12, "0")}`;
  }

  facts(): HostFacts {
    return {
      hostName: `${this.host.name}.sim.example`,
      os: { major: 10, minor: 0, build: 17763, servicePackMajor: 0, productType: 3 },
      firmware: this.options.firmware ?? "uefi",
      elevated: true,
      processorArchitecture: 9,
      processors: 2,
      totalMemory: 8 * 2 ** 30,
      availableMemory: 5 * 2 ** 30,
      ansiCodePage: 1252,
      oemCodePage: 437,
      hypervisor: { present: true, vendor: "Microsoft Hv" },
      uptimeMs: this.now() - this.#bootedAt,
      windowsVolume: `\\\\?\\Volume{${this.disks[0]?.volumeGuid}}\\`,
    };
  }

  services(): ServiceFacts[] {
    return [
      { name: "W32Time", displayName: "Windows Time", state: 4, startType: 2 },
      { name: "VSS", displayName: "Volume Shadow Copy", state: 1, startType: 3 },
      { name: "swprv", displayName: "Microsoft Software Shadow Copy Provider", state: 1, startType: 3 },
      ...(this.options.services ?? []),
    ];
  }

  timeSync(): TimeSyncFacts {
    return { service: "running", lastSyncAt: this.now() - 600_000, source: "time.windows.com" };
  }

  /** The simulator's disk behind an agent disk id (`mbr-<signature>`). */
  simDiskOf(agentDiskId: DiskId): DiskId | undefined {
    return this.disks.find((d) => agentDiskId === `mbr-${d.signature.toString(16).padStart(8, "0")}`)?.simId;
  }

  /**
   * Restores every disk of a committed point into memory and compares it, byte for byte, with the
   * simulator's own copy of the snapshot (unallocated clusters zeroed): the first difference, or
   * undefined when the point is exact.
   */
  async mismatch(repo: Repository, point: RestorePoint): Promise<string | undefined> {
    const snapshot = this.snapshots.get(point.snapshotId);
    if (snapshot === undefined) return `no simulated snapshot behind VSS set ${point.snapshotId}`;
    for (const disk of point.disks) {
      const simId = this.simDiskOf(disk.disk);
      if (simId === undefined) return `disk ${disk.disk} is not a simulated disk`;
      const expected = this.host.oracle.expected(snapshot.id, simId);
      if (expected.capacity !== disk.capacity)
        return `${disk.disk}: capacity ${disk.capacity} ≠ ${expected.capacity}`;
      const target = new MemoryTarget(disk.capacity);
      await restoreDisk(repo, point, disk.disk, target, { targetIsZeroed: true });
      for (let offset = 0; offset < disk.capacity; offset += 1 << 20) {
        const length = Math.min(1 << 20, disk.capacity - offset);
        if (!Buffer.from(await target.read(offset, length)).equals(expected.read(offset, length))) {
          return `${disk.disk}: restored bytes differ from the snapshot near byte ${offset}`;
        }
      }
    }
    return undefined;
  }
}
