import { readdir, readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { confinedReader, type ReadAt } from "../../../src/formats/bytes.ts";
import { parseNtfsBootSector } from "../../../src/formats/ntfs/boot-sector.ts";
import { openAttribute, openMft } from "../../../src/formats/ntfs/volume.ts";
import { ATTR } from "../../../src/formats/ntfs/mft-record.ts";
import { fixturePath } from "../../helpers/ntfs-images.ts";

/**
 * go-ntfs recorded every read its tool made on a live Windows volume: file 0xOFFSET.bin holds the
 * bytes at that volume offset. Reads elsewhere return zeros, like the unrecorded rest of the disk.
 */
async function recordedVolume(set: string) {
  const dir = fixturePath(`attribute-lists/${set}`);
  const blocks = new Map<number, Uint8Array>();
  for (const name of await readdir(dir)) {
    const m = /^0x([0-9a-f]+)\.bin$/.exec(name);
    if (m === null) continue;
    const bytes = new Uint8Array(await readFile(`${dir}/${name}`));
    if (bytes.length > 0) blocks.set(Number.parseInt(m[1] as string, 16), bytes);
  }
  const read: ReadAt = async (offset, length) => {
    const out = new Uint8Array(length);
    for (const [at, bytes] of blocks) {
      const from = Math.max(at, offset);
      const to = Math.min(at + bytes.length, offset + length);
      if (from < to) out.set(bytes.subarray(from - at, to - at), from - offset);
    }
    return out;
  };
  const boot = parseNtfsBootSector(await read(0, 512));
  const clusters = confinedReader(read, 0, boot.clusterCount * boot.clusterSize, "NTFS_INVALID", set);
  return { boot, clusters, ...(await openMft(boot, clusters)) };
}

const total = (runs: readonly { length: number }[]) => runs.reduce((n, r) => n + r.length, 0);

describe("attribute lists on real Windows volumes (go-ntfs recordings)", () => {
  it("gathers a fragmented $MFT from records 0 and 15 through a non-resident attribute list", async () => {
    const { mft } = await recordedVolume("highly_fragmented_mft");
    expect(mft.size).toBe(7_203_717_120);
    expect(mft.runs).toHaveLength(87 + 84);
    expect(total(mft.runs)).toBe(1_758_720);
    expect(mft.runs[0]).toEqual({ vcn: 0, lcn: 786_432, length: 51_232 });
    expect(mft.runs[87]).toEqual({ vcn: 1_604_054, lcn: 9_835_042, length: 2148 });
  });

  it("joins $UsnJrnl:$J from two extension records, the first wholly sparse", async () => {
    const { boot, clusters, readRecord } = await recordedVolume("usn_with_two_vcns");
    const usn = await readRecord(68_310);
    expect(usn.inUse).toBe(true);
    const j = await openAttribute(usn, ATTR.data, readRecord, clusters, boot.clusterSize, "$J", "$J");
    expect(j.size).toBe(6_352_113_880);
    expect(j.runs).toHaveLength(68);
    expect(total(j.runs)).toBe(1_550_912);
    expect(j.runs.slice(0, 4)).toEqual([
      { vcn: 0, lcn: null, length: 44_544 },
      { vcn: 44_544, lcn: null, length: 1_496_432 },
      { vcn: 1_540_976, lcn: 6_815_248, length: 18 },
      { vcn: 1_540_994, lcn: 6_700_438, length: 80 },
    ]);
  });

  it("refuses an attribute list whose extension record belongs to another file", async () => {
    const { boot, clusters, readRecord } = await recordedVolume("usn_with_two_vcns");
    const usn = await readRecord(68_310);
    const lying = async (n: number) => ({ ...(await readRecord(n)), baseRecord: 12_345 });
    await expect(
      openAttribute(usn, ATTR.data, lying, clusters, boot.clusterSize, "$J", "$J"),
    ).rejects.toThrow(/does not belong/);
  });
});
