import type { BlockMap } from "../domain/block-map.ts";
import { unallocatedWithin } from "../domain/planner.ts";
import type { SourceSnapshot } from "../ports/source.ts";

/** One chunk as read from a snapshot, with unallocated bytes zeroed. */
export interface ReadChunk {
  readonly index: number;
  readonly data: Uint8Array;
}

/**
 * Reads the given chunks of one disk in ascending order with up to `inFlight` reads outstanding,
 * so a slow device is kept busy while memory stays bounded by `inFlight` chunks.
 */
export async function* readChunks(
  snapshot: SourceSnapshot,
  disk: string,
  chunks: BlockMap,
  options: {
    chunkSize: number;
    capacity: number;
    allocation: BlockMap | null;
    partial: BlockMap;
    inFlight: number;
  },
): AsyncGenerator<ReadChunk> {
  const { chunkSize, capacity, allocation, partial } = options;
  const pending: Array<Promise<ReadChunk>> = [];
  const readOne = async (index: number): Promise<ReadChunk> => {
    const offset = index * chunkSize;
    const length = Math.min(chunkSize, capacity - offset);
    const read = await snapshot.read(disk, offset, length);
    if (read.length !== length) throw new Error(`short read at ${offset}: ${read.length} of ${length} bytes`);
    if (allocation === null || !partial.has(index)) return { index, data: read };
    // Zero a copy: the buffer may be the source's own (a simulated page, a cached block).
    const data = read.slice();
    for (const hole of unallocatedWithin(allocation, offset, length)) {
      data.fill(0, hole.offset - offset, hole.offset - offset + hole.length);
    }
    return { index, data };
  };
  try {
    for (const index of chunks.indexes()) {
      const read = readOne(index);
      // Observed now, rethrown when its turn comes: a read that fails while an earlier one is
      // awaited must not become an unhandled rejection that kills the process.
      read.catch(() => undefined);
      pending.push(read);
      if (pending.length >= options.inFlight) yield await (pending.shift() as Promise<ReadChunk>);
    }
    while (pending.length > 0) yield await (pending.shift() as Promise<ReadChunk>);
  } finally {
    // Reads still outstanding when the consumer stops must not surface as unhandled rejections.
    for (const p of pending) p.catch(() => undefined);
  }
}

export function isAllZero(data: Uint8Array): boolean {
  const zero =
    ZERO_CHUNK.length >= data.length ? ZERO_CHUNK.subarray(0, data.length) : new Uint8Array(data.length);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(zero);
}

const ZERO_CHUNK = new Uint8Array(4 << 20);
