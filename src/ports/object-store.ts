/**
 * The only thing a repository needs from storage. Keys are `/`-separated relative names.
 * Implementations: store-fs (embedded default), store-s3. Cross-cutting concerns (retry,
 * throttling, metrics, fault injection) are decorators that implement this same interface.
 */
export interface ObjectStore {
  /**
   * Writes an object atomically: readers see all of it or none. With `ifAbsent`, an existing object
   * is left untouched and the result is `exists`.
   */
  put(key: string, data: Uint8Array, options?: { ifAbsent?: boolean }): Promise<"created" | "exists">;
  /** Reads an object or a byte range of it; rejects with OBJECT_MISSING if it does not exist. */
  get(key: string, range?: ByteRange): Promise<Uint8Array>;
  /** Size of an object, or undefined if it does not exist. */
  head(key: string): Promise<{ size: number } | undefined>;
  /** Objects whose key starts with `prefix`, in ascending key order. */
  list(prefix: string): AsyncIterable<{ key: string; size: number }>;
  /** Deletes an object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
}

export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}
