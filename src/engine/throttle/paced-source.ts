/**
 * A Source whose snapshots wait on a pacer before every read. Reads are where a sync's work enters
 * the pipeline (hashing, compression, encryption and upload follow each read, with a bounded number
 * in flight), so pacing reads paces the whole job — without touching the sync job itself.
 */

import type { BlockMap } from "../../domain/block-map.ts";
import type { Disk, DiskId } from "../../domain/disk.ts";
import type { ChangeReset, ChangeToken, Consistency } from "../../domain/snapshot.ts";
import type { Source, SourceSnapshot } from "../../ports/source.ts";

/** Waits until `bytes` more may be read. */
export type Pace = (bytes: number) => Promise<void>;

export class PacedSource implements Source {
  constructor(
    readonly inner: Source,
    readonly pace: Pace,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  describe(): Promise<readonly Disk[]> {
    return this.inner.describe();
  }

  async openSnapshot(disks: readonly DiskId[]): Promise<SourceSnapshot> {
    return new PacedSnapshot(await this.inner.openSnapshot(disks), this.pace);
  }

  async committed(tokens: ReadonlyMap<DiskId, ChangeToken>): Promise<void> {
    await this.inner.committed?.(tokens);
  }
}

class PacedSnapshot implements SourceSnapshot {
  constructor(
    readonly inner: SourceSnapshot,
    readonly pace: Pace,
  ) {}

  get id(): string {
    return this.inner.id;
  }
  get takenAt(): number {
    return this.inner.takenAt;
  }
  get consistency(): Consistency {
    return this.inner.consistency;
  }
  get disks(): readonly Disk[] {
    return this.inner.disks;
  }
  get warnings(): readonly string[] {
    return this.inner.warnings;
  }

  async read(disk: DiskId, offset: number, length: number): Promise<Uint8Array> {
    await this.pace(length);
    return this.inner.read(disk, offset, length);
  }
  allocation(disk: DiskId): Promise<BlockMap | null> {
    return this.inner.allocation(disk);
  }
  changes(disk: DiskId, since: ChangeToken): Promise<BlockMap | ChangeReset> {
    return this.inner.changes(disk, since);
  }
  token(disk: DiskId): ChangeToken | null {
    return this.inner.token(disk);
  }
  abortReason(): string | undefined {
    return this.inner.abortReason();
  }
  release(): Promise<void> {
    return this.inner.release();
  }
}
