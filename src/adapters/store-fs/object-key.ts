/**
 * The key and range rules every ObjectStore enforces, so that a key accepted by one store is accepted
 * by all of them and maps to the same object on each (a repository can be copied between a
 * directory and a bucket). Shared by store-fs, store-memory and store-s3.
 */

import { LifeboatError } from "../../domain/errors.ts";
import type { ByteRange } from "../../ports/object-store.ts";

/** S3's key limit; a longer key could be written to a directory but never copied to a bucket. */
export const MAX_KEY_LENGTH = 1024;
/** The usual file-name limit (ext4, XFS, NTFS, APFS). */
export const MAX_SEGMENT_LENGTH = 255;

// Printable ASCII without space, and without the characters Windows refuses in file names (a `:`
// would even silently create an NTFS alternate data stream). Backslash is a separator on Windows.
const SEGMENT_CHARS = /^[!#-)+-.0-9;=@-[\]-{}~]+$/;
const PREFIX_CHARS = /^[!#-)+-9;=@-[\]-{}~]*$/;

/**
 * Why `segment` cannot be one segment of a key, or undefined if it can. A leading dot is refused so
 * that `.` and `..` cannot escape the store and store-private names (the file store's `.tmp`)
 * never collide with keys; a trailing dot because Windows strips it (`a.` and `a` would collide).
 */
export function segmentProblem(segment: string): string | undefined {
  if (segment === "") return "empty segment";
  if (segment.length > MAX_SEGMENT_LENGTH) return `segment longer than ${MAX_SEGMENT_LENGTH} characters`;
  if (!SEGMENT_CHARS.test(segment)) {
    return 'characters outside printable ASCII, or one of space \\ < > : " | ? *';
  }
  if (segment.startsWith(".")) return 'segment starting with "."';
  if (segment.endsWith(".")) return 'segment ending with "."';
  return undefined;
}

/** Throws USAGE unless `key` is a valid object key (relative, `/`-separated, see segmentProblem). */
export function assertObjectKey(key: string): void {
  if (typeof key !== "string" || key.length === 0) throw invalidKey(String(key), "empty key");
  if (key.length > MAX_KEY_LENGTH) throw invalidKey(key, `longer than ${MAX_KEY_LENGTH} characters`);
  for (const segment of key.split("/")) {
    const problem = segmentProblem(segment);
    if (problem !== undefined) throw invalidKey(key, problem);
  }
}

/**
 * Throws USAGE unless `prefix` is a valid list prefix: empty, a key followed by `/`, or a key whose
 * last segment is cut short (`chunks/a` lists `chunks/ab/…` and `chunks/a1`).
 */
export function assertKeyPrefix(prefix: string): void {
  if (prefix === "") return;
  if (prefix.length > MAX_KEY_LENGTH || !PREFIX_CHARS.test(prefix)) {
    throw invalidKey(prefix, "not a valid key prefix", "prefix");
  }
  const segments = prefix.split("/");
  const last = segments.pop() ?? "";
  for (const segment of segments) {
    const problem = segmentProblem(segment);
    if (problem !== undefined) throw invalidKey(prefix, problem, "prefix");
  }
  if (last === "." || last === "..") throw invalidKey(prefix, `"${last}" segment`, "prefix");
}

/** Throws USAGE unless the range is a pair of non-negative safe integers. */
export function assertByteRange(key: string, range: ByteRange): void {
  const { offset, length } = range;
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new LifeboatError(
      "USAGE",
      `invalid byte range {offset: ${offset}, length: ${length}} for object "${key}"`,
      { remedy: "This is a bug in Lifeboat; report it with the log." },
    );
  }
}

/** The error for a range that runs past the end of an object: it is shorter than its reference says. */
export function shortObject(key: string, range: ByteRange, size: number): LifeboatError {
  return new LifeboatError(
    "OBJECT_CORRUPT",
    `short object "${key}": range ${range.offset}+${range.length} runs past its end (${size} bytes)`,
  );
}

/** The error for a key that does not exist. */
export function objectMissing(key: string, where: string, cause?: unknown): LifeboatError {
  return new LifeboatError("OBJECT_MISSING", `object "${key}" does not exist in ${where}`, { cause });
}

function invalidKey(key: string, problem: string, what = "key"): LifeboatError {
  // Keys are built by Lifeboat itself, so a bad one is a bug (or a hostile path) — never a user typo.
  return new LifeboatError("USAGE", `invalid object ${what} ${JSON.stringify(key)}: ${problem}`, {
    remedy: "This is a bug in Lifeboat; report it with the log.",
  });
}
