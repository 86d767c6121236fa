import type { Prng } from "./prng.ts";
import { SECTOR_SIZE, type SimDisk, type SimFile } from "./sim-disk.ts";

export interface WorkloadOptions {
  /** Bytes written per virtual second outside bursts. */
  readonly bytesPerSecond: number;
  /** Files rewritten often (a database, a log, a page file). */
  readonly hotFiles?: number;
  /** Share of overwrites that go to a hot file rather than anywhere. */
  readonly locality?: number;
  /** Mean virtual time between bursts. */
  readonly meanBurstIntervalMs?: number;
  readonly burstMs?: number;
  /** Write rate during a burst, as a multiple of the normal rate. */
  readonly burstFactor?: number;
  /** The workload creates rather than deletes below this allocated share, and the reverse above `maxFill`. */
  readonly minFill?: number;
  readonly maxFill?: number;
}

const MIN_WRITE = SECTOR_SIZE;
const MAX_WRITE = 1 << 20;

/**
 * A seeded write workload on one disk: a mix of file creates, overwrites, appends and deletes that
 * keeps the volume between `minFill` and `maxFill` allocated, concentrated on a few hot files, with
 * occasional bursts. Bytes are budgeted against virtual time and operation sizes are drawn in
 * sequence, so the same seed and call sequence always produce the same writes.
 */
export class Workload {
  readonly #disk: SimDisk;
  readonly #ops: Prng;
  readonly #bursts: Prng;
  readonly #options: Required<WorkloadOptions>;
  #hot: SimFile[] = [];
  /** Virtual time as this workload has seen it, and the write budget not yet spent. */
  #elapsedMs = 0;
  #budget = 0;
  #nextSize: number;
  #burstStart: number;
  #burstEnd: number;

  constructor(disk: SimDisk, prng: Prng, options: WorkloadOptions) {
    this.#disk = disk;
    this.#ops = prng.fork("ops");
    this.#bursts = prng.fork("bursts");
    this.#options = {
      hotFiles: 3,
      locality: 0.7,
      meanBurstIntervalMs: 60_000,
      burstMs: 2_000,
      burstFactor: 8,
      minFill: 0.3,
      maxFill: 0.8,
      ...options,
    };
    this.#nextSize = this.#drawSize();
    this.#burstStart = this.#drawBurstGap();
    this.#burstEnd = this.#burstStart + this.#options.burstMs;
  }

  /** Fills an empty volume to `fill` with hot files and ordinary ones (setup, not budgeted). */
  populate(fill = (this.#options.minFill + this.#options.maxFill) / 2): void {
    const dataBytes = this.#disk.capacity * (1 - this.#disk.allocatedFraction());
    for (let i = 0; i < this.#options.hotFiles; i++) {
      this.#hot.push(
        this.#disk.createFile(this.#ops.int(1, 5) * Math.max(SECTOR_SIZE, Math.floor(dataBytes / 64))),
      );
    }
    for (let left = this.#bytesBelow(fill); left > 0; left = this.#bytesBelow(fill)) {
      this.#disk.createFile(Math.min(this.#fileSize(), left));
    }
  }

  /** Applies the writes due in `ms` of virtual time; returns the bytes of data written. */
  run(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot run a workload for ${ms} ms`);
    const end = this.#elapsedMs + ms;
    while (this.#elapsedMs < end) {
      const inBurst = this.#elapsedMs >= this.#burstStart;
      const boundary = inBurst ? this.#burstEnd : this.#burstStart;
      const until = Math.min(end, boundary);
      const rate = this.#options.bytesPerSecond * (inBurst ? this.#options.burstFactor : 1);
      this.#budget += (rate * (until - this.#elapsedMs)) / 1000;
      this.#elapsedMs = until;
      if (inBurst && until === this.#burstEnd) {
        this.#burstStart = this.#burstEnd + this.#drawBurstGap();
        this.#burstEnd = this.#burstStart + this.#options.burstMs;
      }
    }
    let written = 0;
    while (this.#budget >= this.#nextSize) {
      this.#budget -= this.#nextSize;
      written += this.#nextSize;
      this.#apply(this.#nextSize);
      this.#nextSize = this.#drawSize();
    }
    return written;
  }

  /** Writes `bytes` at once as scattered 64 KiB overwrites (forces copy-on-write of many pages). */
  burst(bytes: number): void {
    for (let left = bytes; left > 0;) {
      const file = this.#pickFile(this.#disk.files());
      if (file === undefined) return;
      const length = Math.min(64 * 1024, file.size, roundUp(left));
      const offset = this.#ops.int(0, (file.size - length) / SECTOR_SIZE + 1) * SECTOR_SIZE;
      this.#disk.overwrite(file, offset, length);
      left -= length;
    }
  }

  #apply(size: number): void {
    // Someone else (a test, a scenario) may have deleted a hot file.
    this.#hot = this.#hot.filter((f) => this.#disk.hasFile(f));
    const fill = this.#disk.allocatedFraction();
    const roll = this.#ops.next();
    // Growing never takes the volume past maxFill (a file also takes a cluster of slack).
    const grown = this.#disk.allocatedClusters + Math.ceil(size / this.#disk.clusterSize) + 1;
    const canGrow = grown <= this.#options.maxFill * this.#disk.clusterCount;
    if (this.#disk.files().length === 0 || (fill < this.#options.minFill && canGrow)) {
      this.#disk.createFile(size);
    } else if (fill > this.#options.maxFill || (roll < 0.12 && fill > this.#options.minFill)) {
      const victim = this.#pickFile(this.#disk.files().filter((f) => !this.#hot.includes(f)));
      if (victim !== undefined) this.#disk.deleteFile(victim);
      this.#overwrite(size);
    } else if (roll < 0.27 && canGrow) {
      this.#disk.createFile(size);
    } else if (roll < 0.37 && canGrow) {
      const pool = this.#ops.chance(this.#options.locality) ? this.#hot : this.#disk.files();
      const file = this.#pickFile(pool.filter((f) => f.size < this.#disk.capacity / 8));
      if (file !== undefined) this.#disk.appendFile(file, size);
      else this.#overwrite(size);
    } else {
      this.#overwrite(size);
    }
  }

  #overwrite(size: number): void {
    const pool =
      this.#hot.length > 0 && this.#ops.chance(this.#options.locality) ? this.#hot : this.#disk.files();
    const file = this.#pickFile(pool);
    if (file === undefined) return;
    const length = Math.min(size, file.size);
    const offset = this.#ops.int(0, (file.size - length) / SECTOR_SIZE + 1) * SECTOR_SIZE;
    this.#disk.overwrite(file, offset, length);
  }

  #pickFile(files: readonly SimFile[]): SimFile | undefined {
    return files.length === 0 ? undefined : this.#ops.pick(files);
  }

  /** Log-uniform between one sector and 1 MiB: many small writes, a few large ones. */
  #drawSize(): number {
    const sectors = Math.exp(this.#ops.next() * Math.log(MAX_WRITE / MIN_WRITE));
    return Math.floor(sectors) * SECTOR_SIZE;
  }

  #fileSize(): number {
    const max = Math.max(SECTOR_SIZE * 2, Math.min(4 << 20, this.#disk.capacity / 16));
    return Math.floor(Math.exp(this.#ops.next() * Math.log(max / SECTOR_SIZE))) * SECTOR_SIZE;
  }

  #bytesBelow(fill: number): number {
    return Math.floor(fill * this.#disk.clusterCount - this.#disk.allocatedClusters) * this.#disk.clusterSize;
  }

  #drawBurstGap(): number {
    return -Math.log(1 - this.#bursts.next()) * this.#options.meanBurstIntervalMs;
  }
}

function roundUp(bytes: number): number {
  return Math.ceil(bytes / SECTOR_SIZE) * SECTOR_SIZE;
}
