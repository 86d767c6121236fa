import { describe, expect, it } from "vitest";
import { isLifeboatError } from "../../../src/domain/errors.ts";
import { buildAllocatedMap } from "../../../src/formats/disk-layout/allocated-map.ts";
import { assertSupportedLayout, layoutWarnings } from "../../../src/formats/disk-layout/disk-layout.ts";
import { memoryReader } from "../../helpers/ntfs-images.ts";
import { dynamicDiskImage, type LdmVolumeSpec } from "./ldm-image.ts";

const simple: LdmVolumeSpec = {
  name: "Volume1",
  components: [2],
  partitions: [{ component: 0, disk: 0, sectors: 4096 }],
};

async function analyze(volumes: readonly LdmVolumeSpec[]) {
  const disk = dynamicDiskImage(volumes);
  return buildAllocatedMap(memoryReader(disk), disk.length);
}

function refusal(layout: Parameters<typeof assertSupportedLayout>[0]): unknown {
  try {
    assertSupportedLayout(layout);
    return undefined;
  } catch (e) {
    return e;
  }
}

describe("Windows dynamic disks (LDM)", () => {
  it("detects a dynamic disk, names its volumes, and syncs it at full capacity with a warning", async () => {
    const { layout, map } = await analyze([simple]);
    expect(layout.dynamic?.scheme).toBe("mbr");
    expect(layout.dynamic?.database).toMatchObject({ version: "2.12", groupName: "WinDg0" });
    expect(layout.dynamic?.database?.volumes).toEqual([
      { name: "Volume1", layout: "simple", size: 4096 * 512, onThisDisk: true },
    ]);
    expect(map).toBeNull();
    expect(layoutWarnings(layout).join()).toMatch(/dynamic disk.*full capacity/);
    expect(refusal(layout)).toBeUndefined();
  });

  it("accepts a spanned volume across two disks", async () => {
    const spanned: LdmVolumeSpec = {
      name: "Span",
      components: [2],
      partitions: [
        { component: 0, disk: 0, sectors: 2048 },
        { component: 0, disk: 1, sectors: 2048 },
      ],
    };
    const { layout } = await analyze([simple, spanned]);
    expect(layout.dynamic?.database?.volumes.map((v) => v.layout)).toEqual(["simple", "spanned"]);
    expect(refusal(layout)).toBeUndefined();
  });

  it.each([
    [
      "mirrored",
      {
        name: "Mirror",
        components: [2, 2],
        partitions: [
          { component: 0, disk: 0, sectors: 2048 },
          { component: 1, disk: 1, sectors: 2048 },
        ],
      },
    ],
    [
      "striped",
      {
        name: "Stripe",
        components: [1],
        partitions: [
          { component: 0, disk: 0, sectors: 2048 },
          { component: 0, disk: 1, sectors: 2048 },
        ],
      },
    ],
    [
      "raid5",
      {
        name: "Parity",
        volumeType: "raid5",
        components: [3],
        partitions: [
          { component: 0, disk: 0, sectors: 2048 },
          { component: 0, disk: 1, sectors: 2048 },
          { component: 0, disk: 2, sectors: 2048 },
        ],
      },
    ],
  ] as const)(
    "refuses a disk holding a %s volume with DYNAMIC_VOLUME_UNSUPPORTED",
    async (layoutName, spec) => {
      const { layout } = await analyze([simple, spec]);
      expect(layout.dynamic?.database?.volumes[1]?.layout).toBe(layoutName);
      const e = refusal(layout);
      expect(isLifeboatError(e, "DYNAMIC_VOLUME_UNSUPPORTED")).toBe(true);
      expect((e as Error).message).toContain(spec.name);
    },
  );

  it("does not refuse a mirror that has no piece on this disk", async () => {
    const elsewhere: LdmVolumeSpec = {
      name: "Other",
      components: [2, 2],
      partitions: [
        { component: 0, disk: 1, sectors: 2048 },
        { component: 1, disk: 2, sectors: 2048 },
      ],
    };
    const { layout } = await analyze([simple, elsewhere]);
    expect(layout.dynamic?.database?.volumes[1]).toMatchObject({ layout: "mirrored", onThisDisk: false });
    expect(refusal(layout)).toBeUndefined();
  });

  it("still syncs a dynamic disk whose database is damaged, and says its layouts are unknown", async () => {
    const disk = dynamicDiskImage([simple]);
    const vmdb = disk.length - 2048 * 512 + 17 * 512;
    disk[vmdb] = 0; // VMDB signature gone
    const { layout, map } = await buildAllocatedMap(memoryReader(disk), disk.length);
    expect(layout.dynamic?.database).toBeUndefined();
    expect(layout.findings.map((f) => f.message).join()).toMatch(/VMDB.*layouts are unknown/);
    expect(map).toBeNull();
  });
});
