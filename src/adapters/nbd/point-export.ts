/**
 * One disk of a restore point as a read-only NBD export ("instant recovery"): the chunk map is
 * resolved once, chunks are fetched from the repository only when a client reads them (and
 * authenticated and re-hashed by `Repository.readChunk`, so a damaged chunk is an I/O error to the
 * client, never wrong bytes), sequential readers get read-ahead, and zero chunks are holes that
 * cost nothing and show as such in BLOCK_STATUS.
 */

import type { ChunkMap } from "../../domain/manifest.ts";
import type { RestorePoint } from "../../domain/restore-point.ts";
import type { Repository } from "../../engine/repository/repository.ts";
import { AllocationFlag } from "../../formats/nbd/protocol.ts";
import type { StatusExtent } from "../../formats/nbd/transmission.ts";
import type { ChunkFetcher } from "./chunk-fetcher.ts";
import type { NbdExport, ReadPiece } from "./export.ts";

/** Descriptors in one BLOCK_STATUS reply at most; the client asks again for the rest. */
const MAX_EXTENTS = 8192;
const HOLE = AllocationFlag.HOLE | AllocationFlag.ZERO;

export interface PointExportOptions {
  /** Chunks fetched ahead of a sequential reader. */
  readonly readAheadChunks: number;
}

export class PointExport implements NbdExport {
  readonly writable = false;
  readonly size: number;
  readonly preferredBlock: number;
  readonly #map: ChunkMap;
  readonly #fetcher: ChunkFetcher;
  readonly #readAhead: number;
  /** Where the last read ended, to spot sequential readers. */
  #lastEnd = -1;

  private constructor(
    readonly name: string,
    readonly description: string,
    map: ChunkMap,
    fetcher: ChunkFetcher,
    options: PointExportOptions,
  ) {
    this.#map = map;
    this.#fetcher = fetcher;
    this.size = map.capacity;
    this.preferredBlock = map.chunkSize;
    this.#readAhead = options.readAheadChunks;
  }

  static async open(
    repo: Repository,
    point: RestorePoint,
    disk: string,
    fetcher: ChunkFetcher,
    options: PointExportOptions,
  ): Promise<PointExport> {
    const map = await repo.resolveDiskMap(point, disk);
    const description = `${point.source}@${point.seq} disk ${disk}, taken ${new Date(point.takenAt).toISOString()}`;
    return new PointExport(disk, description, map, fetcher, options);
  }

  /** Non-zero chunks and all chunks, for the startup summary. */
  get chunkCounts(): { stored: number; total: number } {
    return { stored: this.#map.size, total: this.#map.chunks };
  }

  async read(offset: number, length: number): Promise<ReadPiece[]> {
    const cs = this.#map.chunkSize;
    const end = offset + length;
    const pieces: Array<ReadPiece | Promise<ReadPiece>> = [];
    let zeroStart = -1;
    for (let index = Math.floor(offset / cs); index * cs < end; index++) {
      const from = Math.max(offset, index * cs);
      const to = Math.min(end, (index + 1) * cs);
      const ref = this.#map.get(index);
      if (ref === undefined) {
        if (zeroStart < 0) zeroStart = from;
        continue;
      }
      if (zeroStart >= 0) {
        pieces.push({ offset: zeroStart, zeroLength: from - zeroStart });
        zeroStart = -1;
      }
      const within = from - index * cs;
      pieces.push(
        this.#fetcher
          .get(ref)
          .then((chunk) => ({ offset: from, data: chunk.subarray(within, within + (to - from)) })),
      );
    }
    if (zeroStart >= 0) pieces.push({ offset: zeroStart, zeroLength: end - zeroStart });
    if (offset === this.#lastEnd) this.#readAheadFrom(end);
    this.#lastEnd = end;
    return Promise.all(pieces);
  }

  async allocation(offset: number, length: number): Promise<StatusExtent[]> {
    const cs = this.#map.chunkSize;
    const end = Math.min(this.size, offset + length);
    const extents: Array<{ length: number; flags: number }> = [];
    for (let index = Math.floor(offset / cs); index * cs < end && extents.length <= MAX_EXTENTS; index++) {
      const from = Math.max(offset, index * cs);
      const to = Math.min(end, (index + 1) * cs);
      const flags = this.#map.get(index) === undefined ? HOLE : 0;
      const last = extents.at(-1);
      // Extents are 32-bit lengths: start a new one well before that limit.
      if (last !== undefined && last.flags === flags && last.length + (to - from) < 2 ** 31)
        last.length += to - from;
      else extents.push({ length: to - from, flags });
    }
    return extents.slice(0, MAX_EXTENTS);
  }

  async write(): Promise<void> {
    throw new Error("read-only export");
  }

  async zero(): Promise<void> {
    throw new Error("read-only export");
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}

  #readAheadFrom(end: number): void {
    const cs = this.#map.chunkSize;
    const first = Math.ceil(end / cs);
    for (let index = first; index < first + this.#readAhead && index < this.#map.chunks; index++) {
      const ref = this.#map.get(index);
      if (ref !== undefined) this.#fetcher.prefetch(ref);
    }
  }
}
