/**
 * Real disk images built with Debian's tools (sfdisk, sgdisk, mkntfs, ntfscp, the ntfs-3g FUSE
 * mount): `lifeboat inspect` must agree with `sfdisk --json` on the partitions and with
 * `ntfsinfo -m` on every NTFS volume's used clusters, and our runlists with `ntfsinfo -v -F`.
 */

import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { confinedReader } from "../../../src/formats/bytes.ts";
import { ATTR, findAttributes } from "../../../src/formats/ntfs/mft-record.ts";
import { openNtfsVolume } from "../../../src/formats/ntfs/volume.ts";
import { errorCode, lifeboat } from "../../helpers/cli.ts";
import {
  extractVolume,
  fileReader,
  fuseUnavailable,
  missingTools,
  mkntfs,
  ntfsinfo,
  placeVolume,
  run,
  sfdiskJson,
  withNtfsMount,
  writeRandomFile,
} from "../../helpers/ntfs-images.ts";

const MiB = 1 << 20;
const missing = missingTools();
if (missing.length > 0) {
  console.warn(`SKIPPING real-image NTFS tests: missing ${missing.join(", ")} (install ntfs-3g fdisk gdisk)`);
}

interface InspectJson {
  partitionTable: { type: string; id?: string; sectorSize: number };
  partitions: Array<{
    number: number;
    start: number;
    size: number;
    type: string;
    name?: string;
    uuid?: string;
  }>;
  volumes: Array<{
    partition: number | null;
    start: number;
    filesystem: string;
    sync: string;
    reason?: string;
    clusterSize: number | null;
    allocatedBytes: number | null;
    usedClusters?: number;
  }>;
  findings: Array<{ code: string; message: string }>;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lifeboat-layouts-"));
});
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function sparseFile(path: string, size: number): Promise<void> {
  const h = await open(path, "w");
  await h.truncate(size);
  await h.close();
}

async function inspect(disk: string): Promise<InspectJson> {
  const r = await lifeboat(["--json", "inspect", disk]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as InspectJson;
}

/** inspect vs sfdisk --json: same partitions, starts and sizes in bytes, types, names and GUIDs. */
async function expectAgreesWithSfdisk(disk: string, report: InspectJson): Promise<void> {
  const sf = await sfdiskJson(disk);
  expect(report.partitionTable.type).toBe(sf.label === "dos" ? "mbr" : "gpt");
  expect(report.partitionTable.id?.toLowerCase()).toBe(sf.id.toLowerCase());
  const ours = report.partitions.map((p) => ({
    node: p.number,
    start: p.start,
    size: p.size,
    type: p.type.replace(/^0x0?/, "").toLowerCase(),
    ...(p.name === undefined ? {} : { name: p.name }),
    ...(p.uuid === undefined ? {} : { uuid: p.uuid }),
  }));
  const theirs = sf.partitions.map((p) => ({
    node: Number(/(\d+)$/.exec(p.node)?.[1]),
    start: p.start * sf.sectorsize,
    size: p.size * sf.sectorsize,
    type: p.type.toLowerCase(),
    ...(p.name === undefined ? {} : { name: p.name }),
    ...(p.uuid === undefined ? {} : { uuid: p.uuid }),
  }));
  expect(ours).toEqual(theirs);
}

/** Each NTFS volume's allocated clusters equal ntfsinfo's used clusters, exactly. */
async function expectAgreesWithNtfsinfo(disk: string, report: InspectJson): Promise<number> {
  let checked = 0;
  for (const v of report.volumes.filter((x) => x.filesystem === "ntfs")) {
    const p = report.partitions.find((x) => x.number === v.partition);
    const volume = join(dir, `vol-${checked}.img`);
    await extractVolume(disk, v.start, p?.size ?? 0, volume);
    const info = await ntfsinfo(volume);
    expect(v.clusterSize).toBe(info.clusterSize);
    expect(v.usedClusters).toBe(info.used);
    expect(v.allocatedBytes).toBe(info.used * info.clusterSize);
    expect(v.sync).toBe("allocated");
    checked++;
  }
  return checked;
}

describe.skipIf(missing.length > 0)("inspect on real images built with sfdisk, sgdisk and ntfs-3g", () => {
  it("MBR with a primary and a logical NTFS volume (files copied in with ntfscp)", async () => {
    const disk = join(dir, "mbr.img");
    await sparseFile(disk, 64 * MiB);
    await run(
      "sfdisk",
      ["-q", disk],
      "label: dos\nstart=2048, size=40960, type=7, bootable\nstart=45056, type=5\nstart=47104, size=20480, type=7\n",
    );
    for (const [start, sectors, label] of [
      [2048, 40960, "primary"],
      [47104, 20480, "logical"],
    ] as const) {
      const part = join(dir, `mbr-${label}.img`);
      await sparseFile(part, sectors * 512);
      await mkntfs(part, start, label);
      for (let i = 0; i < 4; i++) {
        const src = join(dir, `file-${i}`);
        await writeRandomFile(src, (i + 1) * 300_000);
        await run("ntfscp", [part, src, `file-${i}.bin`]);
      }
      await placeVolume(disk, part, start * 512);
    }
    const report = await inspect(disk);
    await expectAgreesWithSfdisk(disk, report);
    expect(await expectAgreesWithNtfsinfo(disk, report)).toBe(2);
    expect(report.findings).toEqual([]);
  });

  it("GPT made by sgdisk (first usable LBA 34) with fragmented files written through the FUSE mount", async (ctx) => {
    const why = await fuseUnavailable(dir);
    if (why !== undefined) {
      console.warn(`SKIPPING fragmented-file image: ${why}`);
      ctx.skip();
    }
    const disk = join(dir, "sgdisk.img");
    await sparseFile(disk, 96 * MiB);
    await run("sgdisk", ["-o", "-a", "1", "-n", "1:34:+64M", "-t", "1:0700", "-c", "1:lifeboat data", disk]);
    const start = 34;
    const part = join(dir, "sgdisk-part.img");
    await sparseFile(part, 64 * MiB);
    await mkntfs(part, start, "fragmented");
    await withNtfsMount(part, join(dir, "mnt-frag"), async (mnt) => {
      await run("mkdir", ["-p", join(mnt, "a/b/c")]);
      for (let i = 0; i < 40; i++) await writeRandomFile(join(mnt, "a", `f${i}`), MiB);
      for (let i = 0; i < 40; i += 2) await rm(join(mnt, "a", `f${i}`));
      await writeRandomFile(join(mnt, "a/b/c/big.bin"), 18 * MiB); // must fill the 1 MiB holes
      await writeFile(join(mnt, "a/b/small.txt"), "resident data\n");
    });
    await placeVolume(disk, part, start * 512);
    const report = await inspect(disk);
    expect(report.partitions[0]?.start).toBe(34 * 512);
    await expectAgreesWithSfdisk(disk, report);
    expect(await expectAgreesWithNtfsinfo(disk, report)).toBe(1);

    // Our runlist of the fragmented file equals ntfsinfo's.
    const text = await run("ntfsinfo", ["-v", "-F", "/a/b/c/big.bin", part]);
    const inode = Number(/Dumping Inode (\d+)/.exec(text)?.[1]);
    const theirs = [...text.matchAll(/^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s*$/gm)].map((m) => [
      Number.parseInt(m[2] as string, 16),
      Number.parseInt(m[3] as string, 16),
    ]);
    expect(theirs.length).toBeGreaterThan(3);
    const volume = await fileReader(part);
    try {
      const ntfs = await openNtfsVolume(
        confinedReader(volume.read, 0, volume.size, "NTFS_INVALID", "v"),
        volume.size,
      );
      const data = findAttributes(await ntfs.readRecord(inode), ATTR.data)[0];
      expect(data?.resident).toBe(false);
      expect(data?.resident === false ? data.runs.map((r) => [r.lcn, r.length]) : []).toEqual(theirs);
    } finally {
      await volume.close();
    }
  });

  it("GPT made by sfdisk (LBA 2048) with an NTFS and an unformatted partition", async () => {
    const disk = join(dir, "gpt-two.img");
    await sparseFile(disk, 80 * MiB);
    await run(
      "sfdisk",
      ["-q", disk],
      'label: gpt\nstart=2048, size=65536, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="windows data"\nstart=67584, size=61440, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n',
    );
    const part = join(dir, "gpt-two-part.img");
    await sparseFile(part, 65536 * 512);
    await mkntfs(part, 2048, "data");
    const src = join(dir, "payload");
    await writeRandomFile(src, 5 * MiB);
    await run("ntfscp", [part, src, "payload.bin"]);
    await placeVolume(disk, part, 2048 * 512);
    // The unformatted partition holds data Lifeboat cannot interpret: it must count whole.
    await writeRandomFile(join(dir, "junk"), 2 * MiB);
    await placeVolume(disk, join(dir, "junk"), 67584 * 512 + 4096);
    const report = await inspect(disk);
    await expectAgreesWithSfdisk(disk, report);
    expect(await expectAgreesWithNtfsinfo(disk, report)).toBe(1);
    expect(report.volumes.map((v) => [v.filesystem, v.sync])).toEqual([
      ["ntfs", "allocated"],
      ["unknown", "full"],
    ]);
  });

  it("states a damaged table instead of failing, and refuses a missing device with a code", async () => {
    const disk = join(dir, "gpt-two.img");
    const h = await open(disk, "r+");
    await h.write(Buffer.from("garbage!"), 0, 8, 512 + 24); // primary header: CRC no longer matches
    await h.close();
    const report = await inspect(disk);
    expect(report.partitions).toHaveLength(2);
    expect(report.findings.map((f) => f.message).join()).toMatch(/primary GPT is damaged/);
    const missingDisk = await lifeboat(["--json", "inspect", join(dir, "nope.img")]);
    expect(missingDisk.code).toBe(2);
    expect(errorCode(missingDisk)).toBe("SOURCE_NOT_FOUND");
  });
});
