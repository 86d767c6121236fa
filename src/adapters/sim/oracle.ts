import type { BlockMap } from "../../domain/block-map.ts";
import type { DiskId } from "../../domain/disk.ts";
import { PAGE_SIZE, type Page, readPages } from "./pages.ts";

/** What a restore of one disk of one snapshot must produce, byte for byte. */
export interface ExpectedDisk {
  readonly capacity: number;
  read(offset: number, length: number): Uint8Array;
}

/** A disk as the snapshot captured it: its pages and its cluster allocation. */
export interface CapturedDisk {
  readonly capacity: number;
  readonly pages: readonly Page[];
  readonly allocation: BlockMap;
}

/**
 * The verification oracle: for every snapshot, the exact bytes each disk must restore to — the
 * snapshot's bytes with every unallocated cluster zeroed. Built from the simulator's own pages and
 * bitmap at snapshot time, never from anything the engine computes.
 *
 * Fully allocated pages are shared with the disk; a partly allocated page is masked once per
 * (page, allocation pattern) and the masked copy reused, so memory grows with changes, not with
 * the number of snapshots.
 */
export class Oracle {
  readonly #snapshots = new Map<string, Map<DiskId, ExpectedDisk>>();
  readonly #masked = new WeakMap<Uint8Array, Map<string, Uint8Array>>();

  /** Records the expected image of one disk of a snapshot (called by the host as it snapshots). */
  record(snapshotId: string, diskId: DiskId, captured: CapturedDisk): void {
    const pages = captured.pages.map((page, index) => this.#expectedPage(page, index, captured));
    const capacity = captured.capacity;
    const disk: ExpectedDisk = {
      capacity,
      read(offset, length) {
        if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
          throw new RangeError(`bad range ${offset}+${length}`);
        }
        if (offset + length > capacity) throw new RangeError(`range ${offset}+${length} exceeds ${capacity}`);
        return readPages(pages, offset, length);
      },
    };
    let disks = this.#snapshots.get(snapshotId);
    if (disks === undefined) {
      disks = new Map();
      this.#snapshots.set(snapshotId, disks);
    }
    disks.set(diskId, disk);
  }

  expected(snapshotId: string, diskId: DiskId): ExpectedDisk {
    const disk = this.#snapshots.get(snapshotId)?.get(diskId);
    if (disk === undefined)
      throw new RangeError(`the oracle has no disk ${diskId} in snapshot ${snapshotId}`);
    return disk;
  }

  has(snapshotId: string): boolean {
    return this.#snapshots.has(snapshotId);
  }

  drop(snapshotId: string): void {
    this.#snapshots.delete(snapshotId);
  }

  #expectedPage(page: Page, index: number, captured: CapturedDisk): Page {
    if (page === undefined) return undefined;
    const { allocation } = captured;
    const start = index * PAGE_SIZE;
    const end = Math.min(start + PAGE_SIZE, captured.capacity);
    const first = Math.floor(start / allocation.grain);
    const last = Math.floor((end - 1) / allocation.grain);
    let pattern = "";
    for (let c = first; c <= last; c++) pattern += allocation.has(c) ? "1" : "0";
    if (!pattern.includes("0")) return page;
    if (!pattern.includes("1")) return undefined;
    let variants = this.#masked.get(page);
    if (variants === undefined) {
      variants = new Map();
      this.#masked.set(page, variants);
    }
    let masked = variants.get(pattern);
    if (masked === undefined) {
      masked = page.slice();
      for (let c = first; c <= last; c++) {
        if (allocation.has(c)) continue;
        const from = Math.max(c * allocation.grain, start) - start;
        const to = Math.min((c + 1) * allocation.grain, end) - start;
        masked.fill(0, from, to);
      }
      variants.set(pattern, masked);
    }
    return masked;
  }
}
