import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import type { ChunkRef } from "../../../src/domain/manifest.ts";
import { packKey } from "../../../src/engine/repository/object-keys.ts";
import { Repository } from "../../../src/engine/repository/repository.ts";
import { chunkData, expectCode, FaultyStore, MODES, newRepo } from "./helpers.ts";

const CHUNK = 16384;

async function writeChunks(
  repo: Repository,
  datas: readonly Uint8Array[],
  options?: { maxPutsInFlight?: number },
): Promise<ChunkRef[]> {
  const writer = repo.createPackWriter(options);
  const refs: ChunkRef[] = [];
  for (const data of datas) refs.push(await writer.add(repo.chunkId(data), data));
  await writer.flush();
  return refs;
}

function flipByte(store: MemoryStore, key: string, position: number): () => void {
  const original = store.rawGet(key) as Uint8Array;
  const damaged = Uint8Array.from(original);
  damaged[position] = (damaged[position] as number) ^ 0x40;
  store.rawPut(key, damaged);
  return () => store.rawPut(key, original);
}

describe("packs", () => {
  for (const mode of MODES) {
    it(`returns every chunk bit-exact through packs (${mode})`, async () => {
      const { repo, store } = await newRepo(mode, { chunkSize: CHUNK, packSize: 128 << 10 });
      const datas = Array.from({ length: 40 }, (_, i) =>
        chunkData(i, CHUNK, i % 3 === 0 ? "text" : "random"),
      );
      datas.push(chunkData(99, 1000)); // the short last chunk of a disk
      const refs = await writeChunks(repo, datas);
      const packs = new Set(refs.map((r) => r.pack));
      expect(packs.size).toBeGreaterThan(3);
      for (const [i, ref] of refs.entries()) {
        expect(Buffer.from(await repo.readChunk(ref)).equals(datas[i] as Uint8Array)).toBe(true);
      }
      // Compressible chunks are stored compressed, random ones raw plus the envelope.
      expect((refs[0] as ChunkRef).length).toBeLessThan(CHUNK / 10);
      expect((refs[1] as ChunkRef).length).toBeLessThanOrEqual(CHUNK + 49);
      expect(store.keys().filter((k) => k.startsWith("packs/"))).toHaveLength(packs.size);
    });
  }

  it("keeps every pack within packSize plus one chunk and lists every chunk in its pack's index", async () => {
    const packSize = 100_000;
    const { repo } = await newRepo("aes-256-gcm", { chunkSize: CHUNK, packSize });
    const datas = Array.from({ length: 60 }, (_, i) => chunkData(i, CHUNK, i % 4 === 0 ? "text" : "random"));
    const refs = await writeChunks(repo, datas);
    const listed: Array<{ key: string; size: number }> = [];
    for await (const pack of repo.listPacks()) listed.push(pack);
    expect(listed.length).toBe(new Set(refs.map((r) => r.pack)).size);
    for (const { size } of listed) expect(size).toBeLessThanOrEqual(packSize + CHUNK);
    // Packs are filled: all but the last partial one hold at least packSize minus one chunk and the index.
    const full = listed.map((p) => p.size).filter((size) => size >= packSize - CHUNK - 1000);
    expect(full.length).toBeGreaterThanOrEqual(listed.length - 1);
    for (const ref of refs) {
      const index = await repo.readPackIndex(packKey(ref.pack));
      const entry = index.find((e) => e.offset === ref.offset);
      expect(entry?.length).toBe(ref.length);
      expect(Buffer.from(entry?.id as Uint8Array).equals(ref.id)).toBe(true);
    }
  });

  for (const mode of MODES) {
    it(`reports OBJECT_CORRUPT for a flipped byte anywhere in a chunk blob (${mode})`, async () => {
      const { repo, store } = await newRepo(mode, { chunkSize: CHUNK });
      const [text, random] = await writeChunks(repo, [chunkData(1, CHUNK, "text"), chunkData(2, CHUNK)]);
      for (const ref of [text, random] as ChunkRef[]) {
        const key = packKey(ref.pack);
        // Every byte of the small compressed blob; a stride plus both ends of the raw one.
        const step = ref.length < 1000 ? 1 : 61;
        const positions = new Set([0, 1, 4, 5, 20, 33, ref.length - 17, ref.length - 1]);
        for (let p = 0; p < ref.length; p += step) positions.add(p);
        for (const p of positions) {
          const restore = flipByte(store, key, ref.offset + p);
          await expectCode(repo.readChunk(ref), "OBJECT_CORRUPT");
          restore();
        }
        await repo.readChunk(ref);
      }
    });

    it(`reports OBJECT_CORRUPT when a blob is swapped for another blob of the same length (${mode})`, async () => {
      const { repo, store } = await newRepo(mode, { chunkSize: CHUNK });
      const [a, b] = (await writeChunks(repo, [chunkData(1, CHUNK), chunkData(2, CHUNK)])) as [
        ChunkRef,
        ChunkRef,
      ];
      expect(a.length).toBe(b.length);
      const key = packKey(a.pack);
      const pack = store.rawGet(key) as Uint8Array;
      const swapped = Uint8Array.from(pack);
      swapped.set(pack.subarray(b.offset, b.offset + b.length), a.offset);
      swapped.set(pack.subarray(a.offset, a.offset + a.length), b.offset);
      store.rawPut(key, swapped);
      await expectCode(repo.readChunk(a), "OBJECT_CORRUPT");
      await expectCode(repo.readChunk(b), "OBJECT_CORRUPT");
    });

    it(`reports OBJECT_CORRUPT for a truncated pack, in chunk reads and in its index (${mode})`, async () => {
      const { repo, store } = await newRepo(mode, { chunkSize: CHUNK });
      const refs = await writeChunks(repo, [chunkData(1, CHUNK), chunkData(2, CHUNK)]);
      const last = refs[1] as ChunkRef;
      const key = packKey(last.pack);
      const pack = store.rawGet(key) as Uint8Array;
      for (const cut of [last.offset + last.length - 1, last.offset + 10, pack.length - 1, pack.length - 9]) {
        store.rawPut(key, pack.subarray(0, cut));
        if (cut < last.offset + last.length) await expectCode(repo.readChunk(last), "OBJECT_CORRUPT");
        await expectCode(repo.readPackIndex(key), "OBJECT_CORRUPT");
      }
    });
  }

  it("reports OBJECT_CORRUPT for a pack index that was damaged, and OBJECT_MISSING for a lost pack", async () => {
    const { repo, store } = await newRepo("none", { chunkSize: CHUNK });
    const [ref] = (await writeChunks(repo, [chunkData(1, CHUNK)])) as [ChunkRef];
    const key = packKey(ref.pack);
    const size = (store.rawGet(key) as Uint8Array).length;
    const restore = flipByte(store, key, size - 20);
    await expectCode(repo.readPackIndex(key), "OBJECT_CORRUPT");
    restore();
    expect(await repo.readPackIndex(key)).toHaveLength(1);
    store.rawDelete(key);
    await expectCode(repo.readChunk(ref), "OBJECT_MISSING");
    await expectCode(repo.readPackIndex(key), "OBJECT_MISSING");
  });

  it("never runs more than maxPutsInFlight pack puts at once, and flush waits for all of them", async () => {
    const faulty = new FaultyStore(new MemoryStore());
    faulty.putDelayMs = 5;
    const repo = await Repository.init(faulty, { encryption: "none", chunkSize: CHUNK, packSize: 40_000 });
    faulty.puts = 0;
    const datas = Array.from({ length: 30 }, (_, i) => chunkData(i, CHUNK));
    const refs = await writeChunks(repo, datas, { maxPutsInFlight: 2 });
    expect(faulty.maxConcurrentPuts).toBe(2);
    expect(faulty.puts).toBe(new Set(refs.map((r) => r.pack)).size);
    for (const [i, ref] of refs.entries()) {
      expect(Buffer.from(await repo.readChunk(ref)).equals(datas[i] as Uint8Array)).toBe(true);
    }
  });

  it("rejects flush (and later adds) when a pack put fails, so refs from that pack are never committed", async () => {
    const faulty = new FaultyStore(new MemoryStore());
    const repo = await Repository.init(faulty, { encryption: "none", chunkSize: CHUNK });
    const writer = repo.createPackWriter();
    const data = chunkData(1, CHUNK);
    await writer.add(repo.chunkId(data), data);
    faulty.failPuts = "throw";
    await expect(writer.flush()).rejects.toThrow(/injected put failure/);
    await expect(writer.add(repo.chunkId(data), data)).rejects.toThrow(/injected put failure/);
    expect(writer.stats.packsWritten).toBe(0);
  });

  it("counts packs, bytes and chunks written", async () => {
    const { repo, store } = await newRepo("none", { chunkSize: CHUNK, packSize: 64 << 10 });
    const writer = repo.createPackWriter();
    for (let i = 0; i < 10; i++) {
      const data = chunkData(i, CHUNK);
      await writer.add(repo.chunkId(data), data);
    }
    await writer.flush();
    await writer.flush();
    expect(writer.stats.chunks).toBe(10);
    expect(writer.stats.packsWritten).toBe(store.keys().filter((k) => k.startsWith("packs/")).length);
    expect(writer.stats.bytesWritten).toBe(
      store.totalBytes() - (store.rawGet("lifeboat.json") as Uint8Array).length,
    );
  });
});
