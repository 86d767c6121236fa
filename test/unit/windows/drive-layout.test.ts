import { describe, expect, it } from "vitest";
import { encodeGuid, WindowsFormatError } from "../../../src/formats/windows/byte-reader.ts";
import {
  encodeVolumeDiskExtents,
  parseDiskAttributes,
  parseDiskGeometryEx,
  parseNtfsVolumeData,
  parseVolumeDiskExtents,
  parseVolumePhysicalOffsets,
} from "../../../src/formats/windows/disk-queries.ts";
import {
  diskIdentity,
  encodeDriveLayout,
  GPT_TYPE,
  isContainer,
  isDynamic,
  parseDriveLayout,
} from "../../../src/formats/windows/drive-layout.ts";

interface Slot {
  start: number;
  size: number;
  type?: number;
  number?: number;
  gpt?: { type: string; id: string; name: string };
}

/** DRIVE_LAYOUT_INFORMATION_EX laid out by hand from the documented structure (sizes in sectors). */
function layout(style: 0 | 1, slots: Slot[], id: number | string): Buffer {
  const out = Buffer.alloc(48 + slots.length * 144);
  out.writeUInt32LE(style, 0);
  out.writeUInt32LE(slots.length, 4);
  if (typeof id === "number") out.writeUInt32LE(id, 8);
  else out.set(encodeGuid(id), 8);
  slots.forEach((s, i) => {
    const at = 48 + i * 144;
    out.writeUInt32LE(style, at);
    out.writeBigInt64LE(BigInt(s.start * 512), at + 8);
    out.writeBigInt64LE(BigInt(s.size * 512), at + 16);
    out.writeUInt32LE(s.number ?? 0, at + 24);
    if (style === 0) out.writeUInt8(s.type ?? 0, at + 32);
    if (s.gpt !== undefined) {
      out.set(encodeGuid(s.gpt.type), at + 32);
      out.set(encodeGuid(s.gpt.id), at + 48);
      out.write(s.gpt.name, at + 72, "utf16le");
    }
  });
  return out;
}

const EMPTY: Slot = { start: 0, size: 0 };

/** The disk Windows partitioned in dfir_ntfs's mbr-win-512.raw, as sfdisk -d lists it. */
const mbrWin = layout(
  0,
  [
    { start: 128, size: 16384, type: 6, number: 1 },
    { start: 16512, size: 16384, type: 6, number: 2 },
    { start: 32896, size: 16384, type: 6, number: 3 },
    { start: 49280, size: 471040, type: 5 },
    // Each extended boot record: the logical partition, then the link to the next record.
    { start: 49408, size: 16384, type: 6, number: 5 },
    { start: 65792, size: 16512, type: 5 },
    EMPTY,
    EMPTY,
    { start: 65920, size: 16384, type: 6, number: 6 },
    { start: 82304, size: 16512, type: 5 },
    EMPTY,
    EMPTY,
    { start: 82432, size: 16384, type: 6, number: 7 },
    { start: 98816, size: 417920, type: 5 },
    EMPTY,
    EMPTY,
    { start: 98944, size: 417792, type: 6, number: 8 },
    EMPTY,
    EMPTY,
    EMPTY,
  ],
  0x882edd52,
);

/** dfir_ntfs's vss_1_vol.raw: a Windows 10 GPT disk with an unaligned MSR and one data partition. */
const gptDisk = layout(
  1,
  [
    {
      start: 34,
      size: 65536,
      number: 1,
      gpt: {
        type: GPT_TYPE.MSR,
        id: "7B8A4E4C-0000-4000-8000-000000000001",
        name: "Microsoft reserved partition",
      },
    },
    {
      start: 67584,
      size: 10416128,
      number: 2,
      gpt: {
        type: GPT_TYPE.BASIC_DATA,
        id: "7B8A4E4C-0000-4000-8000-000000000002",
        name: "Basic data partition",
      },
    },
  ],
  "E4D476E1-9A33-4507-8535-79B6ED0840BD",
);

describe("drive layouts", () => {
  it("lists an MBR disk's primary and logical partitions as sfdisk does, with extended containers marked", () => {
    const parsed = parseDriveLayout(mbrWin, 256 * 1024 * 1024);
    expect(parsed.style).toBe("mbr");
    expect(diskIdentity(parsed)).toBe("mbr-882edd52");
    const data = parsed.partitions.filter((p) => !isContainer(p));
    expect(data.map((p) => [p.startingOffset / 512, p.length / 512, p.mbr?.type])).toEqual([
      [128, 16384, 6],
      [16512, 16384, 6],
      [32896, 16384, 6],
      [49408, 16384, 6],
      [65920, 16384, 6],
      [82432, 16384, 6],
      [98944, 417792, 6],
    ]);
    expect(parsed.partitions.filter(isContainer).length).toBe(4);
    expect(isDynamic(parsed)).toBe(false);
  });

  it("reads a GPT disk's identity, partition types and names", () => {
    const parsed = parseDriveLayout(gptDisk);
    expect(diskIdentity(parsed)).toBe("gpt-e4d476e1-9a33-4507-8535-79b6ed0840bd");
    expect(
      parsed.partitions.map((p) => [p.number, p.startingOffset / 512, p.gpt?.type, p.gpt?.name]),
    ).toEqual([
      [1, 34, GPT_TYPE.MSR, "Microsoft reserved partition"],
      [2, 67584, GPT_TYPE.BASIC_DATA, "Basic data partition"],
    ]);
  });

  it("recognises dynamic disks by their LDM partitions", () => {
    const ldm = layout(0, [{ start: 63, size: 1000, type: 0x42, number: 1 }, EMPTY, EMPTY, EMPTY], 1);
    expect(isDynamic(parseDriveLayout(ldm))).toBe(true);
  });

  it("round-trips through the encoder the simulated host uses", () => {
    for (const bytes of [mbrWin, gptDisk]) {
      const parsed = parseDriveLayout(bytes);
      expect(parseDriveLayout(encodeDriveLayout(parsed))).toEqual(parsed);
    }
  });

  it("refuses truncated layouts, unknown styles and partition counts beyond the buffer", () => {
    expect(() => parseDriveLayout(mbrWin.subarray(0, 6))).toThrow(WindowsFormatError);
    expect(() => parseDriveLayout(mbrWin.subarray(0, mbrWin.length - 1))).toThrow(/PartitionCount 20/);
    const style = Buffer.from(gptDisk);
    style.writeUInt32LE(7, 0);
    expect(() => parseDriveLayout(style)).toThrow(/PartitionStyle 7/);
    const count = Buffer.from(gptDisk);
    count.writeUInt32LE(0x7fffffff, 4);
    expect(() => parseDriveLayout(count)).toThrow(/PartitionCount/);
  });

  it("refuses partitions that overlap, lie past the disk, or change style", () => {
    const overlap = Buffer.from(gptDisk);
    overlap.writeBigInt64LE(BigInt(60 * 512), 48 + 144 + 8);
    expect(() => parseDriveLayout(overlap)).toThrow(/overlap/);
    expect(() => parseDriveLayout(gptDisk, 1024 * 1024)).toThrow(/past the end/);
    const negative = Buffer.from(gptDisk);
    negative.writeBigInt64LE(-512n, 48 + 16);
    expect(() => parseDriveLayout(negative)).toThrow(/negative/);
    const mixed = Buffer.from(gptDisk);
    mixed.writeUInt32LE(0, 48);
    expect(() => parseDriveLayout(mixed)).toThrow(/differs/);
  });
});

describe("disk and volume answers", () => {
  it("reads a spanned volume's extents on two disks and refuses counts beyond the buffer", () => {
    const extents = [
      { diskNumber: 1, startingOffset: 1048576, length: 5 << 20 },
      { diskNumber: 2, startingOffset: 1048576, length: 3 << 20 },
    ];
    const bytes = encodeVolumeDiskExtents(extents);
    expect(parseVolumeDiskExtents(bytes)).toEqual(extents);
    expect(() => parseVolumeDiskExtents(bytes.subarray(0, 40))).toThrow(/NumberOfDiskExtents 2/);
    const empty = Buffer.from(bytes);
    empty.writeBigInt64LE(0n, 8 + 16);
    expect(() => parseVolumeDiskExtents(empty)).toThrow(/empty/);
  });

  it("reads geometry, attributes and physical offsets, refusing impossible values", () => {
    const geometry = Buffer.alloc(32);
    geometry.writeUInt32LE(4096, 20);
    geometry.writeBigInt64LE(BigInt(1 << 30), 24);
    expect(parseDiskGeometryEx(geometry)).toEqual({ sectorSize: 4096, diskSize: 1 << 30 });
    geometry.writeUInt32LE(4095, 20);
    expect(() => parseDiskGeometryEx(geometry)).toThrow(/BytesPerSector/);
    const attributes = Buffer.alloc(16);
    attributes.writeBigUInt64LE(3n, 8);
    expect(parseDiskAttributes(attributes)).toEqual({ offline: true, readOnly: true });
    expect(() => parseDiskAttributes(attributes.subarray(0, 12))).toThrow(WindowsFormatError);
    const mirror = Buffer.alloc(40);
    mirror.writeUInt32LE(2, 0);
    mirror.writeUInt32LE(3, 8);
    mirror.writeBigInt64LE(65536n, 16);
    mirror.writeUInt32LE(4, 24);
    mirror.writeBigInt64LE(65536n, 32);
    expect(parseVolumePhysicalOffsets(mirror).map((o) => o.diskNumber)).toEqual([3, 4]);
    mirror.writeUInt32LE(3, 0);
    expect(() => parseVolumePhysicalOffsets(mirror)).toThrow(/exceeds/);
  });

  it("reads NTFS volume data and refuses geometry that is not NTFS", () => {
    const data = Buffer.alloc(96);
    data.writeBigInt64LE(767n, 16);
    data.writeBigInt64LE(67n, 24);
    data.writeUInt32LE(512, 40);
    data.writeUInt32LE(4096, 44);
    data.writeUInt32LE(1024, 48);
    data.writeBigInt64LE(256n, 64);
    data.writeBigInt64LE(2n, 72);
    expect(parseNtfsVolumeData(data)).toMatchObject({
      totalClusters: 767,
      freeClusters: 67,
      mftStartLcn: 256,
    });
    const mft = Buffer.from(data);
    mft.writeBigInt64LE(767n, 64);
    expect(() => parseNtfsVolumeData(mft)).toThrow(/MftStartLcn/);
    const cluster = Buffer.from(data);
    cluster.writeUInt32LE(3000, 44);
    expect(() => parseNtfsVolumeData(cluster)).toThrow(/not an NTFS geometry/);
    expect(() => parseNtfsVolumeData(data.subarray(0, 70))).toThrow(WindowsFormatError);
  });
});
