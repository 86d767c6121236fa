/**
 * One sync snapshot of a VM as a SourceSnapshot: reads through VDDK, allocation from CBT's `*`
 * (or VDDK's allocated blocks when CBT is off), changes from QueryChangedDiskAreas, and the
 * changeId recorded in the point as the next base. Release always removes the vSphere snapshot.
 */

import type { BlockMap } from "../../domain/block-map.ts";
import type { Disk } from "../../domain/disk.ts";
import { isLifeboatError, LifeboatError } from "../../domain/errors.ts";
import type { ChangeReset, ChangeToken, Consistency } from "../../domain/snapshot.ts";
import type { Log } from "../../ports/log.ts";
import type { SourceSnapshot } from "../../ports/source.ts";
import { queryChangedAreas } from "./cbt/changed-areas.ts";
import { decodeToken, encodeToken, resetReason, type VmwareChangeToken } from "./cbt/change-token.ts";
import { isVimFault } from "./soap/envelope.ts";
import type { VimClient } from "./soap/vim-client.ts";
import type { MoRef } from "./soap/vim-node.ts";
import type { VddkSnapshotReader } from "./vddk/snapshot-reader.ts";
import { retrieveOne } from "./vsphere/property-collector.ts";
import { removeSnapshot } from "./vsphere/snapshots.ts";
import type { TaskWait } from "./vsphere/tasks.ts";

/** What the snapshot's own config says about one disk (the point-in-time view). */
export interface SnapshotDiskInfo {
  readonly disk: Disk;
  readonly deviceKey: number;
  readonly path: string;
  readonly changeId: string | undefined;
  readonly hardware: string;
  readonly slot: string;
}

export interface VmwareSnapshotParts {
  readonly client: VimClient;
  readonly vm: MoRef;
  readonly vmName: string;
  readonly snapshot: MoRef;
  readonly takenAt: number;
  readonly consistency: Consistency;
  readonly warnings: readonly string[];
  readonly disks: readonly SnapshotDiskInfo[];
  readonly reader: VddkSnapshotReader;
  readonly log: Log;
  readonly taskWait?: TaskWait;
}

export class VmwareSnapshot implements SourceSnapshot {
  readonly id: string;
  readonly takenAt: number;
  readonly consistency: Consistency;
  readonly disks: readonly Disk[];
  readonly warnings: string[];
  #abort: string | undefined;
  #released = false;

  constructor(readonly parts: VmwareSnapshotParts) {
    this.id = `${parts.vm.value}/${parts.snapshot.value}`;
    this.takenAt = parts.takenAt;
    this.consistency = parts.consistency;
    this.disks = parts.disks.map((d) => d.disk);
    this.warnings = [...parts.warnings];
  }

  async read(disk: string, offset: number, length: number): Promise<Uint8Array> {
    if (this.#abort !== undefined) throw new LifeboatError("SNAPSHOT_ABORTED", this.#abort);
    try {
      return await this.parts.reader.read(disk, offset, length);
    } catch (e) {
      const gone = await this.#snapshotGone();
      if (gone !== undefined) throw new LifeboatError("SNAPSHOT_ABORTED", gone, { cause: e });
      throw isLifeboatError(e)
        ? e
        : new LifeboatError("SOURCE_READ", `reading ${disk}: ${(e as Error).message}`, { cause: e });
    }
  }

  async allocation(disk: string): Promise<BlockMap | null> {
    const info = this.#info(disk);
    if (info.changeId === undefined) return this.parts.reader.allocated(disk, info.disk.capacity);
    try {
      return await queryChangedAreas(this.parts.client, this.#query(info, "*"));
    } catch (e) {
      throw await this.#lost(e);
    }
  }

  async changes(disk: string, since: ChangeToken): Promise<BlockMap | ChangeReset> {
    const info = this.#info(disk);
    const now = this.#tokenParts(info);
    if (now === undefined)
      return { kind: "reset", reason: `changed block tracking is off for ${info.disk.label ?? disk}` };
    const why = resetReason(since, now);
    if (why !== undefined) return { kind: "reset", reason: why };
    const base = decodeToken(since) as VmwareChangeToken; // resetReason has vetted it
    try {
      return await queryChangedAreas(this.parts.client, this.#query(info, base.changeId));
    } catch (e) {
      const lost = await this.#lost(e);
      // A changeId the host no longer knows (CBT reset, -ctk.vmdk lost or corrupt) faults like this.
      if (
        !isLifeboatError(lost, "SNAPSHOT_ABORTED") &&
        isVimFault(e, "FileFault", "InvalidArgument", "NotFound")
      ) {
        return {
          kind: "reset",
          reason: `QueryChangedDiskAreas refused the last point's changeId (${(e as Error).message})`,
        };
      }
      throw lost;
    }
  }

  token(disk: string): ChangeToken | null {
    const parts = this.#tokenParts(this.#info(disk));
    return parts === undefined ? null : encodeToken(parts);
  }

  abortReason(): string | undefined {
    return this.#abort;
  }

  /** Closes VDDK, then removes the vSphere snapshot, whatever happened before. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    let failure: unknown;
    await this.parts.reader.close().catch((e: unknown) => {
      failure = e;
      this.parts.log.error({ vm: this.parts.vmName, err: (e as Error).message }, "closing VDDK failed");
    });
    try {
      await removeSnapshot(this.parts.client, this.parts.snapshot, this.parts.taskWait);
    } catch (e) {
      failure ??= e;
      this.parts.log.error(
        { vm: this.parts.vmName, snapshot: this.parts.snapshot.value, err: (e as Error).message },
        "removing the sync snapshot failed; the next sync removes it",
      );
    }
    if (failure !== undefined) throw failure;
  }

  #info(disk: string): SnapshotDiskInfo {
    const info = this.parts.disks.find((d) => d.disk.id === disk);
    if (info === undefined)
      throw new LifeboatError(
        "DISK_NOT_FOUND",
        `${this.parts.vmName} has no disk ${disk} in snapshot ${this.id}`,
      );
    return info;
  }

  #tokenParts(info: SnapshotDiskInfo): Omit<VmwareChangeToken, "v"> | undefined {
    if (info.changeId === undefined) return undefined;
    return {
      changeId: info.changeId,
      capacity: info.disk.capacity,
      hardware: info.hardware,
      slot: info.slot,
    };
  }

  #query(info: SnapshotDiskInfo, changeId: string) {
    return {
      vm: this.parts.vm,
      snapshot: this.parts.snapshot,
      deviceKey: info.deviceKey,
      capacity: info.disk.capacity,
      changeId,
    };
  }

  /** A query failure as SNAPSHOT_ABORTED when the snapshot it named has disappeared. */
  async #lost(e: unknown): Promise<unknown> {
    if (!isVimFault(e, "NotFound", "ManagedObjectNotFound")) return e;
    const gone = await this.#snapshotGone();
    return gone === undefined ? e : new LifeboatError("SNAPSHOT_ABORTED", gone, { cause: e });
  }

  /** Why the snapshot is gone, if it was removed behind our back (then the point must not commit). */
  async #snapshotGone(): Promise<string | undefined> {
    try {
      await retrieveOne(this.parts.client, this.parts.snapshot, ["config"]);
      return undefined;
    } catch (e) {
      if (!isVimFault(e, "ManagedObjectNotFound")) return undefined;
      this.#abort = `snapshot ${this.parts.snapshot.value} of ${this.parts.vmName} was removed while it was being read`;
      return this.#abort;
    }
  }
}
