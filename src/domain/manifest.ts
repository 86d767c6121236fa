/**
 * Per-disk manifests: which chunk holds the bytes at each chunk-aligned position of a disk.
 *
 * A manifest is either a checkpoint (the complete map; absent positions read as zeros) or a delta
 * against the disk's manifest at `baseSeq` (only positions that changed; an entry of `null` means
 * the position is now all zeros). A checkpoint is written every K points, at every full and every
 * resync, so restoring reads one checkpoint and at most K-1 deltas and a damaged delta spoils at
 * most K-1 points.
 */

import type { BlockMap } from "./block-map.ts";

/** Where a chunk's sealed bytes live: in pack `pack` at [offset, offset+length). */
export interface ChunkRef {
  /** Keyed content id of the plaintext (32 bytes). */
  readonly id: Uint8Array;
  /** Pack object id (hex). */
  readonly pack: string;
  readonly offset: number;
  readonly length: number;
}

export type ManifestKind = "checkpoint" | "delta";

export interface DiskManifest {
  readonly source: string;
  readonly disk: string;
  readonly seq: number;
  readonly kind: ManifestKind;
  /** The seq of the manifest this delta applies to; null for a checkpoint. */
  readonly baseSeq: number | null;
  /** Deltas between the checkpoint this chain starts from and this manifest (0 for a checkpoint). */
  readonly deltasSinceCheckpoint: number;
  readonly capacity: number;
  readonly chunkSize: number;
  /** Chunks with any allocated byte at this point (chunk grain). */
  readonly allocated: BlockMap;
  /** Chunks only partly allocated at this point: their unallocated bytes were zeroed before hashing. */
  readonly partial: BlockMap;
  /** Chunk index → ref, or null for an all-zero chunk (deltas only). Ascending index order. */
  readonly entries: ReadonlyMap<number, ChunkRef | null>;
}

export function chunkCount(capacity: number, chunkSize: number): number {
  return Math.ceil(capacity / chunkSize);
}

/**
 * The resolved chunk map of a disk at one point. Held in memory as a sorted Map; positions that are
 * absent read as zeros.
 */
export class ChunkMap {
  readonly #refs = new Map<number, ChunkRef>();

  constructor(
    readonly capacity: number,
    readonly chunkSize: number,
  ) {}

  get chunks(): number {
    return chunkCount(this.capacity, this.chunkSize);
  }

  get(index: number): ChunkRef | undefined {
    return this.#refs.get(index);
  }

  set(index: number, ref: ChunkRef | null): void {
    if (index < 0 || index >= this.chunks)
      throw new RangeError(`chunk ${index} outside disk of ${this.chunks}`);
    if (ref === null) this.#refs.delete(index);
    else this.#refs.set(index, ref);
  }

  /** Number of non-zero chunks. */
  get size(): number {
    return this.#refs.size;
  }

  /** Non-zero positions in ascending order. */
  entries(): Array<[number, ChunkRef]> {
    return [...this.#refs.entries()].sort((a, b) => a[0] - b[0]);
  }

  /** Applies a delta (or replaces everything with a checkpoint). */
  apply(manifest: DiskManifest): void {
    if (manifest.kind === "checkpoint") this.#refs.clear();
    for (const [index, ref] of manifest.entries) this.set(index, ref);
  }
}

/**
 * Resolves a chain ordered from the checkpoint to the wanted manifest. Throws if the chain is not a
 * checkpoint followed by deltas each based on its predecessor: a broken chain must never restore
 * silently to the wrong bytes.
 */
export function resolveChain(chain: readonly DiskManifest[]): ChunkMap {
  const first = chain[0];
  if (first === undefined || first.kind !== "checkpoint")
    throw new Error("manifest chain must start at a checkpoint");
  const last = chain[chain.length - 1] as DiskManifest;
  const map = new ChunkMap(last.capacity, last.chunkSize);
  let previous: DiskManifest | undefined;
  for (const m of chain) {
    if (previous !== undefined && (m.kind !== "delta" || m.baseSeq !== previous.seq)) {
      throw new Error(`manifest ${m.seq} does not follow ${previous.seq}`);
    }
    if (m.chunkSize !== last.chunkSize) throw new Error(`manifest ${m.seq} has another chunk size`);
    map.apply(m);
    previous = m;
  }
  return map;
}

/**
 * Whether the next manifest must be a checkpoint: `deltasSinceCheckpoint` counts the deltas on top of
 * the base's checkpoint, so with K = 8 a chain is a checkpoint and at most 7 deltas.
 */
export function needsCheckpoint(deltasSinceCheckpoint: number, checkpointEvery: number): boolean {
  return deltasSinceCheckpoint + 1 >= checkpointEvery;
}
