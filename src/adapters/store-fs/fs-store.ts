/**
 * The embedded default repository: an ObjectStore over a local (or mounted) directory, one file per
 * object at its key's path.
 *
 * Crash safety: an object is written to a temp file in `<root>/.tmp/` (same file system), fsynced,
 * then published under its name with one atomic step — `link()` for create-only puts (fails with
 * EEXIST if the name is taken, so two writers can never both "create"), `rename()` otherwise — and
 * the parent directory is fsynced so the name survives a power cut. A crash at any moment leaves
 * either no object or the whole object; at worst an orphan temp file, which `open()` sweeps once it
 * is old enough that no live writer can still own it.
 */

import { randomUUID } from "node:crypto";
import type { Stats } from "node:fs";
import { link, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { LifeboatError } from "../../domain/errors.ts";
import type { ByteRange, ObjectStore } from "../../ports/object-store.ts";
import { errnoOf, fsyncDir, ioError, sweepStaleTemps } from "./fs-io.ts";
import { objectPath, walkObjects } from "./fs-list.ts";
import {
  assertByteRange,
  assertKeyPrefix,
  assertObjectKey,
  objectMissing,
  shortObject,
} from "./object-key.ts";

export interface FsStoreOptions {
  /**
   * A temp file older than this is an orphan of a crashed writer and is deleted by `open()`. Safety
   * margin: no live put holds a temp file anywhere near this long.
   */
  readonly staleTempAgeMs?: number;
  /** Wall-clock time for the sweep; injected so tests can age temp files. */
  readonly now?: () => number;
}

const TEMP_DIR = ".tmp";
const DEFAULT_STALE_TEMP_AGE_MS = 60 * 60 * 1000;
/** Errors from link() that mean "this file system has no hard links" (FAT, exFAT, some SMB mounts). */
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);

export class FsStore implements ObjectStore {
  readonly root: string;
  readonly #tempDir: string;
  /**
   * Directories this process has created or fsynced the parent of. The first put into a directory
   * fsyncs its parent even if the directory already existed, because a concurrent writer may have
   * created it without having fsynced yet; after that the entry is known durable.
   */
  readonly #durableDirs = new Map<string, Promise<void>>();

  private constructor(root: string) {
    this.root = root;
    this.#tempDir = join(root, TEMP_DIR);
  }

  /** Creates the directory (and parents) if needed and opens it. */
  static async create(root: string, options: FsStoreOptions = {}): Promise<FsStore> {
    const abs = resolve(root);
    try {
      await mkdir(join(abs, TEMP_DIR), { recursive: true });
      await fsyncDir(abs);
      await fsyncDir(dirname(abs));
    } catch (e) {
      throw ioError("create repository directory", abs, e);
    }
    return FsStore.open(abs, options);
  }

  /**
   * Opens an existing directory (REPO_NOT_FOUND if it is missing) and sweeps orphan temp files.
   * Whether it holds a repository is for the repository layer to decide (`head("lifeboat.json")`).
   */
  static async open(root: string, options: FsStoreOptions = {}): Promise<FsStore> {
    const abs = resolve(root);
    let isDir: boolean;
    try {
      isDir = (await stat(abs)).isDirectory();
    } catch (e) {
      const code = errnoOf(e);
      if (code === "ENOENT" || code === "ENOTDIR") {
        throw new LifeboatError("REPO_NOT_FOUND", `repository directory ${abs} does not exist`, { cause: e });
      }
      throw ioError("open repository directory", abs, e);
    }
    if (!isDir) throw new LifeboatError("REPO_NOT_FOUND", `repository path ${abs} is not a directory`);
    const now = options.now ?? Date.now;
    await sweepStaleTemps(join(abs, TEMP_DIR), now() - (options.staleTempAgeMs ?? DEFAULT_STALE_TEMP_AGE_MS));
    return new FsStore(abs);
  }

  async put(key: string, data: Uint8Array, options?: { ifAbsent?: boolean }): Promise<"created" | "exists"> {
    assertObjectKey(key);
    const target = this.#path(key);
    // Cheap early answer for the common dedup case (the chunk is already stored): skips a write and
    // an fsync. Not the decision itself — link() below is.
    if (options?.ifAbsent && (await this.#isFile(target, key, "put"))) return "exists";

    const temp = await this.#writeTemp(key, data);
    try {
      await this.#ensureDir(parentKey(key), key);
      if (options?.ifAbsent) {
        if ((await this.#publish(() => link(temp, target), key)) === "exists") {
          // `return await`, not `return`: the finally below must not run ahead of the rejection.
          return await this.#existingObject(target, key);
        }
      } else {
        await this.#publish(() => rename(temp, target), key);
      }
      await this.#syncDir(dirname(target), key);
      return "created";
    } finally {
      // After link() the temp name is redundant; after a failure it is garbage. An unlink failure is
      // not the put's failure: open() sweeps whatever is left.
      await unlink(temp).catch(() => undefined);
    }
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    assertObjectKey(key);
    if (range !== undefined) assertByteRange(key, range);
    const path = this.#path(key);
    try {
      await using handle = await open(path, "r");
      if (range === undefined) return asPlain(await handle.readFile());
      const out = new Uint8Array(range.length);
      let filled = 0;
      while (filled < range.length) {
        const { bytesRead } = await handle.read(out, filled, range.length - filled, range.offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      // An empty range needs the size check too: offset past the end is as wrong as a long range.
      if (filled < range.length || range.length === 0) {
        const { size } = await handle.stat();
        if (range.offset + range.length > size) throw shortObject(key, range, size);
      }
      return out;
    } catch (e) {
      if (e instanceof LifeboatError) throw e;
      // EISDIR/ENOTDIR: the name is a directory, or a path component is a file — no such object.
      if (["ENOENT", "EISDIR", "ENOTDIR"].includes(errnoOf(e) ?? "")) throw objectMissing(key, this.root, e);
      throw ioError(`get "${key}" from`, this.root, e);
    }
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    assertObjectKey(key);
    const stats = await this.#stat(this.#path(key), key, "head");
    return stats?.isFile() ? { size: stats.size } : undefined;
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size: number }> {
    assertKeyPrefix(prefix);
    const slash = prefix.lastIndexOf("/");
    yield* walkObjects(this.root, slash < 0 ? "" : prefix.slice(0, slash), prefix.slice(slash + 1));
  }

  /**
   * Not followed by a directory fsync: a delete that a power cut undoes only brings back an object
   * that was on its way out, and every deleter (GC, lease release) copes by running again — while an
   * fsync per object would make a GC of many chunks crawl.
   */
  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    const path = this.#path(key);
    try {
      // A directory at the name is not an object, so there is nothing to delete (unlink would fail).
      if ((await this.#stat(path, key, "delete"))?.isFile() !== true) return;
      await unlink(path);
    } catch (e) {
      if (errnoOf(e) === "ENOENT") return;
      if (e instanceof LifeboatError) throw e;
      throw ioError(`delete "${key}" from`, this.root, e);
    }
  }

  async #writeTemp(key: string, data: Uint8Array): Promise<string> {
    const temp = join(this.#tempDir, `${randomUUID()}.tmp`);
    try {
      await this.#writeAndSync(temp, data);
    } catch (e) {
      await unlink(temp).catch(() => undefined);
      if (errnoOf(e) !== "ENOENT") throw ioError(`put "${key}" into`, this.root, e);
      // Someone removed `.tmp` (an operator cleaning up): recreate it once.
      try {
        await mkdir(this.#tempDir, { recursive: true });
        await this.#writeAndSync(temp, data);
      } catch (again) {
        await unlink(temp).catch(() => undefined);
        throw ioError(`put "${key}" into`, this.root, again);
      }
    }
    return temp;
  }

  async #writeAndSync(path: string, data: Uint8Array): Promise<void> {
    await using handle = await open(path, "wx");
    await handle.writeFile(data);
    await handle.sync();
  }

  /** A create-only put found the name taken: "exists", unless it is taken by something not an object. */
  async #existingObject(target: string, key: string): Promise<"exists"> {
    if (await this.#isFile(target, key, "put")) return "exists";
    // Answering "exists" would make the caller believe an object it never wrote is stored.
    throw new LifeboatError("STORE_IO", `put "${key}" into ${this.root}: the name is taken by a directory`);
  }

  /**
   * Runs the step that publishes a temp file under its name. EEXIST (link() found the name taken)
   * is an answer, not an error. If the parent directory vanished (an operator tidying up), it is
   * recreated once.
   */
  async #publish(step: () => Promise<void>, key: string, retried = false): Promise<"done" | "exists"> {
    try {
      await step();
      return "done";
    } catch (e) {
      const code = errnoOf(e);
      if (code === "EEXIST") return "exists";
      if (code === "ENOENT" && !retried) {
        // Any cached directory may be the one that went: forget them all (they are cheap to redo).
        this.#durableDirs.clear();
        await this.#ensureDir(parentKey(key), key);
        return this.#publish(step, key, true);
      }
      if (code !== undefined && NO_HARD_LINKS.has(code)) {
        throw new LifeboatError(
          "STORE_IO",
          `put "${key}" into ${this.root}: the file system refused a hard link (${code}), which create-only writes need`,
          {
            cause: e,
            remedy:
              "Keep the repository on a file system with hard links (ext4, XFS, Btrfs, ZFS, NTFS, APFS).",
          },
        );
      }
      throw ioError(`put "${key}" into`, this.root, e);
    }
  }

  /** Makes `dirKey` exist with a durable entry in its parent, once per directory per process. */
  #ensureDir(dirKey: string, key: string): Promise<void> {
    if (dirKey === "") return Promise.resolve();
    let pending = this.#durableDirs.get(dirKey);
    if (pending === undefined) {
      pending = this.#createDir(dirKey, key);
      // A failure must not be cached: the next put retries.
      pending.catch(() => this.#durableDirs.delete(dirKey));
      this.#durableDirs.set(dirKey, pending);
    }
    return pending;
  }

  async #createDir(dirKey: string, key: string): Promise<void> {
    await this.#ensureDir(parentKey(dirKey), key);
    try {
      await mkdir(this.#path(dirKey));
    } catch (e) {
      if (errnoOf(e) !== "EEXIST") throw ioError(`put "${key}" into`, this.root, e);
    }
    await this.#syncDir(dirname(this.#path(dirKey)), key);
  }

  async #syncDir(dir: string, key: string): Promise<void> {
    try {
      await fsyncDir(dir);
    } catch (e) {
      throw ioError(`sync directory of "${key}" in`, this.root, e);
    }
  }

  async #isFile(path: string, key: string, op: string): Promise<boolean> {
    return (await this.#stat(path, key, op))?.isFile() === true;
  }

  /** stat() that answers undefined for a missing name instead of throwing. */
  async #stat(path: string, key: string, op: string): Promise<Stats | undefined> {
    try {
      return await stat(path);
    } catch (e) {
      // ENOENT also covers a dangling symlink; ENOTDIR a path component that is a file.
      if (["ENOENT", "ENOTDIR"].includes(errnoOf(e) ?? "")) return undefined;
      throw ioError(`${op} "${key}" in`, this.root, e);
    }
  }

  #path(key: string): string {
    return objectPath(this.root, key);
  }
}

/** The key of the directory holding `key` ("" for the root). */
function parentKey(key: string): string {
  return key.slice(0, Math.max(0, key.lastIndexOf("/")));
}

/** Hands out a plain Uint8Array view so callers cannot come to rely on Buffer-only methods. */
function asPlain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
