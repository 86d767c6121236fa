/**
 * A pass-through Source that adds up the time spent inside the wrapped source, so a scaling run can
 * tell the engine's time from the simulator's. The simulator does all its work synchronously inside
 * its async methods (capturing page arrays, recording the oracle, copying pages out), so the time
 * until each call returns its promise is exactly the simulator's share.
 */

import type { BlockMap } from "../src/domain/block-map.ts";
import type { Disk, DiskId } from "../src/domain/disk.ts";
import type { ChangeReset, ChangeToken } from "../src/domain/snapshot.ts";
import type { Source, SourceSnapshot } from "../src/ports/source.ts";

export class TimedSource implements Source {
  /** Nanoseconds spent inside the wrapped source so far. */
  insideNs = 0n;

  constructor(readonly inner: Source) {}

  get name(): string {
    return this.inner.name;
  }

  /** Seconds spent inside the source since `sinceNs` (a previous `insideNs`). */
  secondsSince(sinceNs: bigint): number {
    return Number(this.insideNs - sinceNs) / 1e9;
  }

  timed<T>(call: () => T): T {
    const started = process.hrtime.bigint();
    try {
      return call();
    } finally {
      this.insideNs += process.hrtime.bigint() - started;
    }
  }

  describe(): Promise<readonly Disk[]> {
    return this.timed(() => this.inner.describe());
  }

  async openSnapshot(disks: readonly DiskId[]): Promise<SourceSnapshot> {
    return new TimedSnapshot(this, await this.timed(() => this.inner.openSnapshot(disks)));
  }

  async committed(tokens: ReadonlyMap<DiskId, ChangeToken>): Promise<void> {
    await this.timed(() => this.inner.committed?.(tokens));
  }
}

class TimedSnapshot implements SourceSnapshot {
  constructor(
    readonly source: TimedSource,
    readonly inner: SourceSnapshot,
  ) {}

  get id(): string {
    return this.inner.id;
  }
  get takenAt(): number {
    return this.inner.takenAt;
  }
  get consistency(): SourceSnapshot["consistency"] {
    return this.inner.consistency;
  }
  get disks(): readonly Disk[] {
    return this.inner.disks;
  }
  get warnings(): readonly string[] {
    return this.inner.warnings;
  }

  read(disk: DiskId, offset: number, length: number): Promise<Uint8Array> {
    return this.source.timed(() => this.inner.read(disk, offset, length));
  }

  allocation(disk: DiskId): Promise<BlockMap | null> {
    return this.source.timed(() => this.inner.allocation(disk));
  }

  changes(disk: DiskId, since: ChangeToken): Promise<BlockMap | ChangeReset> {
    return this.source.timed(() => this.inner.changes(disk, since));
  }

  token(disk: DiskId): ChangeToken | null {
    return this.inner.token(disk);
  }

  abortReason(): string | undefined {
    return this.inner.abortReason();
  }

  release(): Promise<void> {
    return this.source.timed(() => this.inner.release());
  }
}
