/**
 * A simulated VMDK on a simulated datastore: a sparse flat file under the datastore directory
 * (`[ds] dir/name.vmdk` ↔ `<root>/ds/dir/name-flat.vmdk`, the mapping the stand-in VDDK uses), with
 * snapshot deltas as real ESXi lays them out. A snapshot freezes the running file and moves the VM
 * onto a new `-00000N` delta; removing it folds the delta back; a revert copies the frozen file.
 */

import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { BlockMap } from "../../../domain/block-map.ts";
import { CBT_GRAIN, DiskChangeTracking, type TrackingState } from "./change-tracking.ts";

export interface DiskOptions {
  readonly key: number;
  readonly label: string;
  readonly baseName: string;
  readonly capacity: number;
  readonly mode?: string;
  readonly sharing?: string;
  /** `physicalMode` / `virtualMode` for a raw device mapping. */
  readonly rdm?: string;
  readonly uuid: string;
}

/** One disk as a snapshot holds it. */
export interface FrozenDisk {
  readonly key: number;
  descriptor: string;
  readonly capacity: number;
  readonly allocated: BlockMap;
  readonly tracking: TrackingState;
  readonly parents: readonly string[];
}

export class SimVirtualDisk {
  readonly tracking: DiskChangeTracking;
  capacity: number;
  allocated: BlockMap;
  /** Descriptor path the VM runs on now, and the chain of bases under it (outermost first). */
  descriptor: string;
  parents: string[] = [];
  #deltas = 0;

  constructor(
    readonly options: DiskOptions,
    readonly root: string,
    readonly datastore: string,
    readonly dir: string,
    newUuid: () => string,
  ) {
    this.capacity = options.capacity;
    this.allocated = BlockMap.forCapacity(CBT_GRAIN, options.capacity);
    this.tracking = new DiskChangeTracking(options.capacity, newUuid);
    this.descriptor = `[${datastore}] ${dir}/${options.baseName}.vmdk`;
    const file = this.flatPath(this.descriptor);
    mkdirSync(dirname(file), { recursive: true });
    const fd = openSync(file, "w");
    ftruncateSync(fd, options.capacity);
    closeSync(fd);
  }

  get key(): number {
    return this.options.key;
  }

  /** The flat extent of a descriptor path on this datastore. */
  flatPath(descriptor: string): string {
    const m = /^\[([^\]]+)\] (.+)\.vmdk$/.exec(descriptor);
    if (m === null) throw new Error(`not a datastore path: ${descriptor}`);
    return join(this.root, m[1] as string, `${m[2] as string}-flat.vmdk`);
  }

  write(offset: number, data: Uint8Array): void {
    if (offset < 0 || offset + data.length > this.capacity) throw new RangeError("write outside the disk");
    const fd = openSync(this.flatPath(this.descriptor), "r+");
    try {
      writeSync(fd, data, 0, data.length, offset);
    } finally {
      closeSync(fd);
    }
    const first = Math.floor(offset / CBT_GRAIN);
    const last = Math.floor((offset + data.length - 1) / CBT_GRAIN);
    if (data.length > 0) this.allocated.addRange(first, last - first + 1);
    this.tracking.written(offset, data.length);
  }

  /** Reads the running disk (what the guest sees now). */
  read(offset: number, length: number, descriptor = this.descriptor): Uint8Array {
    const out = new Uint8Array(length);
    const fd = openSync(this.flatPath(descriptor), "r");
    try {
      readSync(fd, out, 0, length, offset);
    } finally {
      closeSync(fd);
    }
    return out;
  }

  /** Grows the disk (ReconfigVM_Task with a larger capacity): change tracking is reset. */
  resize(capacity: number): void {
    if (capacity < this.capacity) throw new RangeError("vSphere cannot shrink a disk");
    const fd = openSync(this.flatPath(this.descriptor), "r+");
    ftruncateSync(fd, capacity);
    closeSync(fd);
    const grown = BlockMap.forCapacity(CBT_GRAIN, capacity);
    for (const r of this.allocated.runs()) grown.addRange(r.start, r.count);
    this.allocated = grown;
    this.capacity = capacity;
    this.tracking.reset(capacity);
  }

  /** Snapshot: the running file becomes the snapshot's, the VM moves onto a copy-on-write delta. */
  freeze(): FrozenDisk {
    this.tracking.stun();
    const frozen: FrozenDisk = {
      key: this.key,
      descriptor: this.descriptor,
      capacity: this.capacity,
      allocated: this.allocated.clone(),
      tracking: this.tracking.state(),
      parents: [...this.parents],
    };
    const delta = this.#nextDelta();
    sparseCopy(this.flatPath(this.descriptor), this.flatPath(delta), this.capacity, this.allocated);
    this.parents = [this.descriptor, ...this.parents];
    this.descriptor = delta;
    return frozen;
  }

  /**
   * Removes a snapshot's disk: the child's content (a child snapshot's frozen file, or the running
   * file when `child` is undefined) is folded into the snapshot's file, which takes its place.
   */
  fold(frozen: FrozenDisk, child: FrozenDisk | undefined): void {
    const from = child?.descriptor ?? this.descriptor;
    renameSync(this.flatPath(from), this.flatPath(frozen.descriptor));
    if (child === undefined) {
      this.descriptor = frozen.descriptor;
      this.parents = [...frozen.parents];
    } else {
      child.descriptor = frozen.descriptor;
    }
    this.tracking.stun();
  }

  /** Revert: the running disk becomes a fresh delta on the snapshot's file, and CBT goes back with it. */
  revert(frozen: FrozenDisk): void {
    rmSync(this.flatPath(this.descriptor), { force: true });
    const delta = this.#nextDelta();
    sparseCopy(this.flatPath(frozen.descriptor), this.flatPath(delta), frozen.capacity, frozen.allocated);
    this.descriptor = delta;
    this.parents = [frozen.descriptor, ...frozen.parents];
    this.capacity = frozen.capacity;
    this.allocated = frozen.allocated.clone();
    this.tracking.restore(frozen.tracking, frozen.capacity);
  }

  /** Drops a snapshot's frozen file whose content is no longer referenced. */
  discard(frozen: FrozenDisk): void {
    rmSync(this.flatPath(frozen.descriptor), { force: true });
  }

  #nextDelta(): string {
    this.#deltas++;
    return `[${this.datastore}] ${this.dir}/${this.options.baseName}-${String(this.#deltas).padStart(6, "0")}.vmdk`;
  }
}

/** Copies only the allocated blocks, so deltas stay sparse like thin VMDKs. */
function sparseCopy(from: string, to: string, capacity: number, allocated: BlockMap): void {
  const src = openSync(from, "r");
  const dst = openSync(to, "w");
  try {
    ftruncateSync(dst, capacity);
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (const extent of allocated.extents(capacity)) {
      for (let done = 0; done < extent.length;) {
        const n = readSync(
          src,
          buffer,
          0,
          Math.min(buffer.length, extent.length - done),
          extent.offset + done,
        );
        if (n === 0) break;
        writeSync(dst, buffer, 0, n, extent.offset + done);
        done += n;
      }
    }
  } finally {
    closeSync(src);
    closeSync(dst);
  }
}
