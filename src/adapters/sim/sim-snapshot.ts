import type { BlockMap } from "../../domain/block-map.ts";
import type { Disk, DiskId } from "../../domain/disk.ts";
import { LifeboatError } from "../../domain/errors.ts";
import type { ChangeReset, ChangeToken, Consistency } from "../../domain/snapshot.ts";
import type { SourceSnapshot } from "../../ports/source.ts";
import type { ChangeTracker } from "./change-tracker.ts";
import { PAGE_SIZE, type Page, pageRange, readPages } from "./pages.ts";
import type { SimDisk } from "./sim-disk.ts";

/** One read the engine made from a snapshot. */
export interface ReadLogEntry {
  readonly snapshotId: string;
  readonly disk: DiskId;
  readonly offset: number;
  readonly length: number;
  /** Virtual time when the read was issued. */
  readonly at: number;
}

/** One disk as captured at snapshot time. */
export interface SnapshotDisk {
  readonly descriptor: Disk;
  readonly disk: SimDisk;
  readonly tracker: ChangeTracker;
  readonly token: ChangeToken;
  readonly pages: Page[];
  readonly allocation: BlockMap;
}

/** What a snapshot needs from the host: to spend virtual time and to log reads. */
export interface SnapshotWorld {
  /** Lets `ms` of virtual time pass, applying the workload's writes for it. */
  elapse(ms: number): void;
  logRead(entry: ReadLogEntry): void;
  now(): number;
  released(snapshot: SimSnapshot): void;
}

export interface SimSnapshotOptions {
  readonly id: string;
  readonly takenAt: number;
  readonly disks: readonly SnapshotDisk[];
  readonly diffAreaBytes: number;
  readonly readBytesPerSecond: number;
  readonly world: SnapshotWorld;
}

/**
 * A copy-on-write snapshot set (VSS-like). Holding the captured page arrays is the copy-on-write;
 * the diff area is accounted for realism: the first write to each live page after the snapshot
 * costs a page of diff area, and when the area is exhausted the snapshot is deleted, as VolSnap
 * does (events 25/36). Reads take virtual time, during which the host keeps writing — which is how
 * write pressure during a long transfer aborts it.
 */
export class SimSnapshot implements SourceSnapshot {
  readonly id: string;
  readonly takenAt: number;
  readonly consistency: Consistency = "application";
  readonly disks: readonly Disk[];
  readonly warnings: readonly string[] = [];
  readonly #captured = new Map<DiskId, SnapshotDisk>();
  readonly #copiedPages = new Map<DiskId, Set<number>>();
  readonly #diffAreaBytes: number;
  readonly #readBytesPerSecond: number;
  readonly #world: SnapshotWorld;
  #unsubscribe: Array<() => void> = [];
  #diffAreaUsed = 0;
  #abortReason: string | undefined;
  #released = false;

  constructor(options: SimSnapshotOptions) {
    this.id = options.id;
    this.takenAt = options.takenAt;
    this.disks = options.disks.map((d) => d.descriptor);
    this.#diffAreaBytes = options.diffAreaBytes;
    this.#readBytesPerSecond = options.readBytesPerSecond;
    this.#world = options.world;
    for (const d of options.disks) {
      this.#captured.set(d.descriptor.id, d);
      this.#copiedPages.set(d.descriptor.id, new Set());
      this.#unsubscribe.push(
        d.disk.onWrite((offset, length) => this.#copyOnWrite(d.descriptor.id, offset, length)),
      );
    }
  }

  /** True until the snapshot is released or aborted. */
  get live(): boolean {
    return !this.#released && this.#abortReason === undefined;
  }

  /** Bytes of diff area consumed so far. */
  get diffAreaUsed(): number {
    return this.#diffAreaUsed;
  }

  async read(disk: DiskId, offset: number, length: number): Promise<Uint8Array> {
    const captured = this.#disk(disk);
    const capacity = captured.descriptor.capacity;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new RangeError(`bad read ${offset}+${length}`);
    }
    if (offset + length > capacity)
      throw new RangeError(`read ${offset}+${length} exceeds ${disk} (${capacity})`);
    this.#checkUsable();
    this.#world.logRead({ snapshotId: this.id, disk, offset, length, at: this.#world.now() });
    this.#world.elapse((length / this.#readBytesPerSecond) * 1000);
    // The host kept writing while the read was in flight; the snapshot may be gone by now.
    this.#checkUsable();
    return readPages(captured.pages, offset, length);
  }

  async allocation(disk: DiskId): Promise<BlockMap | null> {
    const captured = this.#disk(disk);
    this.#checkUsable();
    return captured.allocation.clone();
  }

  async changes(disk: DiskId, since: ChangeToken): Promise<BlockMap | ChangeReset> {
    const captured = this.#disk(disk);
    return captured.tracker.changesSince(since, captured.token);
  }

  token(disk: DiskId): ChangeToken | null {
    return this.#disk(disk).token;
  }

  abortReason(): string | undefined {
    return this.#abortReason;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#detach();
    this.#world.released(this);
  }

  /** The snapshot is lost (diff area exhausted, host rebooted); reads reject from now on. */
  abort(reason: string): void {
    if (!this.live) return;
    this.#abortReason = reason;
    this.#detach();
  }

  #copyOnWrite(disk: DiskId, offset: number, length: number): void {
    const copied = this.#copiedPages.get(disk) as Set<number>;
    const { first, last } = pageRange(offset, length);
    for (let p = first; p <= last; p++) {
      if (copied.has(p)) continue;
      copied.add(p);
      this.#diffAreaUsed += PAGE_SIZE;
    }
    if (this.#diffAreaUsed > this.#diffAreaBytes) {
      this.abort(
        `the shadow copy of ${[...this.#captured.keys()].join(", ")} was deleted: its diff area ` +
          `(${this.#diffAreaBytes} bytes) could not hold the copy-on-write data (VolSnap events 25/36)`,
      );
    }
  }

  /** Stops diff-area accounting and lets the captured pages go. */
  #detach(): void {
    for (const stop of this.#unsubscribe) stop();
    this.#unsubscribe = [];
    for (const d of this.#captured.values()) d.pages.length = 0;
  }

  #checkUsable(): void {
    if (this.#abortReason !== undefined) {
      throw new LifeboatError("SNAPSHOT_ABORTED", `snapshot ${this.id} was aborted: ${this.#abortReason}`);
    }
    if (this.#released) throw new LifeboatError("INTERNAL", `snapshot ${this.id} was used after release`);
  }

  #disk(disk: DiskId): SnapshotDisk {
    const captured = this.#captured.get(disk);
    if (captured === undefined) throw new RangeError(`disk ${disk} is not in snapshot ${this.id}`);
    return captured;
  }
}
