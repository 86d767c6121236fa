import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BlockMap } from "../../../src/domain/block-map.ts";
import type { ChunkRef, DiskManifest } from "../../../src/domain/manifest.ts";
import { Envelope } from "../../../src/engine/repository/envelope.ts";
import { decodeManifest, encodeManifest } from "../../../src/formats/manifest-codec.ts";
import { expectSyncCode, manifest } from "./helpers.ts";

const NAME = "disks/web/disk-0/0000000002-job";

const hex32 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString("hex"));

const manifestArb: fc.Arbitrary<DiskManifest> = fc
  .record({
    chunkSize: fc.constantFrom(16384, 65536, 4 << 20),
    chunks: fc.integer({ min: 0, max: 3000 }),
    tail: fc.integer({ min: 0, max: 16383 }),
    seq: fc.integer({ min: 2, max: 9_999_999_999 }),
    delta: fc.boolean(),
    deltas: fc.integer({ min: 1, max: 50 }),
    packs: fc.array(hex32, { minLength: 1, maxLength: 5 }),
    picks: fc.array(
      fc.record({
        index: fc.nat(),
        zero: fc.boolean(),
        id: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        pack: fc.nat(),
        offset: fc.integer({ min: 0, max: (1 << 30) - 1 }),
        length: fc.integer({ min: 1, max: 16384 }),
      }),
      { maxLength: 200 },
    ),
    runs: fc.array(fc.record({ start: fc.nat(), count: fc.integer({ min: 1, max: 40 }) }), { maxLength: 6 }),
  })
  .map((r) => {
    const capacity = r.chunks * r.chunkSize + (r.chunks > 0 ? Math.min(r.tail, r.chunkSize - 1) : 0);
    const count = Math.ceil(capacity / r.chunkSize);
    const entries = new Map<number, ChunkRef | null>();
    if (count > 0) {
      for (const p of [...r.picks].sort((a, b) => (a.index % count) - (b.index % count))) {
        const index = p.index % count;
        entries.set(
          index,
          r.delta && p.zero
            ? null
            : {
                id: p.id,
                pack: r.packs[p.pack % r.packs.length] as string,
                offset: p.offset,
                length: p.length,
              },
        );
      }
    }
    const allocated = new BlockMap(r.chunkSize, count);
    for (const run of r.runs) {
      if (count === 0) break;
      const start = run.start % count;
      allocated.addRange(start, Math.min(run.count, count - start));
    }
    const partial = allocated.clone();
    if (count > 1) partial.removeRange(0, Math.floor(count / 2));
    return {
      source: "src-1",
      disk: "disk_A.0",
      seq: r.seq,
      kind: r.delta ? "delta" : "checkpoint",
      baseSeq: r.delta ? r.seq - 1 : null,
      deltasSinceCheckpoint: r.delta ? r.deltas : 0,
      capacity,
      chunkSize: r.chunkSize,
      allocated,
      partial,
      entries,
    } satisfies DiskManifest;
  });

function expectSame(actual: DiskManifest, expected: DiskManifest): void {
  const { entries: a, allocated: aa, partial: ap, ...aRest } = actual;
  const { entries: e, allocated: ea, partial: ep, ...eRest } = expected;
  expect(aRest).toEqual(eRest);
  expect(aa.equals(ea) && ap.equals(ep)).toBe(true);
  expect([...a.keys()]).toEqual([...e.keys()]);
  for (const [index, ref] of e) {
    const got = a.get(index);
    if (ref === null) expect(got).toBeNull();
    else expect({ ...got, id: Buffer.from(got?.id ?? []) }).toEqual({ ...ref, id: Buffer.from(ref.id) });
  }
}

/** A fully allocated disk of unique chunks, packed as the pack writer would (8 MiB packs, back to back). */
function fullCheckpoint(chunks: number, chunkSize = 65536): DiskManifest {
  const ids = randomBytes(32 * chunks);
  const noise = randomBytes(chunks * 2);
  const entries = new Map<number, ChunkRef>();
  let pack = randomBytes(16).toString("hex");
  let offset = 0;
  for (let i = 0; i < chunks; i++) {
    // Like the perf-baseline image: a third compressible (≈ 4.6×), the rest random (stored raw).
    const length = i % 3 === 0 ? 9_000 + (noise.readUInt16LE(2 * i) % 10_000) : chunkSize + 49;
    if (offset + length > 8 << 20) {
      pack = randomBytes(16).toString("hex");
      offset = 0;
    }
    entries.set(i, { id: ids.subarray(32 * i, 32 * i + 32), pack, offset, length });
    offset += length;
  }
  return manifest({ seq: 1, kind: "checkpoint", entries, capacity: chunks * chunkSize, chunkSize });
}

describe("manifest codec", () => {
  it("round-trips any manifest exactly", () => {
    fc.assert(
      fc.property(manifestArb, (m) => {
        expectSame(decodeManifest(encodeManifest(m), NAME), m);
      }),
      { seed: 20240501, numRuns: 300 },
    );
  });

  it("rejects every truncation with OBJECT_CORRUPT", () => {
    fc.assert(
      fc.property(manifestArb, fc.nat(), (m, cut) => {
        const bytes = encodeManifest(m);
        expectSyncCode(() => decodeManifest(bytes.subarray(0, cut % bytes.length), NAME), "OBJECT_CORRUPT");
      }),
      { seed: 20240502, numRuns: 300 },
    );
  });

  it("rejects trailing bytes, bad magic, bad header and impossible entries with OBJECT_CORRUPT", () => {
    const id = new Uint8Array(32).fill(7);
    const pack = "ab".repeat(16);
    const good = manifest({
      seq: 3,
      kind: "delta",
      baseSeq: 2,
      deltasSinceCheckpoint: 1,
      entries: new Map<number, ChunkRef | null>([
        [1, { id, pack, offset: 0, length: 100 }],
        [5, null],
      ]),
    });
    const bytes = Buffer.from(encodeManifest(good));
    const headerEnd = 8 + bytes.readUInt32LE(4);
    const header = JSON.parse(bytes.subarray(8, headerEnd).toString());
    const withHeader = (change: (h: Record<string, unknown>) => void) => {
      const h = { ...header };
      change(h);
      const json = Buffer.from(JSON.stringify(h));
      const out = Buffer.concat([bytes.subarray(0, 8), json, bytes.subarray(headerEnd)]);
      out.writeUInt32LE(json.length, 4);
      return out;
    };
    const withEntries = (entries: number[]) =>
      Buffer.concat([bytes.subarray(0, headerEnd), Buffer.from(entries)]);
    const ref = (gap: number, packNo: number, offset: number[], length: number[]) => [
      gap,
      1,
      ...id,
      packNo,
      ...offset,
      ...length,
    ];
    const bad: Array<[string, Uint8Array]> = [
      ["trailing byte", Buffer.concat([bytes, Buffer.from([0])])],
      ["bad magic", Buffer.concat([Buffer.from("LBMX"), bytes.subarray(4)])],
      ["header length past the end", Buffer.from(bytes).fill(0xff, 4, 8)],
      ["header not JSON", withHeader(() => undefined).fill(0x20, 8, 9)],
      ["unknown header field", withHeader((h) => Object.assign(h, { extra: 1 }))],
      ["delta without base", withHeader((h) => Object.assign(h, { baseSeq: null }))],
      ["base not earlier", withHeader((h) => Object.assign(h, { baseSeq: 3 }))],
      ["chunk size not a power of two", withHeader((h) => Object.assign(h, { chunkSize: 65535 }))],
      ["allocation map of another shape", withHeader((h) => Object.assign(h, { capacity: 17 * 65536 }))],
      ["unknown tag", withEntries([1, 0, 2])],
      ["index past the disk", withEntries([1, 16, 0])],
      ["pack number out of range", withEntries([1, ...ref(0, 1, [0], [100])])],
      ["zero-length blob", withEntries([1, ...ref(0, 0, [0], [0])])],
      ["blob longer than a sealed chunk", withEntries([1, ...ref(0, 0, [0], [0x80, 0x80, 0x10])])],
      ["unused pack in the table", withEntries([1, 0, 0])],
      ["more entries than chunks", withEntries([17])],
      ["entry count past the end", withEntries([3, 0, 0])],
    ];
    expectSame(decodeManifest(bytes, NAME), good);
    for (const [what, damaged] of bad) {
      let error: unknown;
      try {
        decodeManifest(damaged, NAME);
      } catch (e) {
        error = e;
      }
      expect(error, what).toMatchObject({ code: "OBJECT_CORRUPT" });
      expect((error as Error).message, what).toContain(NAME);
    }
    const checkpointWithZero = withHeader((h) =>
      Object.assign(h, { kind: "checkpoint", baseSeq: null, deltasSinceCheckpoint: 0 }),
    );
    expectSyncCode(() => decodeManifest(checkpointWithZero, NAME), "OBJECT_CORRUPT");
  });

  it("costs about 41 bytes per stored 64 KiB chunk in a full checkpoint", () => {
    const chunks = 16384; // a fully allocated, unique 1 GiB disk
    const m = fullCheckpoint(chunks);
    const raw = encodeManifest(m);
    const headerBytes = 8 + Buffer.from(raw).readUInt32LE(4) + 3;
    const perEntry = (raw.length - headerBytes) / chunks;
    const sealed = new Envelope("00".repeat(16), new Uint8Array(32)).seal(NAME, raw);
    const sealedPerEntry = sealed.length / chunks;
    console.log(
      `manifest: ${perEntry.toFixed(2)} B/entry raw, ${sealedPerEntry.toFixed(2)} B/entry sealed (zstd-1 + AES-GCM), ` +
        `${((sealed.length / (chunks * 65536)) * 100).toFixed(3)}% of the data; ` +
        `${((sealedPerEntry * 2 ** 24) / 1e6).toFixed(0)} MB per fully allocated unique TiB`,
    );
    expect(perEntry).toBeGreaterThan(38);
    expect(perEntry).toBeLessThan(44);
    expect(sealedPerEntry).toBeLessThan(44);
  });
});
