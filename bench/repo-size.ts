/** What a repository occupies on disk: bytes, objects (files) and the bytes of its index/metadata. */

import { open, readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";

export interface RepoUsage {
  readonly bytes: number;
  readonly objects: number;
  /** Bytes of metadata the tool must read to find data: manifests, indexes, snapshots. */
  readonly indexBytes: number;
}

export type Tool = "lifeboat" | "restic" | "borg";

export const EMPTY_USAGE: RepoUsage = { bytes: 0, objects: 0, indexBytes: 0 };

/** Sums every regular file under `root`; `tool` decides which of them count as index/metadata. */
export async function repoUsage(root: string, tool: Tool): Promise<RepoUsage> {
  let bytes = 0;
  let objects = 0;
  let indexBytes = 0;
  for (const path of await files(root)) {
    const size = (await stat(path)).size;
    bytes += size;
    objects++;
    indexBytes += await indexShare(tool, relative(root, path).split(sep), path, size);
  }
  return { bytes, objects, indexBytes };
}

export async function directoryBytes(root: string): Promise<number> {
  let bytes = 0;
  for (const path of await files(root)) bytes += (await stat(path)).size;
  return bytes;
}

async function files(root: string): Promise<string[]> {
  try {
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  } catch (e) {
    // A repository or cache a tool has not created yet occupies nothing.
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}

/**
 * Lifeboat: disk manifests and point records, plus the sealed index at the tail of every pack.
 * restic: index/ and snapshots/ (its tree blobs sit inside data packs and are not counted).
 * borg: the repository index and hints files (its archive metadata sits inside segments).
 */
async function indexShare(tool: Tool, parts: readonly string[], path: string, size: number): Promise<number> {
  const top = parts[0] ?? "";
  const name = parts[parts.length - 1] ?? "";
  switch (tool) {
    case "lifeboat":
      if (top === "disks" || top === "points") return size;
      if (top === "packs") return packIndexBytes(path, size);
      return 0;
    case "restic":
      return top === "index" || top === "snapshots" ? size : 0;
    case "borg":
      return /^(index|hints|integrity)\.\d+$/.test(name) ? size : 0;
  }
}

/** A Lifeboat pack ends with the sealed index, its u32 LE length and "LBP1" (docs/repository-format.md). */
async function packIndexBytes(path: string, size: number): Promise<number> {
  if (size < 8) return 0;
  const handle = await open(path, "r");
  try {
    const tail = Buffer.alloc(8);
    await handle.read(tail, 0, 8, size - 8);
    if (tail.toString("latin1", 4) !== "LBP1") return 0;
    return tail.readUInt32LE(0) + 8;
  } finally {
    await handle.close();
  }
}
