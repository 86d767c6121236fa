/**
 * A store that can only be read. Verify and restore open the repository through it, so no bug in
 * them can modify the repository an operator is recovering from.
 */

import { LifeboatError } from "../../domain/errors.ts";
import type { ByteRange, ObjectStore } from "../../ports/object-store.ts";

export class ReadOnlyStore implements ObjectStore {
  readonly #inner: ObjectStore;

  constructor(inner: ObjectStore) {
    this.#inner = inner;
  }

  async put(
    key: string,
    _data: Uint8Array,
    _options?: { ifAbsent?: boolean },
  ): Promise<"created" | "exists"> {
    throw refused("put", key);
  }

  get(key: string, range?: ByteRange): Promise<Uint8Array> {
    return this.#inner.get(key, range);
  }

  head(key: string): Promise<{ size: number } | undefined> {
    return this.#inner.head(key);
  }

  list(prefix: string): AsyncIterable<{ key: string; size: number }> {
    return this.#inner.list(prefix);
  }

  async delete(key: string): Promise<void> {
    throw refused("delete", key);
  }
}

/** Reaching this is a bug in the caller, not something an operator did: hence INTERNAL. */
function refused(op: string, key: string): LifeboatError {
  return new LifeboatError("INTERNAL", `refused to ${op} "${key}": the repository is open read-only`);
}
