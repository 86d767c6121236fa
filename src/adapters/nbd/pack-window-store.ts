/**
 * An ObjectStore decorator for serving from object storage: a ranged read of a pack fetches the
 * aligned window around it (1 MiB by default) and keeps recent windows in a bounded cache, so the
 * neighbouring chunks a sequential reader wants next cost no further request. On S3 a 64 KiB GET
 * costs about as much latency as a 1 MiB one; this turns a chunk-per-request stream into one
 * request per window. Packs are immutable (create-only, random names), so a cached window can only
 * go stale through `delete`, which evicts it.
 */

import type { ByteRange, ObjectStore } from "../../ports/object-store.ts";

export interface PackWindowOptions {
  /** Window size in bytes (aligned reads of this size). */
  readonly window: number;
  /** Memory for cached windows. */
  readonly cacheBytes: number;
  /** Keys the windows apply to. */
  readonly prefix: string;
}

export class PackWindowStore implements ObjectStore {
  readonly #inner: ObjectStore;
  readonly #options: PackWindowOptions;
  readonly #sizes = new Map<string, number>();
  readonly #windows = new Map<string, Uint8Array>();
  readonly #inFlight = new Map<string, Promise<Uint8Array>>();
  #cached = 0;
  /** Requests actually sent to the inner store for windows (for tests and stats). */
  windowReads = 0;

  constructor(inner: ObjectStore, options: PackWindowOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  put(key: string, data: Uint8Array, options?: { ifAbsent?: boolean }): Promise<"created" | "exists"> {
    return this.#inner.put(key, data, options);
  }

  head(key: string): Promise<{ size: number } | undefined> {
    return this.#inner.head(key);
  }

  list(prefix: string): AsyncIterable<{ key: string; size: number }> {
    return this.#inner.list(prefix);
  }

  async delete(key: string): Promise<void> {
    this.#sizes.delete(key);
    for (const k of [...this.#windows.keys()]) if (k.startsWith(`${key}@`)) this.#evict(k);
    await this.#inner.delete(key);
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    if (
      range === undefined ||
      !key.startsWith(this.#options.prefix) ||
      range.length >= this.#options.window
    ) {
      return this.#inner.get(key, range);
    }
    const size = await this.#size(key);
    const end = range.offset + range.length;
    if (size === undefined || end > size) return this.#inner.get(key, range); // let the store report it
    const w = this.#options.window;
    const out = new Uint8Array(range.length);
    for (let start = Math.floor(range.offset / w) * w; start < end; start += w) {
      const window = await this.#window(key, start, Math.min(w, size - start));
      const from = Math.max(range.offset, start);
      const to = Math.min(end, start + window.length);
      out.set(window.subarray(from - start, to - start), from - range.offset);
    }
    return out;
  }

  async #size(key: string): Promise<number | undefined> {
    const known = this.#sizes.get(key);
    if (known !== undefined) return known;
    const size = (await this.#inner.head(key))?.size;
    if (size !== undefined) {
      if (this.#sizes.size >= 65_536) this.#sizes.clear();
      this.#sizes.set(key, size);
    }
    return size;
  }

  #window(key: string, start: number, length: number): Promise<Uint8Array> {
    const id = `${key}@${start}`;
    const hit = this.#windows.get(id);
    if (hit !== undefined) {
      this.#windows.delete(id);
      this.#windows.set(id, hit);
      return Promise.resolve(hit);
    }
    const running = this.#inFlight.get(id);
    if (running !== undefined) return running;
    this.windowReads++;
    const fetch = this.#inner
      .get(key, { offset: start, length })
      .then((data) => {
        this.#remember(id, data);
        return data;
      })
      .finally(() => this.#inFlight.delete(id));
    this.#inFlight.set(id, fetch);
    return fetch;
  }

  #remember(id: string, data: Uint8Array): void {
    this.#windows.set(id, data);
    this.#cached += data.length;
    while (this.#cached > this.#options.cacheBytes) {
      const oldest = this.#windows.keys().next();
      if (oldest.done === true) break;
      this.#evict(oldest.value);
    }
  }

  #evict(id: string): void {
    const data = this.#windows.get(id);
    if (data === undefined) return;
    this.#windows.delete(id);
    this.#cached -= data.length;
  }
}
