/**
 * The end-to-end case: a 1 GiB GPT disk whose NTFS volume was filled with random files to
 * ~90% and then had files deleted down to ~30%, so its free clusters hold stale, non-zero data.
 * A full `lifeboat backup --source image:…` must read exactly the chunks holding allocated clusters
 * (per ntfs-3g's own reading of $Bitmap) plus the partition-table areas and gaps, and the restore
 * must give back a volume that ntfsinfo/ntfsls/ntfscat accept with identical files and with every
 * free cluster zeroed (stale data never leaks into a point).
 */

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lifeboat } from "../../helpers/cli.ts";
import { sha256File } from "../../helpers/disk-image.ts";
import {
  extractVolume,
  fuseUnavailable,
  missingTools,
  mkntfs,
  ntfsFileHashes,
  ntfsinfo,
  assembleDisk,
  run,
  sfdiskJson,
  withNtfsMount,
  writeRandomFile,
} from "../../helpers/ntfs-images.ts";

const MiB = 1 << 20;
const DISK = 1 << 30;
const START = 2048;
const CHUNK = 64 * 1024;
const env = { LIFEBOAT_PASSWORD: "ntfs test passphrase" };

let dir: string;
let skipReason: string | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lifeboat-ntfs-backup-"));
  const missing = missingTools();
  skipReason = missing.length > 0 ? `missing ${missing.join(", ")}` : await fuseUnavailable(dir);
  if (skipReason !== undefined) console.warn(`SKIPPING the 1 GiB NTFS backup/restore test: ${skipReason}`);
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** xorshift32: the file sizes and the deletion order are the same on every run. */
function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** ntfs-3g's reading of $Bitmap (inode 6), independent of our parser. */
async function bitmapByNtfs3g(volume: string): Promise<Buffer> {
  const { stdout } = await promisify(execFile)("ntfscat", ["-i", "6", volume], {
    encoding: "buffer",
    maxBuffer: 64 * MiB,
  });
  return stdout;
}

const allocated = (bitmap: Buffer, lcn: number) => (((bitmap[lcn >>> 3] as number) >>> (lcn & 7)) & 1) === 1;

/** Counts the free clusters of the volume at `offset` of `image` that hold non-zero bytes. */
async function nonZeroFreeClusters(
  image: string,
  offset: number,
  clusters: number,
  bitmap: Buffer,
): Promise<number> {
  const h = await open(image, "r");
  const piece = Buffer.alloc(4 * MiB);
  const zero = Buffer.alloc(4096);
  let count = 0;
  try {
    for (let lcn = 0; lcn < clusters; lcn += piece.length / 4096) {
      const { bytesRead } = await h.read(piece, 0, piece.length, offset + lcn * 4096);
      for (let i = 0; i * 4096 < bytesRead && lcn + i < clusters; i++) {
        if (!allocated(bitmap, lcn + i) && !piece.subarray(i * 4096, (i + 1) * 4096).equals(zero)) count++;
      }
    }
  } finally {
    await h.close();
  }
  return count;
}

describe("full backup of a 1 GiB GPT disk holding a 30%-full NTFS volume", () => {
  it("reads only allocated clusters plus tables and gaps, and restores identical files", async (ctx) => {
    if (skipReason !== undefined) ctx.skip();
    // The GPT comes from sfdisk on an empty disk; the NTFS volume is built in its own file (mkntfs
    // has no offset option), and the two are joined at the end.
    const disk = join(dir, "disk.img");
    const h = await open(disk, "w");
    await h.truncate(DISK);
    await h.close();
    await run(
      "sfdisk",
      ["-q", disk],
      `label: gpt\nstart=${START}, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="data"\n`,
    );
    const sectors = (await sfdiskJson(disk)).partitions[0]?.size ?? 0;
    const tableEnd = (START + sectors) * 512;
    const head = Buffer.alloc(START * 512);
    const tail = Buffer.alloc(DISK - tableEnd);
    const t = await open(disk, "r");
    await t.read(head, 0, head.length, 0); // protective MBR, primary GPT, gap
    await t.read(tail, 0, tail.length, tableEnd); // backup GPT
    await t.close();
    const part = join(dir, "part.img");
    const p = await open(part, "w");
    await p.truncate(sectors * 512);
    await p.close();
    await mkntfs(part, START, "Lifeboat");

    // Fill to ~90% with random files, then delete files (in a seeded order) down to ~30%. The bulk
    // goes in through ntfscp (libntfs-3g, ~400 MB/s here); the FUSE mount makes the directories,
    // deletes, and writes the small files.
    const rand = seeded(20_240_601);
    const capacity = sectors * 512;
    const dirs = [0, 1, 2, 3, 4].flatMap((a) => [0, 1, 2].map((b) => `dir${a}/sub${b}`));
    await withNtfsMount(part, join(dir, "mnt"), async (mnt) => {
      for (const d of dirs) await mkdir(join(mnt, d), { recursive: true });
    });
    const sources: Array<{ path: string; size: number; sha256: string }> = [];
    for (let i = 0; i < 12; i++) {
      const path = join(dir, `source-${i}.bin`);
      const size = Math.floor((1 + rand() * 23) * MiB) + i * 4099;
      await writeRandomFile(path, size);
      sources.push({ path, size, sha256: await sha256File(path) });
    }
    const files: Array<{ path: string; size: number; sha256: string }> = [];
    let written = 0;
    for (let i = 0; written < 0.88 * capacity; i++) {
      const source = sources[Math.floor(rand() * sources.length)] as (typeof sources)[number];
      const path = `/${dirs[i % dirs.length]}/file-${i}.bin`;
      await run("ntfscp", [part, source.path, path]);
      files.push({ path, size: source.size, sha256: source.sha256 });
      written += source.size;
    }
    const expectedFiles = new Map<string, string>();
    await withNtfsMount(part, join(dir, "mnt"), async (mnt) => {
      let live = written;
      while (live > 0.3 * capacity) {
        const [victim] = files.splice(Math.floor(rand() * files.length), 1);
        if (victim === undefined) break;
        await rm(join(mnt, victim.path));
        live -= victim.size;
      }
      for (let i = 0; i < 20; i++) {
        const path = `/${dirs[i % dirs.length]}/note-${i}.txt`;
        const text = `small file ${i}\n`.repeat(i * 37 + 1);
        await writeFile(join(mnt, path), text);
        expectedFiles.set(path, createHash("sha256").update(text).digest("hex"));
      }
      await writeFile(join(mnt, "empty.txt"), "");
      expectedFiles.set("/empty.txt", createHash("sha256").digest("hex"));
    });
    for (const f of files) expectedFiles.set(f.path, f.sha256);
    const info = await ntfsinfo(part);
    expect(info.used / info.clusters).toBeGreaterThan(0.25);
    expect(info.used / info.clusters).toBeLessThan(0.35);
    const bitmap = await bitmapByNtfs3g(part);
    // The test means something only if deleted data is still there to leak.
    const stale = await nonZeroFreeClusters(part, 0, info.clusters, bitmap);
    expect(stale).toBeGreaterThan(0.5 * info.clusters);
    await assembleDisk(part, disk, START * 512, DISK);
    const d = await open(disk, "r+");
    await d.write(head, 0, head.length, 0);
    await d.write(tail, 0, tail.length, tableEnd);
    await d.close();
    expect((await sfdiskJson(disk)).partitions[0]?.size).toBe(sectors);

    // What a full backup must read: every chunk with an allocated cluster, and everything outside
    // the volume's cluster area (protective MBR, GPTs, the 1 MiB gap, the backup boot sector).
    const volumeStart = START * 512;
    const volumeEnd = volumeStart + info.clusters * 4096;
    const chunks = new Set<number>();
    for (let offset = 0; offset < DISK; offset += CHUNK) {
      if (offset < volumeStart || offset + CHUNK > volumeEnd) chunks.add(offset / CHUNK);
    }
    for (let lcn = 0; lcn < info.clusters; lcn++) {
      if (allocated(bitmap, lcn)) chunks.add(Math.floor((volumeStart + lcn * 4096) / CHUNK));
    }
    const expectedRead = chunks.size * CHUNK;

    const repo = join(dir, "repo");
    const init = await lifeboat(["repo", "init", "--repo", repo], env);
    expect(init.code, init.stderr).toBe(0);
    const backup = await lifeboat(
      ["--json", "backup", "--source", `image:${disk}`, "--repo", repo, "--state-dir", join(dir, "state")],
      env,
    );
    expect(backup.code, backup.stderr).toBe(0);
    const result = JSON.parse(backup.stdout) as {
      point: { id: string };
      mode: string;
      bytesRead: number;
      bytesStored: number;
      warnings: string[];
    };
    expect(result.mode).toBe("full");
    expect(result.bytesRead).toBe(expectedRead);
    expect(result.bytesRead).toBeLessThanOrEqual(
      info.used * 4096 + (volumeStart + DISK - volumeEnd) + chunks.size * (CHUNK - 4096),
    );
    expect(result.warnings.join()).not.toMatch(/LAYOUT_INVALID|NTFS_INVALID/);
    console.info(
      `1 GiB GPT+NTFS full backup: used ${((info.used * 4096) / MiB).toFixed(1)} MiB (${((100 * info.used) / info.clusters).toFixed(1)}%), ` +
        `read ${(result.bytesRead / MiB).toFixed(1)} MiB (${((100 * result.bytesRead) / DISK).toFixed(1)}% of the disk), ` +
        `stored ${(result.bytesStored / MiB).toFixed(1)} MiB`,
    );

    const restored = join(dir, "restored.img");
    const restore = await lifeboat(
      ["--json", "restore", "--repo", repo, "--point", result.point.id, "--to", restored, "--verify"],
      env,
    );
    expect(restore.code, restore.stderr).toBe(0);
    const restoredPart = join(dir, "restored-part.img");
    await extractVolume(restored, volumeStart, sectors * 512, restoredPart);
    expect(await ntfsinfo(restoredPart)).toEqual(info);
    expect(await ntfsFileHashes(restoredPart)).toEqual(expectedFiles);
    expect(await nonZeroFreeClusters(restored, volumeStart, info.clusters, bitmap)).toBe(0);
  });
});
