import type { BlockMap } from "../../domain/block-map.ts";
import type { Disk, DiskId } from "../../domain/disk.ts";
import type { ChangeReset, ChangeToken } from "../../domain/snapshot.ts";
import type { Source, SourceSnapshot } from "../../ports/source.ts";
import { type FaultInjector, SimulatedCrash } from "./fault-injector.ts";
import type { SimHost } from "./sim-host.ts";

/**
 * The simulated host as the engine sees it, with the levers a fault schedule pulls: a burst of
 * writes in the middle of the next transfer (it overflows the snapshot's diff area the way heavy
 * I/O makes Windows discard a VSS snapshot, VolSnap events 25/36), device errors on reads, and a
 * dead process that can no longer talk to anything.
 */
export class FaultySource implements Source {
  #burstBytes = 0;

  constructor(
    readonly host: SimHost,
    readonly faults?: FaultInjector,
  ) {}

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
    this.#checkAlive();
    const snapshot = await this.host.openSnapshot(disks);
    const burst = this.#burstBytes;
    this.#burstBytes = 0;
    return new FaultySnapshot(snapshot, this, burst === 0 ? undefined : () => this.host.burst(burst));
  }

  async committed(tokens: ReadonlyMap<DiskId, ChangeToken>): Promise<void> {
    this.#checkAlive();
    await this.host.committed(tokens);
  }

  /** @internal the snapshot's hook into the schedule */
  readFault(): Error | undefined {
    return this.faults?.readFault();
  }

  #checkAlive(): void {
    if (this.faults?.dead) throw new SimulatedCrash("a dead process used its source");
  }
}

/** Fires the burst after the first few reads, so the abort lands mid-transfer. */
class FaultySnapshot implements SourceSnapshot {
  #reads = 0;

  constructor(
    readonly inner: SourceSnapshot,
    readonly source: FaultySource,
    readonly burst: (() => void) | undefined,
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
    const fault = this.source.readFault();
    if (fault !== undefined) return Promise.reject(fault);
    if (++this.#reads === 3) this.burst?.();
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
    // A dead process releases nothing: the host cleans up its snapshots when it restarts.
    if (this.source.faults?.dead)
      return Promise.reject(new SimulatedCrash("a dead process released a snapshot"));
    return this.inner.release();
  }
}
