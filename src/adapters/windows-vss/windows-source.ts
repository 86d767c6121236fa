/**
 * A Windows host as a Source: its physical disks, snapshotted together through one VSS snapshot
 * set over every shadow-capable volume on them, with a change tracker per disk. Everything here
 * talks to the host only through the native boundary, so a simulated host behind the same
 * boundary exercises exactly this code.
 */

import type { Disk, DiskId } from "../../domain/disk.ts";
import { LifeboatError } from "../../domain/errors.ts";
import type { ChangeToken, Consistency } from "../../domain/snapshot.ts";
import type { Log } from "../../ports/log.ts";
import type { Source } from "../../ports/source.ts";
import type { DiskChangeTracker } from "./change-tracker.ts";
import { diskSegments } from "./disk-map.ts";
import { FilterDriverTracker } from "./filter-tracker.ts";
import { discoverHost, type HostDisk, type HostModel, type HostVolume } from "./host-model.ts";
import { hresultOf, type ShadowSet, type WindowsNative } from "./native.ts";
import { parseEventXml, type VolSnapEvent, volSnapQuery, vssStepError } from "./volsnap.ts";
import { type SnapshotDiskPlan, WindowsSnapshot } from "./windows-snapshot.ts";

/** File systems the system VSS provider can shadow-copy. */
const SHADOWABLE = new Set(["NTFS", "REFS"]);

export interface WindowsSourceOptions {
  readonly name: string;
  readonly native: WindowsNative;
  /** Disk ids frozen at registration; never snapshotted or read. */
  readonly excludedDisks?: readonly DiskId[];
  /** "auto": the filter driver where it answers, otherwise none (resync by content hash). */
  readonly tracker?: "auto" | "filter" | "none";
  readonly backupType?: "copy" | "full";
  readonly log: Log;
}

export class WindowsSource implements Source {
  readonly name: string;
  readonly #options: WindowsSourceOptions;
  readonly #trackers = new Map<DiskId, DiskChangeTracker | null>();
  readonly #excluded: ReadonlySet<DiskId>;

  constructor(options: WindowsSourceOptions) {
    this.name = options.name;
    this.#options = options;
    this.#excluded = new Set(options.excludedDisks ?? []);
  }

  async describe(): Promise<readonly Disk[]> {
    const host = await discoverHost(this.#options.native);
    return host.disks.filter((d) => !this.#excluded.has(d.id)).map((d) => descriptor(d, host));
  }

  /** The host as discovered now (for the inventory and preflight). */
  host(): Promise<HostModel> {
    return discoverHost(this.#options.native);
  }

  async openSnapshot(diskIds: readonly DiskId[]): Promise<WindowsSnapshot> {
    const { native, log } = this.#options;
    const host = await discoverHost(native);
    const disks = [...new Set(diskIds)].map((id) => {
      const disk = host.disks.find((d) => d.id === id);
      if (disk === undefined)
        throw new LifeboatError("SNAPSHOT_FAILED", `host ${this.name} has no disk ${id} any more`);
      if (this.#excluded.has(id))
        throw new LifeboatError("INTERNAL", `disk ${id} is excluded and must not be snapshotted`);
      if (disk.offline) {
        throw new LifeboatError("SNAPSHOT_FAILED", `disk ${id} (disk ${disk.number}) is offline`, {
          remedy:
            "Bring the disk online (Disk Management or `Set-Disk -IsOffline $false`), or exclude it and re-register.",
        });
      }
      return disk;
    });
    if (disks.length === 0) throw new LifeboatError("SNAPSHOT_FAILED", "a snapshot needs at least one disk");
    const numbers = new Set(disks.map((d) => d.number));
    const onDisks = host.volumes.filter((v) => v.extents.some((e) => numbers.has(e.diskNumber)));
    const shadowed = onDisks.filter((v) => SHADOWABLE.has(v.fileSystem.toUpperCase()));
    const warnings: string[] = [];
    for (const v of onDisks.filter((x) => !shadowed.includes(x))) {
      warnings.push(
        `volume ${label(v)} (${v.fileSystem}) cannot be shadow-copied: it is read live, at full capacity, without point-in-time consistency`,
      );
    }

    // Strictly before the snapshot: each tracker closes its epoch (design §4).
    const tokens = new Map<DiskId, ChangeToken>();
    const trackers = new Map<DiskId, DiskChangeTracker>();
    for (const disk of disks) {
      const tracker = await this.#tracker(disk);
      if (tracker === undefined) continue;
      trackers.set(disk.id, tracker);
      tokens.set(disk.id, await tracker.beforeSnapshot());
    }

    const requestedAt = native.now();
    const session = native.createVssSession();
    let set: ShadowSet;
    try {
      set = await session.create(
        shadowed.map((v) => v.guidPath),
        { backupType: this.#options.backupType ?? "copy", writers: true },
      );
    } catch (e) {
      const hresult = hresultOf(e);
      const step =
        typeof (e as { step?: unknown }).step === "string" ? (e as { step: string }).step : "DoSnapshotSet";
      if (hresult === undefined)
        throw new LifeboatError(
          "SNAPSHOT_FAILED",
          `VSS failed: ${e instanceof Error ? e.message : String(e)}`,
          { cause: e },
        );
      throw vssStepError(step, hresult, await this.#events(requestedAt), e);
    }

    let consistency: Consistency = "application";
    const failedWriters = set.writers.filter((w) => w.state >= 6 && w.state <= 15);
    if (failedWriters.length > 0) {
      consistency = "filesystem";
      warnings.push(
        `VSS writers failed (${failedWriters.map((w) => `${w.name}: state ${w.state}, 0x${(w.failure >>> 0).toString(16)}`).join("; ")}): their data is file-system consistent only`,
      );
    }
    const devices = new Map(set.shadowCopies.map((c) => [c.volume, c.device] as const));
    const plans: SnapshotDiskPlan[] = disks.map((disk) => {
      if (!trackers.has(disk.id)) {
        warnings.push(
          `disk ${disk.id}: no change-tracking driver answers, so every sync re-reads its allocated data and stores only what changed`,
        );
      }
      if (!disk.stableId)
        warnings.push(
          `disk ${disk.number} has neither a GPT GUID nor an MBR signature: its id ${disk.id} follows enumeration order`,
        );
      return {
        disk: descriptor(disk, host),
        path: disk.path,
        segments: diskSegments(disk, host.volumes, devices),
        tracker: trackers.get(disk.id),
        token: tokens.get(disk.id) ?? null,
      };
    });
    log.info({ setId: set.setId, volumes: shadowed.length, disks: disks.length }, "VSS snapshot set created");
    return new WindowsSnapshot({
      id: set.setId,
      takenAt: requestedAt,
      consistency,
      warnings,
      disks: plans,
      native,
      session,
      requestedAt,
      onRelease: (failures) => {
        if (failures.length > 0)
          log.warn({ setId: set.setId, failures }, "the VSS snapshot set was not cleaned up completely");
      },
    });
  }

  async committed(tokens: ReadonlyMap<DiskId, ChangeToken>): Promise<void> {
    for (const [disk, token] of tokens) await this.#trackers.get(disk)?.committed(token);
  }

  async #tracker(disk: HostDisk): Promise<DiskChangeTracker | undefined> {
    const known = this.#trackers.get(disk.id);
    if (known !== undefined) return known ?? undefined;
    const preference = this.#options.tracker ?? "auto";
    let tracker: DiskChangeTracker | undefined;
    if (preference !== "none") {
      const device = this.#options.native.openDevice(disk.path, { access: "read" });
      tracker = await FilterDriverTracker.probe(device, disk.capacity);
      if (tracker === undefined) device.close();
      if (tracker === undefined && preference === "filter") {
        throw new LifeboatError("CONFIG_INVALID", `no change-tracking driver answers on disk ${disk.id}`, {
          remedy:
            'Install the Lifeboat tracking driver, or set the agent\'s tracker to "auto" to resync by content hash.',
        });
      }
    }
    this.#trackers.set(disk.id, tracker ?? null);
    return tracker;
  }

  async #events(since: number): Promise<VolSnapEvent[]> {
    try {
      const xml = await this.#options.native.queryEvents("System", volSnapQuery(since), 64);
      return xml.map(parseEventXml).filter((e): e is VolSnapEvent => e !== undefined);
    } catch {
      return [];
    }
  }
}

function label(v: HostVolume): string {
  return v.mountPoints[0] ?? v.guidPath;
}

/** The disk as the engine and preflight see it, with the flags preflight reads. */
export function descriptor(disk: HostDisk, host: HostModel): Disk {
  const flags: string[] = [];
  if (isBootDisk(disk, host)) flags.push("boot");
  if (disk.offline) flags.push("offline");
  if (disk.dynamic) flags.push("dynamic");
  if (disk.shared) flags.push("shared");
  if (disk.readOnly) flags.push("read-only");
  return {
    id: disk.id,
    capacity: disk.capacity,
    sectorSize: disk.sectorSize,
    label: `disk ${disk.number} (${disk.layout.style.toUpperCase()}, ${disk.capacity} bytes)`,
    flags,
  };
}

/** Holds the Windows volume, or the system partition (EFI system partition, or MBR active). */
export function isBootDisk(disk: HostDisk, host: HostModel): boolean {
  const windows = host.volumes.find((v) => v.windowsVolume === true);
  if (windows?.extents.some((e) => e.diskNumber === disk.number)) return true;
  return disk.layout.partitions.some(
    (p) => p.gpt?.type === "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" || p.mbr?.bootIndicator === true,
  );
}
