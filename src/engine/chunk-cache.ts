import type { ChunkRef } from "../domain/manifest.ts";

/**
 * Where recently stored chunks live, so identical content met again in the same job (or in a
 * resumed one) is referenced instead of stored twice. Bounded: memory never grows with the
 * repository; dedup across jobs works by position against the base point instead.
 */
export class ChunkCache {
  readonly #recent = new Map<string, ChunkRef>();
  readonly #pinned: ReadonlyMap<string, ChunkRef>;

  /** @param pinned refs that are never evicted (chunks an interrupted attempt already stored) */
  constructor(
    readonly capacity: number,
    pinned: ReadonlyMap<string, ChunkRef> = new Map(),
  ) {
    this.#pinned = pinned;
  }

  get(id: Uint8Array): ChunkRef | undefined {
    const key = idHex(id);
    const pinned = this.#pinned.get(key);
    if (pinned !== undefined) return pinned;
    const ref = this.#recent.get(key);
    if (ref !== undefined) {
      // Refresh recency: Map iteration order is insertion order.
      this.#recent.delete(key);
      this.#recent.set(key, ref);
    }
    return ref;
  }

  add(ref: ChunkRef): void {
    const key = idHex(ref.id);
    this.#recent.delete(key);
    this.#recent.set(key, ref);
    if (this.#recent.size > this.capacity) {
      const oldest = this.#recent.keys().next();
      if (oldest.done !== true) this.#recent.delete(oldest.value);
    }
  }
}

export function idHex(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("hex");
}
