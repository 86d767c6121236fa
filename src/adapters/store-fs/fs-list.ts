/**
 * Listing a file store: a walk of the directory tree that yields objects in ascending key order
 * while holding only one directory's entries per level in memory.
 */

import type { Dirent, Stats } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { errnoOf, ioError } from "./fs-io.ts";
import { segmentProblem } from "./object-key.ts";

/** The file of `key` under `root` (keys are validated before they get here). */
export function objectPath(root: string, key: string): string {
  return key === "" ? root : join(root, ...key.split("/"));
}

/**
 * Yields the objects under directory `dirKey` whose name starts with `namePrefix`, in key order.
 * Sorting each level by name with a `/` appended to directories gives global key order
 * (`a-b` < `a/…` < `a0`), because every key below directory `a` starts with `a/`.
 */
export async function* walkObjects(
  root: string,
  dirKey: string,
  namePrefix: string,
): AsyncGenerator<{ key: string; size: number }> {
  let entries: Dirent[];
  try {
    entries = await readdir(objectPath(root, dirKey), { withFileTypes: true });
  } catch (e) {
    if (["ENOENT", "ENOTDIR"].includes(errnoOf(e) ?? "")) return;
    throw ioError(`list "${dirKey}/" in`, root, e);
  }
  const children: { key: string; isDir: boolean; order: string }[] = [];
  for (const entry of entries) {
    // Names that are not valid key segments (`.tmp`, an operator's `.DS_Store`) are not objects:
    // they could never be read back through the store.
    if (!entry.name.startsWith(namePrefix) || segmentProblem(entry.name) !== undefined) continue;
    const key = dirKey === "" ? entry.name : `${dirKey}/${entry.name}`;
    const isDir = await isDirectoryEntry(root, entry, key);
    if (isDir === undefined) continue;
    children.push({ key, isDir, order: isDir ? `${entry.name}/` : entry.name });
  }
  children.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
  for (const { key, isDir } of children) {
    if (isDir) {
      yield* walkObjects(root, key, "");
      continue;
    }
    // Sizes are read as the walk reaches them, so an object deleted meanwhile is skipped.
    const stats = await statOrUndefined(root, key);
    if (stats?.isFile()) yield { key, size: stats.size };
  }
}

/** true for a directory, false for a file, undefined for anything else (sockets, broken links). */
async function isDirectoryEntry(root: string, entry: Dirent, key: string): Promise<boolean | undefined> {
  if (entry.isDirectory()) return true;
  if (entry.isFile()) return false;
  // An operator may symlink a subtree (say `chunks/`) to a bigger disk: follow links.
  if (!entry.isSymbolicLink()) return undefined;
  const stats = await statOrUndefined(root, key);
  if (stats?.isDirectory()) return true;
  return stats?.isFile() ? false : undefined;
}

async function statOrUndefined(root: string, key: string): Promise<Stats | undefined> {
  try {
    return await stat(objectPath(root, key));
  } catch (e) {
    if (["ENOENT", "ENOTDIR"].includes(errnoOf(e) ?? "")) return undefined;
    throw ioError(`list "${key}" in`, root, e);
  }
}
