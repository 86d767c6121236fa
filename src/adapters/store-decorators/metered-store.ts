/**
 * Counts what a job asked of its store — operations, payload bytes each way, and errors per kind of
 * operation — for the job summary and the metrics endpoint. Place it outside the retrying store to
 * count what the engine asked for, inside to count what reached the storage.
 */

import type { ByteRange, ObjectStore } from "../../ports/object-store.ts";

export type StoreOp = "put" | "get" | "head" | "list" | "delete";

export interface StoreMetrics {
  /** Puts that completed, whether they created the object or found it there. */
  puts: number;
  /** Of those, create-only puts that found the object already stored (deduplicated). */
  putsExisting: number;
  gets: number;
  heads: number;
  /** Listings that ran to completion or were stopped by their consumer. */
  lists: number;
  /** Objects yielded by listings. */
  listed: number;
  deletes: number;
  /** Payload of puts that stored their object (not of those that found it already there). */
  bytesWritten: number;
  /** Payload of gets. */
  bytesRead: number;
  /** Failed operations, all kinds together. */
  errors: number;
  errorsByOp: Record<StoreOp, number>;
}

export class MeteredStore implements ObjectStore {
  readonly #inner: ObjectStore;
  readonly #m: StoreMetrics = emptyMetrics();

  constructor(inner: ObjectStore) {
    this.#inner = inner;
  }

  /** A copy of the counters so far. */
  metrics(): StoreMetrics {
    return { ...this.#m, errorsByOp: { ...this.#m.errorsByOp } };
  }

  async put(key: string, data: Uint8Array, options?: { ifAbsent?: boolean }): Promise<"created" | "exists"> {
    const size = data.length; // read now: the caller may reuse its buffer once we return
    const result = await this.#count("put", () => this.#inner.put(key, data, options));
    this.#m.puts++;
    if (result === "exists") this.#m.putsExisting++;
    else this.#m.bytesWritten += size;
    return result;
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    const data = await this.#count("get", () => this.#inner.get(key, range));
    this.#m.gets++;
    this.#m.bytesRead += data.length;
    return data;
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    const result = await this.#count("head", () => this.#inner.head(key));
    this.#m.heads++;
    return result;
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size: number }> {
    let failed = false;
    try {
      for await (const entry of this.#inner.list(prefix)) {
        this.#m.listed++;
        yield entry;
      }
    } catch (e) {
      failed = true;
      this.#failed("list");
      throw e;
    } finally {
      // finally, not after the loop: a consumer that stops early ends the generator via return().
      if (!failed) this.#m.lists++;
    }
  }

  async delete(key: string): Promise<void> {
    await this.#count("delete", () => this.#inner.delete(key));
    this.#m.deletes++;
  }

  async #count<T>(op: StoreOp, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (e) {
      this.#failed(op);
      throw e;
    }
  }

  #failed(op: StoreOp): void {
    this.#m.errors++;
    this.#m.errorsByOp[op]++;
  }
}

function emptyMetrics(): StoreMetrics {
  return {
    puts: 0,
    putsExisting: 0,
    gets: 0,
    heads: 0,
    lists: 0,
    listed: 0,
    deletes: 0,
    bytesWritten: 0,
    bytesRead: 0,
    errors: 0,
    errorsByOp: { put: 0, get: 0, head: 0, list: 0, delete: 0 },
  };
}
