/**
 * An in-memory ObjectStore for unit tests, property tests and the simulator. It enforces the same key,
 * range and create-only rules as the real stores, and copies bytes on the way in and out so a caller
 * mutating its buffer can never change a stored object (which would hide aliasing bugs that a real
 * store would expose).
 */

import type { ByteRange, ObjectStore } from "../../ports/object-store.ts";
import {
  assertByteRange,
  assertKeyPrefix,
  assertObjectKey,
  objectMissing,
  shortObject,
} from "../store-fs/object-key.ts";

export class MemoryStore implements ObjectStore {
  readonly #objects = new Map<string, Uint8Array>();

  async put(key: string, data: Uint8Array, options?: { ifAbsent?: boolean }): Promise<"created" | "exists"> {
    assertObjectKey(key);
    await yieldTurn();
    // No await between the check and the set: the create-only decision is atomic.
    if (options?.ifAbsent && this.#objects.has(key)) return "exists";
    this.#objects.set(key, data.slice());
    return "created";
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    assertObjectKey(key);
    if (range !== undefined) assertByteRange(key, range);
    await yieldTurn();
    const data = this.#objects.get(key);
    if (data === undefined) throw objectMissing(key, "the memory store");
    if (range === undefined) return data.slice();
    if (range.offset + range.length > data.length) throw shortObject(key, range, data.length);
    return data.slice(range.offset, range.offset + range.length);
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    assertObjectKey(key);
    await yieldTurn();
    const data = this.#objects.get(key);
    return data === undefined ? undefined : { size: data.length };
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size: number }> {
    assertKeyPrefix(prefix);
    await yieldTurn();
    // Keys are ASCII, so UTF-16 order is byte order, the order S3 lists in.
    const keys = [...this.#objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const key of keys) {
      const data = this.#objects.get(key);
      // Like a real store, an object deleted while the listing runs is simply not listed.
      if (data !== undefined) yield { key, size: data.length };
    }
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    await yieldTurn();
    this.#objects.delete(key);
  }

  // --- Inspection and tampering for tests; these bypass the rules on purpose. ---

  /** Every stored key, ascending. */
  keys(): string[] {
    return [...this.#objects.keys()].sort();
  }

  /** A copy of the stored bytes, or undefined. */
  rawGet(key: string): Uint8Array | undefined {
    return this.#objects.get(key)?.slice();
  }

  /** Stores bytes directly (to plant a corrupt or foreign object). */
  rawPut(key: string, data: Uint8Array): void {
    this.#objects.set(key, data.slice());
  }

  /** Removes an object directly (to simulate loss). */
  rawDelete(key: string): boolean {
    return this.#objects.delete(key);
  }

  /** A copy of the whole content, to compare before and after an operation. */
  snapshot(): Map<string, Uint8Array> {
    return new Map([...this.#objects].map(([key, data]) => [key, data.slice()]));
  }

  /** Total stored bytes. */
  totalBytes(): number {
    let total = 0;
    for (const data of this.#objects.values()) total += data.length;
    return total;
  }
}

/**
 * Real stores never complete synchronously; yielding here lets tests observe interleavings (two
 * puts racing, a delete during a listing) that a synchronous map would hide. A microtask rather
 * than a macrotask turn keeps the simulator deterministic: a virtual clock that advances when the
 * event loop goes idle never mistakes a memory-store operation for idleness.
 */
function yieldTurn(): Promise<void> {
  return Promise.resolve();
}
