import type { SimHost } from "../../adapters/sim/sim-host.ts";
import type { BlockMap } from "../../domain/block-map.ts";
import type { Disk, DiskId } from "../../domain/disk.ts";
import type { ChangeReset, ChangeToken } from "../../domain/snapshot.ts";
import type { Source, SourceSnapshot } from "../../ports/source.ts";

/**
 * The simulated host as a Source, with one extra lever for scenarios: a burst of writes in the
 * middle of the next transfer, which overflows the snapshot's diff area the way heavy I/O makes
 * Windows discard a VSS snapshot (VolSnap events 25/36).
 */
export class PressuredSource implements Source {
  #burstBytes = 0;

  constructor(readonly host: SimHost) {}

  get name(): string {
    return this.host.name;
  }

  burstDuringNextTransfer(bytes: number): void {
    this.#burstBytes = bytes;
  }

  describe(): Promise<readonly Disk[]> {
    return this.host.describe();
  }

  async openSnapshot(disks: readonly DiskId[]): Promise<SourceSnapshot> {
    const snapshot = await this.host.openSnapshot(disks);
    const burst = this.#burstBytes;
    this.#burstBytes = 0;
    return burst === 0 ? snapshot : new BurstingSnapshot(snapshot, () => this.host.burst(burst));
  }

  committed(tokens: ReadonlyMap<DiskId, ChangeToken>): Promise<void> {
    return this.host.committed(tokens);
  }
}

/** Fires the burst after the first few reads, so the abort lands mid-transfer. */
class BurstingSnapshot implements SourceSnapshot {
  #reads = 0;

  constructor(
    readonly inner: SourceSnapshot,
    readonly fire: () => void,
  ) {}

  get id(): string {
    return this.inner.id;
  }
  get takenAt(): number {
    return this.inner.takenAt;
  }
  get consistency() {
    return this.inner.consistency;
  }
  get disks(): readonly Disk[] {
    return this.inner.disks;
  }
  get warnings(): readonly string[] {
    return this.inner.warnings;
  }

  read(disk: DiskId, offset: number, length: number): Promise<Uint8Array> {
    if (++this.#reads === 3) this.fire();
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
