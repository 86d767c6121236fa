import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BlockMap } from "../../../src/domain/block-map.ts";
import { type AllocatedMap, buildAllocatedMap } from "../../../src/formats/disk-layout/allocated-map.ts";
import type { VolumeReport } from "../../../src/formats/disk-layout/disk-layout.ts";
import { confinedReader } from "../../../src/formats/bytes.ts";
import { openNtfsVolume } from "../../../src/formats/ntfs/volume.ts";
import { fileReader, unpackFixture } from "../../helpers/ntfs-images.ts";

// Reference facts: ../fixtures/ntfs/README.md (ntfsinfo -m, sfdisk, the image authors' answers).
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lifeboat-winvol-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function analyze(fixture: string): Promise<AllocatedMap & { path: string }> {
  const path = await unpackFixture(`volumes/${fixture}`, dir);
  const disk = await fileReader(path);
  try {
    return { path, ...(await buildAllocatedMap(disk.read, disk.size)) };
  } finally {
    await disk.close();
  }
}

const only = (volumes: readonly VolumeReport[]) => {
  expect(volumes).toHaveLength(1);
  return volumes[0] as VolumeReport;
};

/** Whether every cluster of [lcn, lcn+count) of the volume at `start` is in the map. */
function covers(map: BlockMap, start: number, clusterSize: number, lcn: number, count: number): boolean {
  for (
    let offset = start + lcn * clusterSize;
    offset < start + (lcn + count) * clusterSize;
    offset += map.grain
  ) {
    if (!map.has(Math.floor(offset / map.grain))) return false;
  }
  return true;
}

describe("NTFS volumes written by Windows", () => {
  it("counts exactly ntfsinfo's used clusters on a nearly full bare volume (file_4k)", async () => {
    const { layout, map } = await analyze("dfir_ntfs__file_4k.bin.gz");
    expect(layout.table.kind).toBe("none");
    const v = only(layout.volumes);
    expect(v).toMatchObject({ filesystem: "ntfs", sync: "allocated" });
    expect(v.ntfs).toMatchObject({
      label: "New Volume",
      clusterSize: 4096,
      clusterCount: 767,
      usedClusters: 700,
    });
    // 700 used clusters plus the last 4 KiB, past the cluster area (the backup boot sector).
    expect(map?.grain).toBe(4096);
    expect(map?.count()).toBe(701);
    expect(covers(map as BlockMap, 0, 4096, 755, 1)).toBe(true); // /1.txt
  });

  it("reads an MBR disk with a 2 KiB-cluster volume at LBA 128 (ntfs_index)", async () => {
    const { layout, map } = await analyze("dfir_ntfs__ntfs_index.raw.gz");
    expect(layout.table).toMatchObject({ kind: "mbr", id: "0x5b8a2f18" });
    expect(layout.table.partitions).toMatchObject([
      { number: 1, start: 128 * 512, size: 59_392 * 512, type: "0x07" },
    ]);
    const v = only(layout.volumes);
    expect(v.ntfs).toMatchObject({
      label: "Test index",
      clusterSize: 2048,
      clusterCount: 14_847,
      usedClusters: 2985,
    });
    // Used clusters + the 64 KiB before the partition + the sector after the clusters + the tail of the disk.
    const outside = 128 * 512 + (59_392 * 512 - 14_847 * 2048) + (32 << 20) - (128 + 59_392) * 512;
    expect((map?.count() ?? 0) * (map?.grain ?? 0)).toBe(2985 * 2048 + outside);
  });

  it("follows an $MFT in two runs on 1 KiB clusters (DFTT #7, Windows XP)", async () => {
    const { path, layout } = await analyze("dftt__7-ntfs-undel.dd.gz");
    expect(only(layout.volumes).ntfs).toMatchObject({
      label: "NTFS_DEL",
      clusterSize: 1024,
      clusterCount: 6016,
      usedClusters: 2531,
    });
    const disk = await fileReader(path);
    try {
      const volume = await openNtfsVolume(
        confinedReader(disk.read, 0, disk.size, "NTFS_INVALID", "v"),
        disk.size,
      );
      expect(volume.mft.runs.map((r) => [r.lcn, r.length])).toEqual([
        [2005, 16],
        [4247, 32],
      ]);
    } finally {
      await disk.close();
    }
  });

  it("decodes 2 MiB clusters (0xF4) on a Windows 10 MBR disk (ntfs-2m)", async () => {
    const { layout, map } = await analyze("ntfs-samples__ntfs-2m.raw.tgz");
    const v = only(layout.volumes);
    expect(v.ntfs).toMatchObject({ label: "2M", clusterSize: 2 << 20, clusterCount: 510, usedClusters: 20 });
    expect(v.sync).toBe("allocated");
    // The volume starts 64 KiB into the disk, so the map cannot be finer than that.
    expect(map?.grain).toBe(65_536);
  });

  it("reads a Windows GPT disk with an unaligned MSR and finds /test.txt's clusters allocated (vss_1_vol)", async () => {
    const { layout, map } = await analyze("dfir_ntfs__vss_1_vol.tar.gz");
    expect(layout.table).toMatchObject({ kind: "gpt", id: "E4D476E1-9A33-4507-8535-79B6ED0840BD" });
    expect(layout.table.partitions.map((p) => [p.type, p.startSector, p.sectors])).toEqual([
      ["E3C9E316-0B5C-4DB8-817D-F92DF00215AE", 34, 65_569 - 34 + 1],
      ["EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", 67_584, 10_483_711 - 67_584 + 1],
    ]);
    expect(layout.volumes.map((v) => [v.filesystem, v.sync])).toEqual([
      ["unformatted", "full"],
      ["ntfs", "allocated"],
    ]);
    expect(layout.volumes[1]?.ntfs).toMatchObject({
      label: "1",
      clusterCount: 1_302_015,
      usedClusters: 7034,
    });
    expect(covers(map as BlockMap, 67_584 * 512, 4096, 1837, 172)).toBe(true);
  });

  it("refuses to trust $Bitmap when $LogFile is not clean, and says so (SampleTinyNtfsVolume)", async () => {
    const { layout, map } = await analyze("jschicht-LogFileParser__SampleTinyNtfsVolume-partition.dd.gz");
    const v = only(layout.volumes);
    expect(v.ntfs).toMatchObject({
      clusterSize: 512,
      clusterCount: 14_335,
      usedClusters: 7492,
      logState: "dirty",
    });
    expect(v.sync).toBe("full");
    expect(v.reason).toMatch(/\$LogFile/);
    expect(layout.findings.map((f) => f.code)).toEqual(["NTFS_INVALID"]);
    expect(map).toBeNull();
  });

  it("refuses the hand-broken Tiny_NTFS volume without crashing (full size, reason stated)", async () => {
    const { layout, map } = await analyze("jschicht-Tiny_NTFS__300.part.gz");
    const v = only(layout.volumes);
    expect(v.filesystem).toBe("ntfs");
    expect(v.sync).toBe("full");
    expect(v.reason).toMatch(/MFT/);
    expect(map).toBeNull();
  });

  it("is not fooled by NTFS volumes later formatted ext2 and UFS2: parses NTFS, syncs them whole (DFTT #10)", async () => {
    const { layout, map } = await analyze("dftt__10-ntfs-disk.dd.gz");
    expect(layout.table.partitions.map((p) => [p.startSector, p.sectors])).toEqual([
      [63, 96_327],
      [96_390, 96_390],
    ]);
    expect(
      layout.volumes.map((v) => [v.filesystem, v.signatures.join("+"), v.ntfs?.usedClusters, v.sync]),
    ).toEqual([
      ["ntfs", "ntfs+ext2", 5049, "full"],
      ["ntfs", "ntfs+ufs2", 5049, "full"],
    ]);
    expect(map).toBeNull();
  });
});
