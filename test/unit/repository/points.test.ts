import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import type { ChunkRef, DiskManifest } from "../../../src/domain/manifest.ts";
import type { PointDisk, RestorePoint } from "../../../src/domain/restore-point.ts";
import { manifestKey, pointKey } from "../../../src/engine/repository/object-keys.ts";
import { Repository } from "../../../src/engine/repository/repository.ts";
import { chunkData, expectCode, FaultyStore, MODES, manifest, newRepo, point } from "./helpers.ts";

function disk(manifestKeyOf: string, name = "disk-0"): PointDisk {
  return {
    disk: name,
    capacity: 16 * 65536,
    manifest: manifestKeyOf,
    token: "t1",
    mode: "incremental",
    bytesRead: 1,
    bytesStored: 1,
    chunksRead: 1,
    chunksStored: 1,
  };
}

function flipLastByte(store: MemoryStore, key: string): void {
  const bytes = store.rawGet(key) as Uint8Array;
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
  store.rawPut(key, bytes);
}

describe("point records", () => {
  for (const mode of MODES) {
    it(`commits a point once: the same job's retry is already-committed, another job's is a CONFLICT (${mode})`, async () => {
      const { repo } = await newRepo(mode);
      expect(await repo.writePoint(point("web", 1, "job-a"))).toBe("created");
      expect(await repo.writePoint({ ...point("web", 1, "job-a"), committedAt: 5 })).toBe(
        "already-committed",
      );
      await expectCode(repo.writePoint(point("web", 1, "job-b")), "CONFLICT");
      expect((await repo.readPoint("web", 1)).jobId).toBe("job-a");
    });
  }

  it("recognises a commit whose put failed after it landed as created by this job", async () => {
    const faulty = new FaultyStore(new MemoryStore());
    const repo = await Repository.init(faulty, { encryption: "none" });
    faulty.failPuts = "land-then-throw";
    expect(await repo.writePoint(point("web", 1, "job-a"))).toBe("already-committed");
    await expectCode(repo.writePoint(point("web", 1, "job-b")), "CONFLICT");
    faulty.failPuts = "throw";
    await expect(repo.writePoint(point("web", 2, "job-a"))).rejects.toThrow(/injected put failure/);
    await expectCode(repo.readPoint("web", 2), "POINT_NOT_FOUND");
  });

  it("reads back every field of a point and lists points sorted by source then seq", async () => {
    const { repo } = await newRepo("aes-256-gcm");
    const written: RestorePoint[] = [];
    for (const [source, seq] of [
      ["web", 2],
      ["db", 1],
      ["web", 10],
      ["web", 1],
      ["db", 3],
    ] as const) {
      const p = {
        ...point(source, seq, `job-${seq}`, [disk(manifestKey(source, "disk-0", seq, "j"))]),
        warnings: ["w"],
      };
      written.push(p);
      await repo.writePoint(p);
    }
    expect(await repo.readPoint("web", 10)).toEqual(written[2]);
    expect((await repo.listPoints()).map((p) => `${p.source}@${p.seq}`)).toEqual([
      "db@1",
      "db@3",
      "web@1",
      "web@2",
      "web@10",
    ]);
    expect((await repo.listPoints("web")).map((p) => p.seq)).toEqual([1, 2, 10]);
    expect((await repo.latestPoint("web"))?.seq).toBe(10);
    expect(await repo.latestPoint("mail")).toBeUndefined();
    await expectCode(repo.readPoint("web", 3), "POINT_NOT_FOUND");
  });

  for (const mode of MODES) {
    it(`surfaces a tampered point record as OBJECT_CORRUPT in reads and listings (${mode})`, async () => {
      const { repo, store } = await newRepo(mode);
      await repo.writePoint(point("web", 1, "job-a"));
      await repo.writePoint(point("web", 2, "job-b"));
      flipLastByte(store, pointKey("web", 2));
      await expectCode(repo.readPoint("web", 2), "OBJECT_CORRUPT");
      await expectCode(repo.listPoints(), "OBJECT_CORRUPT");
      await expectCode(repo.latestPoint("web"), "OBJECT_CORRUPT");
      // A valid record moved to another seq is caught too (its name is bound into the seal).
      store.rawPut(pointKey("web", 3), store.rawGet(pointKey("web", 1)) as Uint8Array);
      await expectCode(repo.readPoint("web", 3), "OBJECT_CORRUPT");
    });
  }
});

describe("disk manifests and chain resolution", () => {
  const ref = (n: number): ChunkRef => ({
    id: new Uint8Array(32).fill(n),
    pack: "cd".repeat(16),
    offset: n * 100,
    length: 90,
  });

  it("writes a manifest create-only: the same job's identical retry is fine, other content is a CONFLICT", async () => {
    const { repo } = await newRepo("aes-256-gcm");
    const m = manifest({ seq: 1, kind: "checkpoint", entries: new Map([[0, ref(1)]]) });
    const key = await repo.writeDiskManifest(m, "job-a");
    expect(key).toBe("disks/web/disk-0/0000000001-job-a");
    expect(await repo.writeDiskManifest(m, "job-a")).toBe(key);
    await expectCode(repo.writeDiskManifest({ ...m, entries: new Map([[0, ref(2)]]) }, "job-a"), "CONFLICT");
    expect(await repo.writeDiskManifest(m, "job-b")).not.toBe(key);
    const back = await repo.readDiskManifest(key);
    expect(back.entries.get(0)?.offset).toBe(100);
  });

  it("reports OBJECT_CORRUPT for a damaged manifest or one stored under another disk's key", async () => {
    const { repo, store } = await newRepo("none");
    const key = await repo.writeDiskManifest(
      manifest({ seq: 1, kind: "checkpoint", entries: new Map() }),
      "job-a",
    );
    store.rawPut("disks/web/disk-1/0000000001-job-a", store.rawGet(key) as Uint8Array);
    await expectCode(repo.readDiskManifest("disks/web/disk-1/0000000001-job-a"), "OBJECT_CORRUPT");
    flipLastByte(store, key);
    await expectCode(repo.readDiskManifest(key), "OBJECT_CORRUPT");
  });

  for (const mode of MODES) {
    it(`resolves a checkpoint and its deltas to the right map, zero entries included (${mode})`, async () => {
      const { repo } = await newRepo(mode, { chunkSize: 65536 });
      const chain: Array<Map<number, ChunkRef | null>> = [
        new Map([
          [0, ref(1)],
          [1, ref(2)],
          [2, ref(3)],
          [9, ref(4)],
        ]),
        new Map<number, ChunkRef | null>([
          [1, null],
          [3, ref(5)],
        ]),
        new Map<number, ChunkRef | null>([
          [0, ref(6)],
          [3, null],
          [15, ref(7)],
        ]),
      ];
      let last: RestorePoint | undefined;
      for (const [i, entries] of chain.entries()) {
        const seq = i + 1;
        const m: DiskManifest = manifest({
          seq,
          kind: i === 0 ? "checkpoint" : "delta",
          baseSeq: i === 0 ? null : seq - 1,
          deltasSinceCheckpoint: i,
          entries,
        });
        const key = await repo.writeDiskManifest(m, `job-${seq}`);
        last = point("web", seq, `job-${seq}`, [disk(key)]);
        await repo.writePoint(last);
      }
      const map = await repo.resolveDiskMap(last as RestorePoint, "disk-0");
      expect(map.entries().map(([i, r]) => [i, r.offset])).toEqual([
        [0, 600],
        [2, 300],
        [9, 400],
        [15, 700],
      ]);
      const middle = await repo.resolveDiskMap(await repo.readPoint("web", 2), "disk-0");
      expect(middle.entries().map(([i]) => i)).toEqual([0, 2, 3, 9]);
      await expectCode(repo.resolveDiskMap(last as RestorePoint, "disk-9"), "DISK_NOT_FOUND");
    });
  }

  it("refuses a chain whose base point is gone (OBJECT_MISSING) or whose base manifest does not follow (OBJECT_CORRUPT)", async () => {
    const { repo, store } = await newRepo("none");
    const cp = await repo.writeDiskManifest(
      manifest({ seq: 1, kind: "checkpoint", entries: new Map([[0, ref(1)]]) }),
      "j1",
    );
    await repo.writePoint(point("web", 1, "j1", [disk(cp)]));
    const delta = manifest({
      seq: 3,
      kind: "delta",
      baseSeq: 2,
      deltasSinceCheckpoint: 2,
      entries: new Map([[1, ref(2)]]),
    });
    const dk = await repo.writeDiskManifest(delta, "j3");
    const tip = point("web", 3, "j3", [disk(dk)]);
    await repo.writePoint(tip);
    await expectCode(repo.resolveDiskMap(tip, "disk-0"), "OBJECT_MISSING");
    // Point 2 names the checkpoint of point 1: its seq does not match the delta's base.
    await repo.writePoint(point("web", 2, "j2", [disk(cp)]));
    await expectCode(repo.resolveDiskMap(tip, "disk-0"), "OBJECT_CORRUPT");
    store.rawDelete(cp);
    await expectCode(repo.resolveDiskMap(await repo.readPoint("web", 1), "disk-0"), "OBJECT_MISSING");
  });

  it("round-trips real chunks: a manifest's refs read back the bytes that were stored", async () => {
    const { repo } = await newRepo("aes-256-gcm", { chunkSize: 16384 });
    const writer = repo.createPackWriter();
    const datas = [chunkData(1, 16384, "text"), chunkData(2, 16384)];
    const entries = new Map<number, ChunkRef | null>();
    for (const [i, data] of datas.entries()) entries.set(i * 3, await writer.add(repo.chunkId(data), data));
    await writer.flush();
    const key = await repo.writeDiskManifest(
      manifest({ seq: 1, kind: "checkpoint", chunkSize: 16384, capacity: 10 * 16384, entries }),
      "job",
    );
    await repo.writePoint(point("web", 1, "job", [disk(key)]));
    const map = await repo.resolveDiskMap(await repo.readPoint("web", 1), "disk-0");
    expect(Buffer.from(await repo.readChunk(map.get(3) as ChunkRef)).equals(datas[1] as Uint8Array)).toBe(
      true,
    );
  });
});
