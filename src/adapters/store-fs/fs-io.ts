/**
 * File-system primitives for durable writes, shared by the file object store and the file state
 * store: errno mapping to LifeboatErrors, directory fsync and the sweep of orphan temp files.
 */

import { open, readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { LifeboatError } from "../../domain/errors.ts";

/** The errno code (`ENOENT`…) of a Node system error, if it is one. */
export function errnoOf(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null || !("code" in e)) return undefined;
  return typeof e.code === "string" ? e.code : undefined;
}

/**
 * A LifeboatError for a failed file-system call: STORE_FULL when the disk or quota is exhausted
 * (the operator must free space; retrying cannot help), STORE_IO otherwise. The errno stays on
 * `cause`, where the retry policy looks for transient codes.
 */
export function ioError(what: string, where: string, e: unknown): LifeboatError {
  const code = errnoOf(e);
  const detail = e instanceof Error ? e.message : String(e);
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new LifeboatError("STORE_FULL", `${what} ${where}: no space left (${code})`, { cause: e });
  }
  return new LifeboatError("STORE_IO", `${what} ${where}: ${detail}`, { cause: e });
}

/**
 * fsync a directory so that names created, renamed or removed in it survive a power cut. Windows
 * cannot open a directory for fsync; NTFS journals its metadata, so there is nothing to do there.
 */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === "win32") return;
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Errors that mean the sweep may not delete: the directory is on read-only media. */
const READ_ONLY = new Set(["EROFS", "EACCES", "EPERM"]);

/**
 * Deletes the files in `dir` whose names satisfy `isTemp` and whose last modification is before
 * `cutoffMs`: temp files of writers that crashed. A live writer touches its temp file within
 * milliseconds, so the cutoff spares every in-use file. Returns how many were deleted.
 *
 * Restoring from a read-only copy of a repository is supported, so a sweep that is refused
 * permission stops quietly; any other failure is an I/O error.
 */
export async function sweepStaleTemps(
  dir: string,
  cutoffMs: number,
  isTemp: (name: string) => boolean = () => true,
): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (errnoOf(e) === "ENOENT") return 0;
    throw ioError("sweep temp files in", dir, e);
  }
  let swept = 0;
  for (const name of names) {
    if (!isTemp(name)) continue;
    const path = join(dir, name);
    try {
      const stats = await stat(path);
      if (!stats.isFile() || stats.mtimeMs >= cutoffMs) continue;
      await unlink(path);
      swept++;
    } catch (e) {
      const code = errnoOf(e) ?? "";
      if (code === "ENOENT") continue; // another process swept it first
      if (READ_ONLY.has(code)) return swept;
      throw ioError("sweep temp file", path, e);
    }
  }
  return swept;
}
