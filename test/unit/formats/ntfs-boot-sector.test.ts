import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { isLifeboatError } from "../../../src/domain/errors.ts";
import { parseNtfsBootSector } from "../../../src/formats/ntfs/boot-sector.ts";
import { fixturePath } from "../../helpers/ntfs-images.ts";

const boot = async (name: string) => new Uint8Array(await readFile(fixturePath(`boot/${name}.boot`)));

// Reference facts from ../fixtures/ntfs/README.md §3.4 (dfir_ntfs's own test asserts the same).
const FACTS = [
  ["4k", 512, 8, 4096, 1024, 4096, 124_700_671, 786_432, 2, "7EFEEEDBFEEE8B2B", true],
  ["64k", 512, 128, 65536, 1024, 4096, 67_102_719, 49_152, 1, "A8A66D90A66D6034", true],
  ["128k", 512, 256, 131072, 1024, 4096, 67_102_719, 24_576, 1, "5CB4C084B4C061DE", true],
  ["4kn", 4096, 1, 4096, 4096, 4096, 14_335, 4778, 2, "187EB6507EB62682", true],
  ["512", 512, 1, 512, 1024, 4096, 2_091_007, 697_002, 16, "A6EE1E1BEE1DE479", true],
  ["nobootcode", 512, 8, 4096, 1024, 4096, 61_386, 771, 3836, "D87A81B9DF3DEF62", false],
].map(([name, bps, spc, cluster, record, index, sectors, mft, mirr, serial, bootCode]) => ({
  name: name as string,
  facts: {
    bytesPerSector: bps as number,
    sectorsPerCluster: spc as number,
    clusterSize: cluster as number,
    recordSize: record as number,
    indexRecordSize: index as number,
    totalSectors: sectors as number,
    mftLcn: mft as number,
    mftMirrLcn: mirr as number,
    serial: serial as string,
    hasBootCode: bootCode as boolean,
  },
}));

describe("NTFS boot sector", () => {
  it.each(FACTS)(
    "decodes the Windows-written $name boot sector as the reference facts say",
    async ({ name, facts }) => {
      const b = parseNtfsBootSector(await boot(name));
      expect(b).toMatchObject(facts);
      expect(b.clusterCount).toBe(Math.floor(facts.totalSectors / facts.sectorsPerCluster));
    },
  );

  it("decodes 0xF8 and 0xF4 as negative powers of two (128 KiB and 2 MiB clusters)", async () => {
    const b = await boot("512");
    b.fill(0, 0x30, 0x40);
    b[0x30] = 4; // $MFT at LCN 4, $MFTMirr at LCN 0: inside the 510 clusters of 2 MiB
    b[0x0d] = 0xf4;
    b[0x40] = 0xf6; // records of 2^10 bytes
    expect(parseNtfsBootSector(b)).toMatchObject({
      sectorsPerCluster: 4096,
      clusterSize: 2 << 20,
      recordSize: 1024,
    });
    b[0x0d] = 0xf3; // 2^13 sectors = 4 MiB clusters: beyond what Windows formats
    expect(() => parseNtfsBootSector(b)).toThrow(/cluster/);
  });

  it("reports no boot code once the jump instruction is zeroed", async () => {
    for (const name of ["4kn", "512"]) {
      const b = await boot(name);
      b[0] = 0;
      b[1] = 0;
      expect(parseNtfsBootSector(b).hasBootCode).toBe(false);
    }
  });

  it.each([
    ["OEM id", 3, 0x4d],
    ["bytes per sector", 0x0b, 0x07],
    ["sectors per cluster", 0x0d, 0x03],
    ["a FAT field", 0x10, 2],
    ["the MFT LCN past the volume", 0x37, 0x40],
    ["the file record size", 0x40, 0x00],
  ])("refuses a boot sector with a corrupted %s as NTFS_INVALID", async (_what, offset, value) => {
    const b = await boot("4k");
    b[offset] = value;
    let error: unknown;
    try {
      parseNtfsBootSector(b);
    } catch (e) {
      error = e;
    }
    expect(isLifeboatError(error, "NTFS_INVALID")).toBe(true);
  });
});
