/**
 * Hostile input: mutated boot sectors, MFT records, volumes and partition tables. Whatever the
 * bytes, the parsers either answer or throw a coded LifeboatError (NTFS_INVALID / LAYOUT_INVALID),
 * read a bounded amount, and — the safety property — never produce an allocated map that drops
 * clusters the undamaged volume has allocated, unless the damage is in $Bitmap itself.
 */

import { readFile } from "node:fs/promises";
import { fc, test } from "@fast-check/vitest";
import { beforeAll, describe, expect } from "vitest";
import { isLifeboatError } from "../../src/domain/errors.ts";
import type { ReadAt } from "../../src/formats/bytes.ts";
import { crc32 } from "../../src/formats/crc32.ts";
import { buildAllocatedMap } from "../../src/formats/disk-layout/allocated-map.ts";
import { parseNtfsBootSector } from "../../src/formats/ntfs/boot-sector.ts";
import { parseMftRecord } from "../../src/formats/ntfs/mft-record.ts";
import { readPartitionTable } from "../../src/formats/partition-table.ts";
import { fixturePath, gunzipFixture } from "../helpers/ntfs-images.ts";

const SEED = 20_261_122;
const CODES = new Set(["NTFS_INVALID", "LAYOUT_INVALID"]);

/** Runs `fn`; the only acceptable failure is a coded error from the parsers. */
async function onlyCodedErrors<T>(fn: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (!isLifeboatError(e) || !CODES.has(e.code)) throw e;
    return undefined;
  }
}

/** A reader over `bytes` that fails the test if a parser reads without bound. */
function countedReader(bytes: Uint8Array, limit = 20_000): ReadAt {
  let reads = 0;
  return async (offset, length) => {
    if (++reads > limit) throw new Error(`more than ${limit} reads: a runaway loop`);
    if (offset < 0 || offset + length > bytes.length)
      throw new Error(`read ${offset}+${length} outside the disk`);
    return bytes.slice(offset, offset + length);
  };
}

const mutations = (size: number, max = 12) =>
  fc.array(fc.tuple(fc.nat(size - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: max });

function mutate(bytes: Uint8Array, changes: ReadonlyArray<[number, number]>, base = 0): Uint8Array {
  const copy = bytes.slice();
  for (const [at, value] of changes) copy[base + at] = value;
  return copy;
}

let boots: Uint8Array[] = [];
let mft: Uint8Array;
let volume: Uint8Array;
let gpt: Uint8Array;
let truth: Set<number>;

beforeAll(async () => {
  boots = await Promise.all(
    ["4k", "64k", "128k", "4kn", "512", "nobootcode"].map(
      async (n) => new Uint8Array(await readFile(fixturePath(`boot/${n}.boot`))),
    ),
  );
  mft = await gunzipFixture("mft/mapping_pairs_1.mft.gz");
  volume = await gunzipFixture("volumes/dfir_ntfs__file_4k.bin.gz");
  gpt = await gunzipFixture("partition-tables/dfir_ntfs__gpt-512-3p.raw.gz");
  const { map } = await buildAllocatedMap(countedReader(volume), volume.length);
  truth = new Set(map?.indexes() ?? []);
});

describe("parsers under mutated input", () => {
  test.prop([fc.nat(5), mutations(512)], { seed: SEED, numRuns: 400 })(
    "a mutated boot sector decodes to a consistent geometry or NTFS_INVALID",
    async (which, changes) => {
      const b = await onlyCodedErrors(() => parseNtfsBootSector(mutate(boots[which] as Uint8Array, changes)));
      if (b === undefined) return;
      expect(b.clusterSize).toBeLessThanOrEqual(2 << 20);
      expect(b.mftLcn).toBeLessThan(b.clusterCount);
      expect(b.recordSize % 512).toBe(0);
    },
  );

  test.prop([fc.nat(60), mutations(1024, 24)], { seed: SEED, numRuns: 400 })(
    "a mutated MFT record parses within its bounds or is NTFS_INVALID",
    async (record, changes) => {
      const raw = mft.subarray(record * 1024, (record + 1) * 1024);
      const r = await onlyCodedErrors(() => parseMftRecord(mutate(raw, changes), record, 1 << 20));
      for (const a of r?.attributes ?? []) {
        if (a.resident) continue;
        for (const run of a.runs) expect(run.lcn === null || run.lcn + run.length <= 1 << 20).toBe(true);
      }
    },
  );

  test.prop([mutations(8192, 8)], { seed: SEED, numRuns: 60 })(
    "a volume with damaged metadata (not $Bitmap) never yields a map that drops allocated clusters",
    async (changes) => {
      // Boot sector, then $MFT records 0–7 at LCN 256 (file_4k), where the damage matters most.
      const hits = changes.map(([at, v]): [number, number] => [at < 512 ? at : 256 * 4096 + (at % 8192), v]);
      const damaged = mutate(volume, hits);
      const result = await onlyCodedErrors(() => buildAllocatedMap(countedReader(damaged), damaged.length));
      if (result === undefined || result.map === null) return; // refused, or synced whole: safe
      const kept = new Set(result.map.indexes());
      const dropped = [...truth].filter((i) => !kept.has(i * (4096 / result.map!.grain)));
      expect(result.map.grain).toBe(4096);
      expect(dropped).toEqual([]);
    },
  );

  test.prop([mutations(34 * 512, 16), fc.boolean()], { seed: SEED, numRuns: 200 })(
    "a mutated GPT (even one whose CRCs were fixed up) is read or reported, never thrown past",
    async (changes, fixCrcs) => {
      const disk = mutate(gpt, changes);
      if (fixCrcs) {
        const view = new DataView(disk.buffer);
        const size = Math.min(view.getUint32(512 + 12, true), 512);
        view.setUint32(512 + 88, crc32(disk.subarray(1024, 1024 + 128 * 128)), true);
        view.setUint32(512 + 16, 0, true);
        view.setUint32(512 + 16, crc32(disk.subarray(512, 512 + Math.max(92, size))), true);
      }
      const t = await readPartitionTable(countedReader(disk), disk.length);
      for (const p of t.partitions) {
        if (p.problems.length === 0) expect(p.start + p.size).toBeLessThanOrEqual(disk.length);
      }
    },
  );

  test.prop(
    [
      fc.array(
        fc.tuple(
          fc.constantFrom(0, 0x80),
          fc.constantFrom(0, 0x05, 0x0f, 0x07, 0x83, 0x42, 0xee),
          fc.nat(9000),
          fc.nat(9000),
        ),
        { minLength: 4, maxLength: 4 },
      ),
      fc.array(fc.tuple(fc.nat(8191), fc.constantFrom(0x05, 0x83, 0x07), fc.nat(9000), fc.nat(400)), {
        maxLength: 40,
      }),
    ],
    { seed: SEED, numRuns: 300 },
  )(
    "random MBRs and EBR chains (loops, overlaps, past the end) terminate with findings",
    async (primaries, ebrs) => {
      const disk = new Uint8Array(4 << 20);
      const view = new DataView(disk.buffer);
      const write = (lba: number, slot: number, [status, type, start, sectors]: readonly number[]) => {
        const o = lba * 512 + 446 + 16 * slot;
        view.setUint8(o, status as number);
        view.setUint8(o + 4, type as number);
        view.setUint32(o + 8, start as number, true);
        view.setUint32(o + 12, sectors as number, true);
        view.setUint16(lba * 512 + 510, 0xaa55, true);
      };
      primaries.forEach((e, i) => write(0, i, e));
      for (const [lba, type, start, sectors] of ebrs)
        write(lba, type === 0x05 ? 1 : 0, [0, type, start, sectors]);
      const t = await onlyCodedErrors(() => readPartitionTable(countedReader(disk), disk.length));
      if (t === undefined) return;
      expect(t.partitions.filter((p) => p.role === "logical").length).toBeLessThanOrEqual(128 * 4);
      const flagged = new Set(t.partitions.filter((p) => p.problems.length > 0).map((p) => p.number));
      const data = t.partitions.filter((p) => p.role !== "extended" && !flagged.has(p.number));
      for (const a of data) {
        expect(a.start + a.size).toBeLessThanOrEqual(disk.length);
        for (const b of data) {
          if (a !== b && a.size > 0 && b.size > 0)
            expect(a.start >= b.start + b.size || b.start >= a.start + a.size).toBe(true);
        }
      }
    },
  );
});
