import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isLifeboatError } from "../../../src/domain/errors.ts";
import { crc32 } from "../../../src/formats/crc32.ts";
import type { PartitionTable } from "../../../src/formats/partition.ts";
import { readPartitionTable } from "../../../src/formats/partition-table.ts";
import { fileReader, gunzipFixture, memoryReader, unpackFixture } from "../../helpers/ntfs-images.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lifeboat-tables-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const table = (bytes: Uint8Array, sectorSize?: number) =>
  readPartitionTable(memoryReader(bytes), bytes.length, sectorSize === undefined ? {} : { sectorSize });
const rows = (t: PartitionTable) => t.partitions.map((p) => [p.role, p.startSector, p.sectors, p.type]);

/** Writes MBR/EBR entries [status, type, relativeStart, sectors] into the sector at `lba`. */
function writeEntries(
  disk: Uint8Array,
  lba: number,
  entries: readonly (readonly [number, number, number, number])[],
) {
  const view = new DataView(disk.buffer, lba * 512, 512);
  entries.forEach(([status, type, start, sectors], i) => {
    view.setUint8(446 + 16 * i, status);
    view.setUint8(446 + 16 * i + 4, type);
    view.setUint32(446 + 16 * i + 8, start, true);
    view.setUint32(446 + 16 * i + 12, sectors, true);
  });
  view.setUint16(510, 0xaa55, true);
}

describe("MBR partition tables", () => {
  it("reads a Windows MBR: 3 primaries and an extended partition with 4 logicals (mbr-win-512)", async () => {
    const path = await unpackFixture("partition-tables/dfir_ntfs__mbr-win-512.raw.tgz", dir);
    const disk = await fileReader(path);
    const t = await readPartitionTable(disk.read, disk.size);
    await disk.close();
    expect(t.id).toBe("0x882edd52");
    expect(rows(t)).toEqual([
      ["primary", 128, 16_384, "0x06"],
      ["primary", 16_512, 16_384, "0x06"],
      ["primary", 32_896, 16_384, "0x06"],
      ["extended", 49_280, 471_040, "0x05"],
      ["logical", 49_408, 16_384, "0x06"],
      ["logical", 65_920, 16_384, "0x06"],
      ["logical", 82_432, 16_384, "0x06"],
      ["logical", 98_944, 417_792, "0x06"],
    ]);
    expect(t.partitions.map((p) => p.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(t.findings).toEqual([]);
  });

  it("finds the hand-added third entry of an EBR that sfdisk skips, as Windows and Linux mount it (DFTT #1)", async () => {
    const path = await unpackFixture("partition-tables/dftt__1-ext-part-test-2.dd.gz", dir);
    const disk = await fileReader(path);
    const t = await readPartitionTable(disk.read, disk.size);
    await disk.close();
    const data = t.partitions.filter((p) => p.role !== "extended").map((p) => p.startSector);
    expect(data).toEqual([63, 52_416, 104_832, 157_311, 209_727, 262_143]);
  });

  it("reads an extended partition listed first and its two logicals (mbr-512-p1e2)", async () => {
    const t = await table(await gunzipFixture("partition-tables/dfir_ntfs__mbr-512-p1e2.bin.gz"));
    expect(t.id).toBe("0x0b4a5fbe");
    expect(rows(t)).toEqual([
      ["extended", 1, 1024, "0x05"],
      ["primary", 1025, 1023, "0x83"],
      ["logical", 2, 511, "0x83"],
      ["logical", 514, 511, "0x83"],
    ]);
  });

  it("counts in 4 KiB sectors when told the disk has them (mbr-4096-p1e1)", async () => {
    const t = await table(await gunzipFixture("partition-tables/dfir_ntfs__mbr-4096-p1e1.bin.gz"), 4096);
    expect(t.id).toBe("0xce1e0256");
    expect(rows(t)).toEqual([
      ["primary", 3, 2, "0x8e"],
      ["extended", 8, 4, "0x05"],
      ["logical", 9, 2, "0x83"],
    ]);
    expect(t.partitions[0]).toMatchObject({ bootable: true, start: 3 * 4096, size: 2 * 4096 });
  });

  it("stops an EBR chain that loops back on itself, with a finding, without hanging", async () => {
    const disk = new Uint8Array(4 << 20);
    writeEntries(disk, 0, [[0, 0x05, 2048, 4096]]);
    writeEntries(disk, 2048, [
      [0, 0x83, 1, 100],
      [0, 0x05, 1000, 200],
    ]);
    writeEntries(disk, 3048, [
      [0, 0x83, 1, 100],
      [0, 0x05, 0, 200], // back to the first EBR
    ]);
    const t = await table(disk);
    expect(t.partitions.filter((p) => p.role === "logical")).toHaveLength(2);
    expect(t.findings.map((f) => f.message).join()).toMatch(/loops/);
  });

  it("stops an endless EBR chain after 128 links", async () => {
    const disk = new Uint8Array(8 << 20);
    writeEntries(disk, 0, [[0, 0x05, 1, 16_000]]);
    for (let i = 0; i < 200; i++) {
      writeEntries(disk, 1 + i * 10, [
        [0, 0x83, 1, 5],
        [0, 0x05, (i + 1) * 10, 10],
      ]);
    }
    const t = await table(disk);
    expect(t.partitions.filter((p) => p.role === "logical")).toHaveLength(128);
    expect(t.findings.map((f) => f.message).join()).toMatch(/longer than 128/);
  });

  it("marks overlapping partitions, partitions past the disk and logicals outside their container", async () => {
    const disk = new Uint8Array(4 << 20); // 8192 sectors
    writeEntries(disk, 0, [
      [0, 0x07, 2048, 2048],
      [0, 0x07, 3000, 1000], // overlaps partition 1
      [0, 0x05, 5000, 1000],
      [0, 0x07, 7800, 5000], // past the end
    ]);
    writeEntries(disk, 5000, [[0, 0x83, 1500, 10]]); // outside the extended partition
    const t = await table(disk);
    const problems = new Map(t.partitions.map((p) => [p.number, p.problems.join("; ")]));
    expect(problems.get(1)).toMatch(/overlaps partition 2/);
    expect(problems.get(2)).toMatch(/overlaps partition 1/);
    expect(problems.get(4)).toMatch(/past the end/);
    expect(problems.get(5)).toMatch(/outside its extended partition/);
    expect(t.findings.every((f) => f.code === "LAYOUT_INVALID")).toBe(true);
    expect(t.findings).toHaveLength(4);
  });

  it("prefers a real MBR over a GPT header left behind by an earlier table, and says so", async () => {
    const disk = await gunzipFixture("partition-tables/dfir_ntfs__gpt-512-3p.raw.gz");
    disk.fill(0, 0, 512);
    writeEntries(disk, 0, [[0x80, 0x83, 64, 1000]]);
    const t = await table(disk);
    expect(t.kind).toBe("mbr");
    expect(rows(t)).toEqual([["primary", 64, 1000, "0x83"]]);
    expect(t.findings.map((f) => f.message)).toEqual([
      "a GPT header left by an earlier table is ignored; the MBR is used",
    ]);
  });

  it("treats a bare volume's boot sector as no partition table", async () => {
    const disk = await gunzipFixture("volumes/dfir_ntfs__file_4k.bin.gz");
    expect((await table(disk)).kind).toBe("none");
  });
});

describe("GUID partition tables", () => {
  const gpt3p = () => gunzipFixture("partition-tables/dfir_ntfs__gpt-512-3p.raw.gz");

  it("reads the header, the entries and their names (gpt-512-3p)", async () => {
    const t = await table(await gpt3p());
    expect(t).toMatchObject({ kind: "gpt", id: "4A57F82F-3B54-45B7-9135-C1D4A9ADDF69", firstUsableLba: 34 });
    expect(t.partitions.map((p) => [p.number, p.startSector, p.startSector + p.sectors - 1, p.uuid])).toEqual(
      [
        [1, 34, 64, "0C4A2A68-C2C3-441A-8757-1F888ED2715D"],
        [2, 65, 128, "127D7584-B1A0-48D7-9444-B63BF6AC3FCB"],
        [3, 129, 2014, "8BD51A24-3053-4849-B987-E5BB05EAFE51"],
      ],
    );
    expect(t.partitions[0]?.type).toBe("0FC63DAF-8483-4772-8E79-3D69D8477DE4");
    expect(t.partitions[2]).toMatchObject({ typeName: "EFI System", name: "EFI System" });
    expect(t.findings).toEqual([]);
  });

  it("falls back to the backup GPT when the primary header or entries are damaged, and says so", async () => {
    for (const offset of [512 + 60, 1024 + 40]) {
      const disk = await gpt3p();
      disk[offset] = (disk[offset] as number) ^ 0x55;
      const t = await table(disk);
      expect(t.partitions).toHaveLength(3);
      expect(t.findings.map((f) => f.message).join()).toMatch(/primary GPT is damaged.*backup at LBA 2047/);
    }
  });

  it("rejects a damaged primary when the backup is no longer at the last LBA (the disk grew)", async () => {
    const original = await gpt3p();
    const disk = new Uint8Array(original.length + 1024);
    disk.set(original);
    disk[512 + 60] = (disk[512 + 60] as number) ^ 0x55;
    const t = await table(disk);
    expect(t.kind).toBe("gpt");
    expect(t.partitions).toEqual([]);
    expect(t.findings.at(-1)?.code).toBe("LAYOUT_INVALID");
  });

  it("reports an empty GPT (gpt-512-0p)", async () => {
    const t = await table(await gunzipFixture("partition-tables/dfir_ntfs__gpt-512-0p.raw.gz"));
    expect(t).toMatchObject({ kind: "gpt", id: "1156C30A-F330-47F5-BEC9-C85B0F186736", partitions: [] });
  });

  it("refuses an entry array larger than any real one, even with a valid CRC", async () => {
    const disk = await gpt3p();
    for (const lba of [1, 2047]) {
      const header = new DataView(disk.buffer, lba * 512, 92);
      header.setUint32(80, 1 << 20, true); // a million entries
      header.setUint32(16, 0, true);
      header.setUint32(16, crc32(disk.subarray(lba * 512, lba * 512 + 92)), true);
    }
    const t = await table(disk);
    expect(t.partitions).toEqual([]);
    expect(t.findings.at(-1)?.message).toMatch(/does not fit/);
  });

  it("finds a GPT written for 4 KiB sectors and reports its partitions in bytes", async () => {
    const sector = 4096;
    const disk = new Uint8Array(8 << 20); // 2048 sectors of 4 KiB
    const last = disk.length / sector - 1;
    writeEntries(disk, 0, [[0, 0xee, 1, last]]);
    const entries = new DataView(disk.buffer, 2 * sector, 128 * 4);
    new Uint8Array(disk.buffer, 2 * sector, 16).set([
      0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44, 0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7,
    ]);
    entries.setUint8(16, 1); // unique GUID: anything non-zero
    entries.setBigUint64(32, 256n, true);
    entries.setBigUint64(40, 1279n, true);
    const header = (lba: number, alternate: number, entriesLba: number) => {
      const h = new DataView(disk.buffer, lba * sector, 92);
      new Uint8Array(disk.buffer, lba * sector, 8).set(new TextEncoder().encode("EFI PART"));
      h.setUint32(8, 0x00010000, true);
      h.setUint32(12, 92, true);
      h.setBigUint64(24, BigInt(lba), true);
      h.setBigUint64(32, BigInt(alternate), true);
      h.setBigUint64(40, 6n, true);
      h.setBigUint64(48, BigInt(last - 5), true);
      h.setBigUint64(72, BigInt(entriesLba), true);
      h.setUint32(80, 4, true);
      h.setUint32(84, 128, true);
      h.setUint32(88, crc32(disk.subarray(entriesLba * sector, entriesLba * sector + 512)), true);
      h.setUint32(16, crc32(disk.subarray(lba * sector, lba * sector + 92)), true);
    };
    disk.copyWithin((last - 1) * sector, 2 * sector, 3 * sector); // backup entries
    header(1, last, 2);
    header(last, 1, last - 1);
    const t = await table(disk);
    expect(t).toMatchObject({ kind: "gpt", sectorSize: 4096, findings: [] });
    expect(t.partitions).toMatchObject([
      { start: 256 * 4096, size: 1024 * 4096, typeName: "Microsoft basic data", problems: [] },
    ]);
  });

  it("never lets a damaged table escape as anything but a coded error", async () => {
    const disk = await gpt3p();
    disk.fill(0xff, 512, 4096);
    disk.fill(0xff, disk.length - 33 * 512);
    try {
      await table(disk);
    } catch (e) {
      expect(isLifeboatError(e)).toBe(true);
    }
  });
});
