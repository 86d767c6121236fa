/**
 * The agent's local durable state as one JSON file per key in a directory. Each write goes to a temp
 * file that is fsynced, renamed over the old file and made durable with a directory fsync, so after
 * a crash a reader sees the old value or the new one. This state only speeds things up (the
 * repository is the truth about what is committed), which is why a damaged file is reported with
 * the advice to delete it rather than repaired.
 */

import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { LifeboatError } from "../../domain/errors.ts";
import type { StateStore } from "../../ports/state-store.ts";
import { errnoOf, fsyncDir, ioError, sweepStaleTemps } from "../store-fs/fs-io.ts";

/** A key is a plain file name: no separators, no leading dot (reserved for temp files), no surprises. */
const STATE_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SUFFIX = ".json";
/** Temp files are hidden names no key can produce: `.<key>.<random>.tmp`. */
const isTempName = (name: string): boolean => name.startsWith(".") && name.endsWith(".tmp");
const STALE_TEMP_AGE_MS = 60 * 60 * 1000;

/** Throws USAGE unless `key` can name a state entry (shared with the memory state store). */
export function assertStateKey(key: string): void {
  if (!STATE_KEY.test(key) || key.endsWith(".")) {
    throw new LifeboatError("USAGE", `invalid state key ${JSON.stringify(key)}: use letters, digits, . _ -`, {
      remedy: "This is a bug in Lifeboat; report it with the log.",
    });
  }
}

/** Serialises a state value, refusing what JSON cannot represent faithfully. */
export function encodeState(key: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new LifeboatError("INTERNAL", `state "${key}" cannot be stored as JSON`, { cause: e });
  }
  if (text === undefined)
    throw new LifeboatError("INTERNAL", `state "${key}" has no JSON form (${typeof value})`);
  return text;
}

export class FsStateStore implements StateStore {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Opens the state directory, creating it if needed, and sweeps temp files of crashed writers. */
  static async open(dir: string): Promise<FsStateStore> {
    const abs = resolve(dir);
    try {
      await mkdir(abs, { recursive: true });
    } catch (e) {
      throw stateIoError("create state directory", abs, e);
    }
    await sweepStaleTemps(abs, Date.now() - STALE_TEMP_AGE_MS, isTempName);
    return new FsStateStore(abs);
  }

  /** The stored value, or undefined. The value is returned as parsed; callers validate its shape. */
  async read<T>(key: string): Promise<T | undefined> {
    assertStateKey(key);
    const path = this.#path(key);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (e) {
      if (errnoOf(e) === "ENOENT") return undefined;
      throw stateIoError("read state file", path, e);
    }
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new LifeboatError("CONFIG_INVALID", `state file ${path} is corrupt: ${(e as Error).message}`, {
        cause: e,
        remedy: `Delete ${path} to start over; nothing in the repository is lost, the next run rebuilds it.`,
      });
    }
  }

  async write(key: string, value: unknown): Promise<void> {
    assertStateKey(key);
    const text = encodeState(key, value);
    const path = this.#path(key);
    const temp = join(this.dir, `.${key}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      await writeDurably(temp, text);
      await rename(temp, path);
      await fsyncDir(this.dir);
    } catch (e) {
      await unlink(temp).catch(() => undefined); // best effort; open() sweeps leftovers
      throw stateIoError("write state file", path, e);
    }
  }

  async delete(key: string): Promise<void> {
    assertStateKey(key);
    const path = this.#path(key);
    try {
      await unlink(path);
      await fsyncDir(this.dir);
    } catch (e) {
      if (errnoOf(e) === "ENOENT") return;
      throw stateIoError("delete state file", path, e);
    }
  }

  #path(key: string): string {
    return join(this.dir, key + SUFFIX);
  }
}

async function writeDurably(path: string, text: string): Promise<void> {
  await using handle = await open(path, "wx");
  await handle.writeFile(text, "utf8");
  await handle.sync();
}

/** Like ioError, but the remedy points at the local state directory rather than the repository. */
function stateIoError(what: string, path: string, e: unknown): LifeboatError {
  const error = ioError(what, path, e);
  return new LifeboatError(error.code, error.message, {
    cause: e,
    remedy: `Check the local state directory holding ${path} (space, permissions) and retry.`,
  });
}
