import { BlockMap, type Extent } from "../../domain/block-map.ts";
import type { DiskId } from "../../domain/disk.ts";
import type { ContentGenerator } from "./content.ts";
import {
  bitmapSectors,
  bootSector,
  FIRST_USER_FILE,
  METADATA_BYTES,
  type MetadataWrite,
  mftRecord,
  SECTOR_SIZE,
} from "./ntfs-metadata.ts";
import { type Page, pagesFor, readPages, writePages } from "./pages.ts";

export { METADATA_BYTES, SECTOR_SIZE } from "./ntfs-metadata.ts";
export const DEFAULT_CLUSTER_SIZE = 4096;

/** A file: its clusters (byte extents, in file order) and its size (a whole number of sectors). */
export interface SimFile {
  readonly id: number;
  readonly extents: readonly Extent[];
  readonly size: number;
}

interface FileRecord {
  readonly id: number;
  extents: Extent[];
  size: number;
}

/** Called after every write with the byte range written. */
export type WriteListener = (offset: number, length: number) => void;

export interface SimDiskOptions {
  readonly id: DiskId;
  readonly capacity: number;
  readonly clusterSize?: number;
  readonly content: ContentGenerator;
}

/**
 * A sparse in-memory NTFS-like volume. Freeing clusters clears their allocation bits and leaves
 * their bytes in place, as NTFS does, so "unallocated restores as zeros" is a real test. Every
 * allocation change also writes the $Bitmap sectors and the file's $MFT record, as NTFS would.
 */
export class SimDisk {
  readonly id: DiskId;
  readonly clusterSize: number;
  #capacity: number;
  #pages: Page[];
  #allocation: BlockMap;
  #allocated: number;
  readonly #files = new Map<number, FileRecord>();
  readonly #listeners = new Set<WriteListener>();
  readonly #content: ContentGenerator;
  readonly #metadataClusters: number;
  #nextFileId = FIRST_USER_FILE;
  /** First-fit starts here, so successive files land one after another and fragment as holes appear. */
  #cursor: number;

  constructor(options: SimDiskOptions) {
    const clusterSize = options.clusterSize ?? DEFAULT_CLUSTER_SIZE;
    if (
      !Number.isSafeInteger(clusterSize) ||
      clusterSize < SECTOR_SIZE ||
      (clusterSize & (clusterSize - 1)) !== 0
    ) {
      throw new RangeError(`cluster size must be a power of two ≥ ${SECTOR_SIZE}: ${clusterSize}`);
    }
    checkCapacity(options.capacity, clusterSize);
    this.id = options.id;
    this.clusterSize = clusterSize;
    this.#capacity = options.capacity;
    this.#content = options.content;
    this.#pages = new Array<Page>(pagesFor(options.capacity)).fill(undefined);
    this.#metadataClusters = Math.ceil(METADATA_BYTES / clusterSize);
    this.#allocation = BlockMap.forCapacity(clusterSize, options.capacity).addRange(
      0,
      this.#metadataClusters,
    );
    this.#allocated = this.#metadataClusters;
    this.#cursor = this.#metadataClusters;
    this.#writeBootSector();
    this.#writeBitmap([{ offset: 0, length: METADATA_BYTES }]);
  }

  get capacity(): number {
    return this.#capacity;
  }

  get clusterCount(): number {
    return this.#allocation.blocks;
  }

  get allocatedClusters(): number {
    return this.#allocated;
  }

  /** Share of the volume allocated, metadata included. */
  allocatedFraction(): number {
    return this.#allocated / this.clusterCount;
  }

  /** A point-in-time copy of the page array (pages are shared, never mutated). */
  capturePages(): Page[] {
    return this.#pages.slice();
  }

  /** A point-in-time copy of the cluster allocation bitmap. */
  captureAllocation(): BlockMap {
    return this.#allocation.clone();
  }

  isAllocated(cluster: number): boolean {
    return this.#allocation.has(cluster);
  }

  read(offset: number, length: number): Uint8Array {
    this.#checkRange(offset, length, 1);
    return readPages(this.#pages, offset, length);
  }

  /** Writes whole sectors at any sector offset. */
  write(offset: number, data: Uint8Array): void {
    this.#checkRange(offset, data.length, SECTOR_SIZE);
    if (data.length === 0) return;
    writePages(this.#pages, offset, data);
    for (const listener of this.#listeners) listener(offset, data.length);
  }

  /** Registers a write observer (trackers, snapshots' diff areas); returns its removal. */
  onWrite(listener: WriteListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Allocates `clusterCount` free clusters first-fit from the cursor; extents may be fragmented. */
  allocate(clusterCount: number): Extent[] {
    if (clusterCount > this.clusterCount - this.#allocated) {
      throw new RangeError(`volume ${this.id} is full: ${clusterCount} clusters requested`);
    }
    const runs: Array<{ start: number; count: number }> = [];
    let needed = clusterCount;
    for (let scanned = 0, c = this.#cursor; needed > 0 && scanned < this.clusterCount; scanned++) {
      if (!this.#allocation.has(c)) {
        const last = runs[runs.length - 1];
        if (last !== undefined && last.start + last.count === c) last.count++;
        else runs.push({ start: c, count: 1 });
        needed--;
        this.#cursor = c + 1;
      }
      c = c + 1 >= this.clusterCount ? this.#metadataClusters : c + 1;
    }
    if (this.#cursor >= this.clusterCount) this.#cursor = this.#metadataClusters;
    for (const r of runs) this.#allocation.addRange(r.start, r.count);
    this.#allocated += clusterCount;
    const extents = runs.map((r) => ({
      offset: r.start * this.clusterSize,
      length: r.count * this.clusterSize,
    }));
    this.#writeBitmap(extents);
    return extents;
  }

  /** Clears allocation bits; the clusters keep their stale bytes. */
  free(extents: readonly Extent[]): void {
    for (const e of extents) {
      const start = e.offset / this.clusterSize;
      const count = e.length / this.clusterSize;
      if (start < this.#metadataClusters) throw new RangeError("cannot free the metadata region");
      for (let c = start; c < start + count; c++) if (this.#allocation.has(c)) this.#allocated--;
      this.#allocation.removeRange(start, count);
    }
    this.#writeBitmap(extents);
  }

  files(): SimFile[] {
    return [...this.#files.values()];
  }

  hasFile(file: SimFile): boolean {
    return this.#files.get(file.id) === file;
  }

  /** Creates a file of `bytes` (rounded up to a sector) filled with generated content. */
  createFile(bytes: number): SimFile {
    const size = roundUp(bytes, SECTOR_SIZE);
    const file: FileRecord = { id: this.#nextFileId++, extents: [], size: 0 };
    this.#files.set(file.id, file);
    this.#grow(file, size);
    return file;
  }

  /** Rewrites [offset, offset+length) of the file (sector-aligned, within its size). */
  overwrite(file: SimFile, offset: number, length: number): void {
    const record = this.#record(file);
    if (
      offset % SECTOR_SIZE !== 0 ||
      length % SECTOR_SIZE !== 0 ||
      offset < 0 ||
      offset + length > record.size
    ) {
      throw new RangeError(`bad overwrite ${offset}+${length} of file ${file.id} (size ${record.size})`);
    }
    this.#writeFileRange(record, offset, this.#content.generate(length));
  }

  /** Extends the file by `bytes` (rounded up to a sector) of generated content. */
  appendFile(file: SimFile, bytes: number): void {
    const record = this.#record(file);
    this.#grow(record, record.size + roundUp(bytes, SECTOR_SIZE));
  }

  deleteFile(file: SimFile): void {
    const record = this.#record(file);
    this.#files.delete(record.id);
    this.free(record.extents);
    this.#writeMftRecord(record, false);
  }

  /** Extends the volume (the partition and file system grow together). */
  resize(newCapacity: number): void {
    checkCapacity(newCapacity, this.clusterSize);
    if (newCapacity <= this.#capacity) throw new RangeError(`disk ${this.id} can only grow`);
    this.#allocation = BlockMap.fromRuns(
      this.clusterSize,
      newCapacity / this.clusterSize,
      this.#allocation.runs(),
    );
    while (this.#pages.length < pagesFor(newCapacity)) this.#pages.push(undefined);
    this.#capacity = newCapacity;
    this.#writeBootSector();
  }

  #grow(file: FileRecord, newSize: number): void {
    const have = Math.ceil(file.size / this.clusterSize);
    const need = Math.ceil(newSize / this.clusterSize);
    if (need > have) {
      for (const e of this.allocate(need - have)) {
        const last = file.extents[file.extents.length - 1];
        if (last !== undefined && last.offset + last.length === e.offset) {
          file.extents[file.extents.length - 1] = { offset: last.offset, length: last.length + e.length };
        } else {
          file.extents.push(e);
        }
      }
    }
    const oldSize = file.size;
    file.size = newSize;
    this.#writeMftRecord(file, true);
    this.#writeFileRange(file, oldSize, this.#content.generate(newSize - oldSize));
  }

  /** Maps a file range onto its extents and writes each physical piece. */
  #writeFileRange(file: FileRecord, offset: number, data: Uint8Array): void {
    let logical = 0;
    for (const e of file.extents) {
      const from = Math.max(offset, logical);
      const to = Math.min(offset + data.length, logical + e.length);
      if (from < to) this.write(e.offset + (from - logical), data.subarray(from - offset, to - offset));
      logical += e.length;
    }
  }

  #record(file: SimFile): FileRecord {
    const record = this.#files.get(file.id);
    if (record === undefined) throw new RangeError(`file ${file.id} does not exist on ${this.id}`);
    return record;
  }

  #writeBootSector(): void {
    this.#writeMetadata(bootSector(this.id, this.#capacity));
  }

  #writeBitmap(extents: readonly Extent[]): void {
    for (const w of bitmapSectors(this.#allocation, extents)) this.#writeMetadata(w);
  }

  #writeMftRecord(file: FileRecord, inUse: boolean): void {
    this.#writeMetadata(mftRecord(file, this.clusterSize, inUse));
  }

  #writeMetadata(w: MetadataWrite): void {
    this.write(w.offset, w.data);
  }

  #checkRange(offset: number, length: number, align: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new RangeError(`bad range ${offset}+${length}`);
    }
    if (offset % align !== 0 || length % align !== 0) {
      throw new RangeError(`range ${offset}+${length} is not aligned to ${align} bytes`);
    }
    if (offset + length > this.#capacity) {
      throw new RangeError(`range ${offset}+${length} exceeds ${this.id} (${this.#capacity} bytes)`);
    }
  }
}

function checkCapacity(capacity: number, clusterSize: number): void {
  if (!Number.isSafeInteger(capacity) || capacity % clusterSize !== 0 || capacity < 2 * METADATA_BYTES) {
    throw new RangeError(
      `capacity must be a multiple of the ${clusterSize}-byte cluster and ≥ ${2 * METADATA_BYTES}: ${capacity}`,
    );
  }
}

function roundUp(n: number, unit: number): number {
  return Math.ceil(n / unit) * unit;
}
