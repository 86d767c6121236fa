/** The read path of serve-nbd: pack windows over object storage, and the bounded chunk cache. */

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ChunkFetcher } from "../../../src/adapters/nbd/chunk-fetcher.ts";
import { PackWindowStore } from "../../../src/adapters/nbd/pack-window-store.ts";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import type { ChunkRef } from "../../../src/domain/manifest.ts";
import type { ByteRange } from "../../../src/ports/object-store.ts";

class CountingStore extends MemoryStore {
  gets: Array<{ key: string; range?: ByteRange }> = [];
  override get(key: string, range?: ByteRange): Promise<Uint8Array> {
    this.gets.push(range === undefined ? { key } : { key, range });
    return super.get(key, range);
  }
}

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 0xff);

describe("PackWindowStore", () => {
  it("answers every ranged read exactly as the store would, with one request per window", async () => {
    const inner = new CountingStore();
    const pack = pattern(5000);
    await inner.put("packs/ab/p1", pack);
    const store = new PackWindowStore(inner, { window: 1024, cacheBytes: 1 << 20, prefix: "packs/" });
    const ranges: ByteRange[] = [];
    for (let offset = 0; offset < 5000; offset += 97)
      ranges.push({ offset, length: Math.min(300, 5000 - offset) });
    for (const r of ranges)
      expect(Buffer.from(await store.get("packs/ab/p1", r))).toEqual(
        Buffer.from(pack.subarray(r.offset, r.offset + r.length)),
      );
    expect(store.windowReads).toBe(5); // 4 full windows and the 904-byte tail
    expect(inner.gets.filter((g) => g.range !== undefined)).toHaveLength(5);
  });

  it("keeps its cache within bounds and forgets a deleted object", async () => {
    const inner = new CountingStore();
    await inner.put("packs/ab/p1", pattern(8192));
    const store = new PackWindowStore(inner, { window: 1024, cacheBytes: 2048, prefix: "packs/" });
    for (let offset = 0; offset < 8192; offset += 1024)
      await store.get("packs/ab/p1", { offset, length: 10 });
    await store.get("packs/ab/p1", { offset: 0, length: 10 }); // evicted long ago: fetched again
    expect(store.windowReads).toBe(9);
    await store.delete("packs/ab/p1");
    await expect(store.get("packs/ab/p1", { offset: 0, length: 10 })).rejects.toMatchObject({
      code: "OBJECT_MISSING",
    });
  });

  it("passes through whole-object reads, other prefixes and reads past the end", async () => {
    const inner = new CountingStore();
    await inner.put("packs/ab/p1", pattern(100));
    await inner.put("points/x/1", pattern(10));
    const store = new PackWindowStore(inner, { window: 1024, cacheBytes: 1 << 20, prefix: "packs/" });
    expect(await store.get("points/x/1", { offset: 2, length: 3 })).toEqual(pattern(10).subarray(2, 5));
    expect(await store.get("packs/ab/p1")).toEqual(pattern(100));
    await expect(store.get("packs/ab/p1", { offset: 90, length: 20 })).rejects.toThrow();
    expect(store.windowReads).toBe(0);
  });
});

describe("ChunkFetcher", () => {
  const ref = (n: number): ChunkRef => ({
    id: createHash("sha256").update(String(n)).digest(),
    pack: "p",
    offset: n,
    length: 1,
  });

  it("fetches each chunk once however many readers want it, at most `concurrency` at a time", async () => {
    let running = 0;
    let peak = 0;
    let fetched = 0;
    const source = {
      readChunk: async (r: ChunkRef) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((res) => setTimeout(res, 5));
        running--;
        fetched++;
        return new Uint8Array(1000).fill(r.offset);
      },
    };
    const fetcher = new ChunkFetcher(source, { cacheBytes: 1 << 20, concurrency: 3 });
    const wanted = Array.from({ length: 40 }, (_, i) => ref(i % 10));
    const got = await Promise.all(wanted.map((r) => fetcher.get(r)));
    expect(got.map((g) => g[0])).toEqual(wanted.map((r) => r.offset));
    expect(fetched).toBe(10);
    expect(peak).toBe(3);
  });

  it("stays within its cache budget and does not cache failures", async () => {
    let failures = 1;
    const source = {
      readChunk: async (r: ChunkRef) => {
        if (r.offset === 99 && failures-- > 0) throw new Error("store hiccup");
        return new Uint8Array(1000);
      },
    };
    const fetcher = new ChunkFetcher(source, { cacheBytes: 5000, concurrency: 2 });
    for (let i = 0; i < 20; i++) await fetcher.get(ref(i));
    expect(fetcher.cachedBytes).toBeLessThanOrEqual(5000);
    await expect(fetcher.get(ref(99))).rejects.toThrow("store hiccup");
    expect(await fetcher.get(ref(99))).toHaveLength(1000);
  });

  it("lets read-ahead yield to demand reads", async () => {
    const gate: Array<() => void> = [];
    const source: { readChunk(r: ChunkRef): Promise<Uint8Array> } = {
      readChunk: () => new Promise<Uint8Array>((res) => gate.push(() => res(new Uint8Array(1)))),
    };
    const fetcher = new ChunkFetcher(source, { cacheBytes: 1 << 20, concurrency: 4 });
    for (let i = 0; i < 10; i++) fetcher.prefetch(ref(i));
    expect(fetcher.stats.prefetched).toBe(3); // one slot always left for a reader
    const demand = fetcher.get(ref(50));
    expect(gate).toHaveLength(4);
    for (const open of gate.splice(0)) open();
    expect(await demand).toHaveLength(1);
  });
});
