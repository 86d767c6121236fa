/**
 * Fetches chunks from a repository for the NBD server: a bounded LRU cache (by bytes), one fetch
 * per chunk however many readers want it, and at most `concurrency` fetches at once so a client's
 * 32 MiB read or an eager read-ahead cannot flood the store. Identical chunks (same id) share one
 * cache entry across disks. Failed fetches are not cached: the next read tries again.
 */

import type { ChunkRef } from "../../domain/manifest.ts";
import { idHex } from "../../engine/chunk-cache.ts";

export interface ChunkSource {
  readChunk(ref: ChunkRef): Promise<Uint8Array>;
}

export interface FetchStats {
  fetched: number;
  bytesFetched: number;
  hits: number;
  prefetched: number;
}

export class ChunkFetcher {
  readonly stats: FetchStats = { fetched: 0, bytesFetched: 0, hits: 0, prefetched: 0 };
  readonly #source: ChunkSource;
  readonly #cacheBytes: number;
  readonly #concurrency: number;
  readonly #cache = new Map<string, Uint8Array>();
  readonly #inFlight = new Map<string, Promise<Uint8Array>>();
  readonly #queue: Array<() => void> = [];
  #cached = 0;
  #running = 0;

  constructor(source: ChunkSource, options: { cacheBytes: number; concurrency: number }) {
    this.#source = source;
    this.#cacheBytes = options.cacheBytes;
    this.#concurrency = options.concurrency;
  }

  get cachedBytes(): number {
    return this.#cached;
  }

  get(ref: ChunkRef): Promise<Uint8Array> {
    const key = idHex(ref.id);
    const hit = this.#cache.get(key);
    if (hit !== undefined) {
      this.stats.hits++;
      this.#cache.delete(key);
      this.#cache.set(key, hit);
      return Promise.resolve(hit);
    }
    const running = this.#inFlight.get(key);
    if (running !== undefined) return running;
    const fetch = this.#fetch(key, ref);
    this.#inFlight.set(key, fetch);
    return fetch;
  }

  /** Starts fetching a chunk a reader is likely to want next; never fails (a later get retries). */
  prefetch(ref: ChunkRef): void {
    const key = idHex(ref.id);
    if (this.#cache.has(key) || this.#inFlight.has(key)) return;
    // Read-ahead yields to demand reads: it never takes the last free fetch slot.
    if (this.#running + this.#queue.length >= this.#concurrency - 1) return;
    this.stats.prefetched++;
    this.get(ref).catch(() => undefined);
  }

  async #fetch(key: string, ref: ChunkRef): Promise<Uint8Array> {
    // A finishing fetch hands its slot straight to the next one waiting, so #running never overshoots.
    if (this.#running >= this.#concurrency) await new Promise<void>((resolve) => this.#queue.push(resolve));
    else this.#running++;
    try {
      const data = await this.#source.readChunk(ref);
      this.stats.fetched++;
      this.stats.bytesFetched += data.length;
      this.#remember(key, data);
      return data;
    } finally {
      this.#inFlight.delete(key);
      const next = this.#queue.shift();
      if (next === undefined) this.#running--;
      else next();
    }
  }

  #remember(key: string, data: Uint8Array): void {
    if (data.length > this.#cacheBytes) return;
    this.#cache.set(key, data);
    this.#cached += data.length;
    while (this.#cached > this.#cacheBytes) {
      const oldest = this.#cache.entries().next();
      if (oldest.done === true) break;
      this.#cache.delete(oldest.value[0]);
      this.#cached -= oldest.value[1].length;
    }
  }
}
