/**
 * One VSS snapshot set as a SourceSnapshot: disk reads served from the shadow devices (unbuffered,
 * on the addon's worker threads) or live from the disk outside shadow-copied volumes, allocation
 * from the shadow copies' volume bitmaps, changes from each disk's tracker. A failed shadow read
 * is checked against the VolSnap log: a deleted shadow copy is SNAPSHOT_ABORTED with the event as
 * its cause, never a silent short read.
 */

import type { BlockMap } from "../../domain/block-map.ts";
import type { Disk, DiskId } from "../../domain/disk.ts";
import { isLifeboatError, LifeboatError } from "../../domain/errors.ts";
import type { ChangeReset, ChangeToken, Consistency } from "../../domain/snapshot.ts";
import { IOCTL } from "../../formats/windows/layout.ts";
import { parseNtfsVolumeData } from "../../formats/windows/disk-queries.ts";
import { parseVolumeBitmap, VolumeBitmapAssembler } from "../../formats/windows/volume-bitmap.ts";
import type { SourceSnapshot } from "../../ports/source.ts";
import type { DiskChangeTracker } from "./change-tracker.ts";
import { diskAllocation, pieces, type Segment, type ShadowSegment } from "./disk-map.ts";
import type { NativeDevice, NativeVssSession, WindowsNative } from "./native.ts";
import { parseEventXml, type VolSnapEvent, volSnapError, volSnapQuery } from "./volsnap.ts";

/** Bitmap answers are asked for in pieces of this size (the kernel returns ERROR_MORE_DATA beyond). */
const BITMAP_CHUNK = 1 << 20;

export interface SnapshotDiskPlan {
  readonly disk: Disk;
  readonly path: string;
  readonly segments: readonly Segment[];
  readonly tracker: DiskChangeTracker | undefined;
  readonly token: ChangeToken | null;
}

export interface WindowsSnapshotOptions {
  readonly id: string;
  readonly takenAt: number;
  readonly consistency: Consistency;
  readonly warnings: readonly string[];
  readonly disks: readonly SnapshotDiskPlan[];
  readonly native: WindowsNative;
  readonly session: NativeVssSession;
  /** When the snapshot was requested: VolSnap events from then on concern it. */
  readonly requestedAt: number;
  readonly onRelease?: (failures: readonly string[]) => void;
}

export class WindowsSnapshot implements SourceSnapshot {
  readonly id: string;
  readonly takenAt: number;
  readonly consistency: Consistency;
  readonly warnings: readonly string[];
  readonly disks: readonly Disk[];
  readonly #plans = new Map<DiskId, SnapshotDiskPlan>();
  readonly #devices = new Map<string, NativeDevice>();
  readonly #bitmaps = new Map<string, Promise<BlockMap>>();
  readonly #options: WindowsSnapshotOptions;
  #abort: LifeboatError | undefined;
  #released = false;

  constructor(options: WindowsSnapshotOptions) {
    this.#options = options;
    this.id = options.id;
    this.takenAt = options.takenAt;
    this.consistency = options.consistency;
    this.warnings = options.warnings;
    this.disks = options.disks.map((d) => d.disk);
    for (const plan of options.disks) this.#plans.set(plan.disk.id, plan);
  }

  async read(disk: DiskId, offset: number, length: number): Promise<Uint8Array> {
    const plan = this.#plan(disk);
    this.#usable();
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > plan.disk.capacity
    ) {
      throw new RangeError(`read ${offset}+${length} is outside disk ${disk} (${plan.disk.capacity} bytes)`);
    }
    const out = new Uint8Array(length);
    await Promise.all(
      [...pieces(plan.segments, offset, length)].map(async (p) => {
        const bytes = await this.#readPiece(plan, p.segment, p.offset, p.length);
        out.set(bytes, p.offset - offset);
      }),
    );
    return out;
  }

  async allocation(disk: DiskId): Promise<BlockMap | null> {
    const plan = this.#plan(disk);
    this.#usable();
    return diskAllocation(plan.disk.capacity, plan.segments, (s) => this.#volumeBitmap(s));
  }

  async changes(disk: DiskId, since: ChangeToken): Promise<BlockMap | ChangeReset> {
    const plan = this.#plan(disk);
    if (plan.tracker === undefined || plan.token === null)
      return { kind: "reset", reason: "no change tracker runs on this disk" };
    return plan.tracker.changes(since, plan.token);
  }

  token(disk: DiskId): ChangeToken | null {
    return this.#plan(disk).token;
  }

  abortReason(): string | undefined {
    return this.#abort?.message;
  }

  /** The coded error a lost shadow copy was reported with (SNAPSHOT_ABORTED, VolSnap cause). */
  abortError(): LifeboatError | undefined {
    return this.#abort;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    for (const device of this.#devices.values()) device.close();
    this.#devices.clear();
    // BackupComplete only when the shadow copies served every read; the set is deleted either way.
    const outcome = await this.#options.session.close(this.#abort === undefined);
    const failures = [
      ...outcome.cleanupFailures,
      ...(outcome.ok ? [] : [`${outcome.step}: 0x${(outcome.hresult ?? 0).toString(16)}`]),
    ];
    this.#options.onRelease?.(failures);
  }

  async #readPiece(
    plan: SnapshotDiskPlan,
    segment: Segment,
    offset: number,
    length: number,
  ): Promise<Uint8Array> {
    const path = segment.kind === "shadow" ? segment.device : plan.path;
    const at = segment.kind === "shadow" ? segment.volumeOffset + (offset - segment.start) : offset;
    try {
      const bytes = await this.#device(path).read(at, length);
      if (bytes.length !== length)
        throw new LifeboatError(
          "SOURCE_READ",
          `short read of ${path} at ${at}: ${bytes.length} of ${length} bytes`,
        );
      return bytes;
    } catch (e) {
      if (segment.kind === "shadow" && !isLifeboatError(e)) throw await this.#lost(e, segment);
      if (isLifeboatError(e)) throw e;
      throw new LifeboatError(
        "SOURCE_READ",
        `cannot read ${path} at ${at}: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
  }

  /** A shadow device that fails a read has almost always been deleted: ask the log why. */
  async #lost(cause: unknown, segment: ShadowSegment): Promise<LifeboatError> {
    if (this.#abort !== undefined) return this.#abort;
    const events = await this.#events();
    const error = volSnapError(
      "abort",
      events,
      `the shadow copy of ${segment.volume.mountPoints[0] ?? segment.volume.guidPath} in snapshot ${this.id} was lost`,
      cause,
    );
    if (error.code !== "SNAPSHOT_ABORTED" || events.length === 0) {
      // Nothing in the log: a read error on a shadow copy that still exists is an I/O failure.
      return new LifeboatError(
        "SOURCE_READ",
        `cannot read shadow copy ${segment.device}: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
    }
    this.#abort = error;
    return error;
  }

  async #events(): Promise<VolSnapEvent[]> {
    try {
      const xml = await this.#options.native.queryEvents(
        "System",
        volSnapQuery(this.#options.requestedAt),
        64,
      );
      return xml.map(parseEventXml).filter((e): e is VolSnapEvent => e !== undefined);
    } catch {
      return [];
    }
  }

  #volumeBitmap(segment: ShadowSegment): Promise<BlockMap> {
    let pending = this.#bitmaps.get(segment.device);
    if (pending === undefined) {
      pending = this.#readBitmap(segment);
      this.#bitmaps.set(segment.device, pending);
    }
    return pending;
  }

  async #readBitmap(segment: ShadowSegment): Promise<BlockMap> {
    const device = this.#device(segment.device);
    const data = parseNtfsVolumeData((await device.ioctl(IOCTL.FSCTL_GET_NTFS_VOLUME_DATA, null, 96)).bytes);
    const assembler = new VolumeBitmapAssembler(data.totalClusters, data.bytesPerCluster);
    while (!assembler.complete) {
      const input = new Uint8Array(8);
      new DataView(input.buffer).setBigInt64(0, BigInt(assembler.nextLcn), true);
      const answer = await device.ioctl(IOCTL.FSCTL_GET_VOLUME_BITMAP, input, BITMAP_CHUNK);
      assembler.add(parseVolumeBitmap(answer.bytes, answer.more));
    }
    return assembler.result();
  }

  #device(path: string): NativeDevice {
    let device = this.#devices.get(path);
    if (device === undefined) {
      device = this.#options.native.openDevice(path, { access: "read", unbuffered: true });
      this.#devices.set(path, device);
    }
    return device;
  }

  #usable(): void {
    if (this.#abort !== undefined) throw this.#abort;
    if (this.#released) throw new LifeboatError("INTERNAL", `snapshot ${this.id} was used after release`);
  }

  #plan(disk: DiskId): SnapshotDiskPlan {
    const plan = this.#plans.get(disk);
    if (plan === undefined) throw new RangeError(`disk ${disk} is not in snapshot ${this.id}`);
    return plan;
  }
}
