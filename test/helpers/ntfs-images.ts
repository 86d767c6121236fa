/**
 * Disk images for the partition-table and NTFS tests: the Windows-made fixtures in
 * test/fixtures/ntfs (unpacked into a temp dir), and real images built with Debian's tools
 * (sfdisk, sgdisk, mkntfs, ntfscp, the ntfs-3g FUSE mount) whose answers we compare with.
 */

import { execFile, spawn, spawnSync } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, truncate } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createGunzip, gunzipSync } from "node:zlib";
import type { ReadAt } from "../../src/formats/bytes.ts";

const exec = promisify(execFile);
export const FIXTURES = fileURLToPath(new URL("../fixtures/ntfs/", import.meta.url));

export function fixturePath(rel: string): string {
  return join(FIXTURES, rel);
}

/** A small gzipped fixture, decompressed into memory. */
export async function gunzipFixture(rel: string): Promise<Uint8Array> {
  return new Uint8Array(gunzipSync(await readFile(fixturePath(rel))));
}

/** Unpacks a fixture image (.gz, or a sparse .tgz/.tar.gz holding one image) into `dir`; returns its path. */
export async function unpackFixture(rel: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const source = fixturePath(rel);
  if (rel.endsWith(".tgz") || rel.endsWith(".tar.gz")) {
    const { stdout } = await exec("tar", ["-tf", source]);
    const member = stdout.split("\n").find((l) => l !== "" && !l.endsWith("/"));
    if (member === undefined) throw new Error(`${rel} holds no file`);
    await exec("tar", ["-xf", source, "-C", dir, member]);
    return join(dir, member);
  }
  const target = join(dir, basename(rel).replace(/\.gz$/, ""));
  await pipeline(createReadStream(source), createGunzip(), createWriteStream(target));
  return target;
}

/** Random access to a file as the parsers see a disk; `close()` when done. */
export async function fileReader(
  path: string,
): Promise<{ read: ReadAt; size: number; close: () => Promise<void> }> {
  const handle = await open(path, "r");
  const size = (await handle.stat()).size;
  return {
    size,
    read: async (offset, length) => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      if (bytesRead !== length) throw new Error(`short read at ${offset}`);
      return buffer;
    },
    close: () => handle.close(),
  };
}

/** A disk held in memory (for fuzzing and synthetic tables). */
export function memoryReader(bytes: Uint8Array): ReadAt {
  return async (offset, length) => {
    if (offset < 0 || offset + length > bytes.length)
      throw new Error(`read ${offset}+${length} past ${bytes.length}`);
    return bytes.slice(offset, offset + length);
  };
}

// ---- Debian tools ------------------------------------------------------------------------------

export const NTFS_TOOLS = [
  "mkntfs",
  "ntfscp",
  "ntfsinfo",
  "ntfsls",
  "ntfscat",
  "ntfs-3g",
  "sfdisk",
  "sgdisk",
];

/** Tools the integration tests need that are not installed (see .ci/apt-packages.txt). */
export function missingTools(tools = NTFS_TOOLS): string[] {
  return tools.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
}

export async function run(cmd: string, args: readonly string[], input?: string): Promise<string> {
  if (input === undefined) return (await exec(cmd, [...args], { maxBuffer: 64 << 20 })).stdout;
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, [...args], { maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
      error === null
        ? resolve(stdout)
        : reject(new Error(`${cmd} ${args.join(" ")}: ${stderr}`, { cause: error })),
    );
    child.stdin?.end(input);
  });
}

/** Formats `file` as NTFS for a partition starting at `startSector` (mkntfs has no offset option). */
export async function mkntfs(file: string, startSector: number, label: string): Promise<void> {
  await run("mkntfs", [
    "-F",
    "-Q",
    "-q",
    "-L",
    label,
    "-p",
    String(startSector),
    "-H",
    "255",
    "-S",
    "63",
    file,
  ]);
}

const ZERO_MIB = Buffer.alloc(1 << 20);

/** Copies the non-zero 1 MiB blocks of `part` into `disk` at byte `offset` (like dd conv=notrunc,sparse). */
export async function placeVolume(disk: string, part: string, offset: number): Promise<void> {
  const src = await open(part, "r");
  const dst = await open(disk, "r+");
  try {
    const buffer = Buffer.alloc(1 << 20);
    for (let pos = 0; ; pos += buffer.length) {
      const { bytesRead } = await src.read(buffer, 0, buffer.length, pos);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      if (!chunk.equals(ZERO_MIB.subarray(0, bytesRead))) await dst.write(chunk, 0, bytesRead, offset + pos);
    }
  } finally {
    await src.close();
    await dst.close();
  }
}

/**
 * Makes `disk` (of `diskSize` bytes) from the partition image `part`, placed at byte `offset`, and
 * consumes `part`. Where the file system can insert a hole (fallocate --insert-range on ext4/xfs)
 * nothing is copied, which keeps a 1 GiB image cheap; elsewhere the non-zero blocks are copied.
 */
export async function assembleDisk(
  part: string,
  disk: string,
  offset: number,
  diskSize: number,
): Promise<void> {
  try {
    await run("fallocate", ["--insert-range", "--offset", "0", "--length", String(offset), part]);
    await rename(part, disk);
  } catch {
    const h = await open(disk, "w");
    await h.close();
    await placeVolume(disk, part, offset);
    await rm(part, { force: true });
  }
  await truncate(disk, diskSize);
}

/** Copies bytes [offset, offset+length) of `disk` into a new sparse file (ntfs-3g's tools want a volume). */
export async function extractVolume(
  disk: string,
  offset: number,
  length: number,
  target: string,
): Promise<void> {
  const src = await open(disk, "r");
  const dst = await open(target, "w");
  try {
    await dst.truncate(length);
    const buffer = Buffer.alloc(1 << 20);
    for (let pos = 0; pos < length; pos += buffer.length) {
      const want = Math.min(buffer.length, length - pos);
      const { bytesRead } = await src.read(buffer, 0, want, offset + pos);
      const chunk = buffer.subarray(0, bytesRead);
      if (!chunk.equals(ZERO_MIB.subarray(0, bytesRead))) await dst.write(chunk, 0, bytesRead, pos);
    }
  } finally {
    await src.close();
    await dst.close();
  }
}

/** Why the ntfs-3g FUSE mount cannot be used here, or undefined when it can. */
export async function fuseUnavailable(scratch: string): Promise<string | undefined> {
  const missing = missingTools(["ntfs-3g", "mkntfs"]);
  if (missing.length > 0) return `missing ${missing.join(", ")}`;
  const image = join(scratch, "fuse-probe.img");
  const mnt = join(scratch, "fuse-probe");
  try {
    await mkdir(mnt, { recursive: true });
    const h = await open(image, "w");
    await h.truncate(8 << 20);
    await h.close();
    await run("mkntfs", ["-F", "-Q", "-q", image]);
    await withNtfsMount(image, mnt, async () => undefined);
    return undefined;
  } catch (e) {
    return `ntfs-3g FUSE mount failed: ${(e as Error).message.split("\n")[0]}`;
  } finally {
    await rm(image, { force: true });
  }
}

/** Unmounts a FUSE mount with whichever tool this machine has (fuse3 names it fusermount3). */
async function unmount(mnt: string): Promise<void> {
  const tool = ["fusermount3", "fusermount"].find((t) => missingTools([t]).length === 0);
  await (tool === undefined ? run("umount", [mnt]) : run(tool, ["-u", mnt]));
}

/**
 * Mounts the NTFS volume in `file` with ntfs-3g (FUSE), runs `fn`, and always unmounts. ntfs-3g
 * runs in the foreground (no_detach) so we can wait for it to exit: it flushes the volume after the
 * unmount returns, and reading the image before then would race with its last writes.
 */
export async function withNtfsMount<T>(
  file: string,
  mnt: string,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  await mkdir(mnt, { recursive: true });
  const parent = (await stat(dirname(mnt))).dev;
  const child = spawn("ntfs-3g", ["-o", "no_detach,big_writes", file, mnt], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  const deadline = Date.now() + 20_000;
  while ((await stat(mnt)).dev === parent) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill();
      throw new Error(`ntfs-3g did not mount ${file}: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  try {
    return await fn(mnt);
  } finally {
    await unmount(mnt);
    await exited;
  }
}

/** Writes `size` random bytes to `path` in 4 MiB writes (fast through FUSE). */
export async function writeRandomFile(path: string, size: number): Promise<void> {
  const handle = await open(path, "w");
  try {
    const buffer = Buffer.alloc(Math.min(size, 4 << 20));
    for (let pos = 0; pos < size; pos += buffer.length) {
      const n = Math.min(buffer.length, size - pos);
      randomFillSync(buffer, 0, n);
      await handle.write(buffer, 0, n, pos);
    }
  } finally {
    await handle.close();
  }
}

export interface NtfsinfoFacts {
  readonly clusterSize: number;
  readonly clusters: number;
  readonly free: number;
  readonly used: number;
}

/** `ntfsinfo -m`: cluster size, volume clusters and free clusters (used = clusters − free). */
export async function ntfsinfo(volume: string): Promise<NtfsinfoFacts> {
  const text = await run("ntfsinfo", ["-m", volume]);
  const num = (label: string) => {
    const m = new RegExp(`${label}:\\s*(\\d+)`).exec(text);
    if (m === null) throw new Error(`ntfsinfo printed no "${label}":\n${text}`);
    return Number(m[1]);
  };
  const clusters = num("Volume Size in Clusters");
  const free = num("Free Clusters");
  return { clusterSize: num("Cluster Size"), clusters, free, used: clusters - free };
}

export interface SfdiskPartition {
  readonly node: string;
  readonly start: number;
  readonly size: number;
  readonly type: string;
  readonly name?: string;
  readonly uuid?: string;
}

export async function sfdiskJson(
  disk: string,
): Promise<{ label: string; id: string; sectorsize: number; partitions: SfdiskPartition[] }> {
  const text = await run("sfdisk", ["--json", disk]);
  return (
    JSON.parse(text) as {
      partitiontable: { label: string; id: string; sectorsize: number; partitions: SfdiskPartition[] };
    }
  ).partitiontable;
}

/** Every regular file of a volume (paths from `ntfsls -R -p`), with the SHA-256 `ntfscat` reads. */
export async function ntfsFileHashes(volume: string): Promise<Map<string, string>> {
  // `ntfsls -R -F` prints "/dir/:" headers, then one name per line; directories end in "/".
  const listing = await run("ntfsls", ["-R", "-F", "-p", "/", volume]);
  const hashes = new Map<string, string>();
  let dir = "/";
  for (const line of listing.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("/") && line.endsWith(":")) {
      dir = line.slice(0, -1);
      continue;
    }
    if (line.endsWith("/") || line.startsWith("$")) continue;
    const path = `${dir}${dir.endsWith("/") ? "" : "/"}${line}`;
    const content = await new Promise<Buffer>((resolve, reject) =>
      execFile("ntfscat", [volume, path], { encoding: "buffer", maxBuffer: 1 << 30 }, (error, stdout) =>
        error === null ? resolve(stdout) : reject(error),
      ),
    );
    hashes.set(path, createHash("sha256").update(content).digest("hex"));
  }
  return hashes;
}
