import { BlockMap } from "../../domain/block-map.ts";
import { assertSafeName, type Disk, type DiskId } from "../../domain/disk.ts";
import { LifeboatError } from "../../domain/errors.ts";
import type { ChangeToken } from "../../domain/snapshot.ts";
import type { Source } from "../../ports/source.ts";
import { ChangeTracker, DEFAULT_TRACKER_GRAIN } from "./change-tracker.ts";
import { ContentGenerator } from "./content.ts";
import { Oracle } from "./oracle.ts";
import { Prng, type Seed } from "./prng.ts";
import { DEFAULT_CLUSTER_SIZE, SECTOR_SIZE, SimDisk } from "./sim-disk.ts";
import { type ReadLogEntry, SimSnapshot, type SnapshotDisk, type SnapshotWorld } from "./sim-snapshot.ts";
import { VirtualClock } from "./virtual-clock.ts";
import { Workload, type WorkloadOptions } from "./workload.ts";

const MiB = 1024 * 1024;

export interface SimHostOptions {
  readonly seed: Seed;
  readonly name?: string;
  readonly disks?: number;
  readonly diskSize?: number;
  readonly clusterSize?: number;
  readonly trackerGrain?: number;
  /** Bytes per virtual second written to each disk (bursts go higher). */
  readonly writeRate?: number;
  /** Diff area shared by the disks of one snapshot; overflow aborts the snapshot. */
  readonly diffAreaBytes?: number;
  readonly readBytesPerSecond?: number;
  /** Allocated share each disk is filled to before the first snapshot. */
  readonly initialFill?: number;
  /** Fine-tuning of the workload beyond `writeRate`. */
  readonly workload?: Omit<WorkloadOptions, "bytesPerSecond">;
}

interface HostDisk {
  readonly disk: SimDisk;
  readonly tracker: ChangeTracker;
  readonly workload: Workload;
  label: string;
  /** Clusters written since the last snapshot of this disk (for tests). */
  written: BlockMap;
}

/**
 * A simulated protected machine: seeded disks with an NTFS-like file system, a write workload, a
 * per-disk change tracker, VSS-like snapshots and the oracle of what each snapshot must restore to.
 * The same seed and the same sequence of calls give byte-identical disks.
 */
export class SimHost implements Source {
  readonly name: string;
  readonly clock = new VirtualClock();
  readonly oracle = new Oracle();
  /** Every snapshot read, in issue order. */
  readonly readLog: ReadLogEntry[] = [];
  readonly #disks = new Map<DiskId, HostDisk>();
  readonly #live = new Set<SimSnapshot>();
  readonly #diffAreaBytes: number;
  readonly #readBytesPerSecond: number;
  #snapshots = 0;

  constructor(options: SimHostOptions) {
    this.name = options.name ?? "sim-host";
    assertSafeName("source", this.name);
    this.#diffAreaBytes = options.diffAreaBytes ?? 8 * MiB;
    this.#readBytesPerSecond = options.readBytesPerSecond ?? 200 * MiB;
    const diskCount = options.disks ?? 2;
    if (!Number.isSafeInteger(diskCount) || diskCount < 1)
      throw new RangeError(`disks must be ≥ 1: ${diskCount}`);
    if (!(this.#readBytesPerSecond > 0)) throw new RangeError("readBytesPerSecond must be > 0");
    if (!(this.#diffAreaBytes >= 0) || !((options.writeRate ?? 0) >= 0)) {
      throw new RangeError("diffAreaBytes and writeRate must be ≥ 0");
    }
    const root = new Prng(options.seed);
    for (let i = 0; i < diskCount; i++) {
      const id = `disk-${i}`;
      const prng = root.fork(id);
      const capacity = options.diskSize ?? 32 * MiB;
      const disk = new SimDisk({
        id,
        capacity,
        clusterSize: options.clusterSize ?? DEFAULT_CLUSTER_SIZE,
        content: new ContentGenerator(prng.fork("content")),
      });
      const tracker = new ChangeTracker({
        capacity,
        grain: options.trackerGrain ?? DEFAULT_TRACKER_GRAIN,
        prng: prng.fork("tracker"),
      });
      const workload = new Workload(disk, prng.fork("workload"), {
        ...options.workload,
        bytesPerSecond: options.writeRate ?? 2 * MiB,
      });
      const host: HostDisk = {
        disk,
        tracker,
        workload,
        label: "",
        written: BlockMap.forCapacity(disk.clusterSize, capacity),
      };
      disk.onWrite((offset, length) => {
        tracker.record(offset, length);
        markClusters(host.written, offset, length);
      });
      this.#disks.set(id, host);
      this.#relabel(host);
      workload.populate(options.initialFill);
    }
  }

  async describe(): Promise<readonly Disk[]> {
    return [...this.#disks.values()].map((d) => this.#descriptor(d));
  }

  /** Switches every disk's tracker epoch, then captures the disks, then records the oracle. */
  async openSnapshot(diskIds: readonly DiskId[]): Promise<SimSnapshot> {
    const ids = [...new Set(diskIds)];
    if (ids.length === 0) throw new LifeboatError("SNAPSHOT_FAILED", "a snapshot needs at least one disk");
    const hosts = ids.map((id) => {
      const d = this.#disks.get(id);
      if (d === undefined) throw new LifeboatError("SNAPSHOT_FAILED", `host ${this.name} has no disk ${id}`);
      return d;
    });
    const tokens = hosts.map((d) => d.tracker.switchEpoch());
    const captured: SnapshotDisk[] = hosts.map((d, i) => ({
      descriptor: this.#descriptor(d),
      disk: d.disk,
      tracker: d.tracker,
      token: tokens[i] as ChangeToken,
      pages: d.disk.capturePages(),
      allocation: d.disk.captureAllocation(),
    }));
    const id = `${this.name}-snap-${++this.#snapshots}`;
    const snapshot = new SimSnapshot({
      id,
      takenAt: this.clock.now(),
      disks: captured,
      diffAreaBytes: this.#diffAreaBytes,
      readBytesPerSecond: this.#readBytesPerSecond,
      world: this.#world,
    });
    for (const c of captured) {
      this.oracle.record(id, c.descriptor.id, {
        capacity: c.descriptor.capacity,
        pages: c.pages,
        allocation: c.allocation,
      });
    }
    for (const d of hosts) d.written = BlockMap.forCapacity(d.disk.clusterSize, d.disk.capacity);
    this.#live.add(snapshot);
    return snapshot;
  }

  /** Lets `ms` of virtual time pass with every disk's workload writing. */
  runWorkload(ms: number): void {
    for (const d of this.#disks.values()) d.workload.run(ms);
    this.clock.advance(ms);
  }

  /** Writes `bytes` at once as scattered overwrites, on one disk or split over all. */
  burst(bytes: number, diskId?: DiskId): void {
    const targets = diskId === undefined ? [...this.#disks.values()] : [this.#host(diskId)];
    for (const d of targets) d.workload.burst(Math.ceil(bytes / targets.length));
  }

  /** Every tracker loses its history and every live snapshot is gone (shadow copies do not survive). */
  uncleanReboot(): void {
    for (const s of this.#live) s.abort("the host rebooted uncleanly; shadow copies do not survive a reboot");
    this.#live.clear();
    for (const d of this.#disks.values()) d.tracker.lose("unclean reboot");
  }

  /**
   * A hypervisor-style change-tracking reset on one disk (snapshot revert, vMotion, a changeId the
   * tracker no longer knows): the next sync must resynchronise that disk. Live snapshots survive.
   */
  resetChangeTracking(diskId: DiskId, reason: string): void {
    this.#host(diskId).tracker.lose(reason);
  }

  /** The host's cleanup of a crashed process's snapshots (VSS deletes them when their owner dies). */
  releaseOrphanedSnapshots(): Promise<void> {
    return Promise.all([...this.#live].map((s) => s.release())).then(() => undefined);
  }

  /** Grows a disk; its tracker resets, so the next sync must resynchronise. */
  resizeDisk(diskId: DiskId, newCapacity: number): void {
    const d = this.#host(diskId);
    const oldCapacity = d.disk.capacity;
    d.disk.resize(newCapacity);
    d.written = BlockMap.fromRuns(d.written.grain, d.disk.clusterCount, d.written.runs());
    d.tracker.lose(`disk resized from ${oldCapacity} to ${newCapacity} bytes`, newCapacity);
    this.#relabel(d);
  }

  /** The engine committed a point with this token: the tracker may forget epochs up to it. */
  commitToken(diskId: DiskId, token: ChangeToken): void {
    this.#host(diskId).tracker.forget(token);
  }

  /** Source port: a point holding these tokens committed, so the trackers may forget older epochs. */
  async committed(tokens: ReadonlyMap<DiskId, ChangeToken>): Promise<void> {
    for (const [diskId, token] of tokens) this.commitToken(diskId, token);
  }

  clearReadLog(): void {
    this.readLog.length = 0;
  }

  /** Clusters written since the last snapshot of the disk (test ground truth). */
  writtenSinceLastSnapshot(diskId: DiskId): BlockMap {
    return this.#host(diskId).written.clone();
  }

  /** The live disk, for tests that inspect raw bytes (stale data in freed clusters). */
  disk(diskId: DiskId): SimDisk {
    return this.#host(diskId).disk;
  }

  tracker(diskId: DiskId): ChangeTracker {
    return this.#host(diskId).tracker;
  }

  /** Snapshots neither released nor aborted. */
  liveSnapshots(): readonly SimSnapshot[] {
    return [...this.#live].filter((s) => s.live);
  }

  readonly #world: SnapshotWorld = {
    elapse: (ms) => this.runWorkload(ms),
    logRead: (entry) => this.readLog.push(entry),
    now: () => this.clock.now(),
    released: (snapshot) => this.#live.delete(snapshot),
  };

  #descriptor(d: HostDisk): Disk {
    return {
      id: d.disk.id,
      capacity: d.disk.capacity,
      sectorSize: SECTOR_SIZE,
      label: d.label,
      flags: d.disk.id === "disk-0" ? ["boot"] : [],
    };
  }

  #relabel(d: HostDisk): void {
    d.label = `Simulated NTFS disk ${d.disk.id} (${d.disk.capacity / MiB} MiB)`;
  }

  #host(diskId: DiskId): HostDisk {
    const d = this.#disks.get(diskId);
    if (d === undefined) throw new RangeError(`host ${this.name} has no disk ${diskId}`);
    return d;
  }
}

function markClusters(map: BlockMap, offset: number, length: number): void {
  const first = Math.floor(offset / map.grain);
  map.addRange(first, Math.floor((offset + length - 1) / map.grain) - first + 1);
}
