/**
 * Object names in a repository (format v1, docs/repository-format.md). Every key a repository writes
 * is built here, so the layout lives in one place and every name is checked before it is used.
 */

import { SAFE_NAME } from "../../domain/disk.ts";
import { LifeboatError } from "../../domain/errors.ts";

export const CONFIG_KEY = "lifeboat.json";
export const KEYS_PREFIX = "keys/";
export const POINTS_PREFIX = "points/";
export const DISKS_PREFIX = "disks/";
export const PACKS_PREFIX = "packs/";
export const INDEX_PREFIX = "index/";
export const LOCKS_PREFIX = "locks/";
export const GC_PREFIX = "gc/";

/** The wrapped master key is stored twice; either copy opens the repository. */
export const KEY_COPIES = ["keys/0", "keys/1"] as const;

/** Sequence numbers are zero-padded to this width so that key order is numeric order. */
const SEQ_DIGITS = 10;
const MAX_SEQ = 10 ** SEQ_DIGITS - 1;
const PACK_ID = /^[0-9a-f]{32}$/;
const SEQ = /^\d{10}$/;

export function seqString(seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 1 || seq > MAX_SEQ) {
    throw bug(`sequence number ${seq} is outside 1…${MAX_SEQ}`);
  }
  return String(seq).padStart(SEQ_DIGITS, "0");
}

export function pointPrefix(source: string): string {
  return `${POINTS_PREFIX}${name("source", source)}/`;
}

export function pointKey(source: string, seq: number): string {
  return `${pointPrefix(source)}${seqString(seq)}`;
}

/** `points/<source>/<seq>` → its parts, or undefined if the key is not a point record's. */
export function parsePointKey(key: string): { source: string; seq: number } | undefined {
  const parts = key.split("/");
  if (parts.length !== 3 || `${parts[0]}/` !== POINTS_PREFIX) return undefined;
  const [, source, seq] = parts as [string, string, string];
  if (!SAFE_NAME.test(source) || !SEQ.test(seq) || Number(seq) < 1) return undefined;
  return { source, seq: Number(seq) };
}

/**
 * A checkpoint written by prune for a retained point whose delta chain ran through pruned points:
 * the point's complete map, so its chain stops here. One per (source, disk, seq), never rewritten.
 */
export function indexKey(source: string, disk: string, seq: number): string {
  return `${INDEX_PREFIX}${name("source", source)}/${name("disk", disk)}/${seqString(seq)}`;
}

/** The job id makes a retried job's manifest a different create-only object. */
export function manifestKey(source: string, disk: string, seq: number, jobId: string): string {
  return `${DISKS_PREFIX}${name("source", source)}/${name("disk", disk)}/${seqString(seq)}-${name("job", jobId)}`;
}

/** `disks/<source>/<disk>/<seq>-<jobId>` → its parts, or undefined. */
export function parseManifestKey(
  key: string,
): { source: string; disk: string; seq: number; jobId: string } | undefined {
  const parts = key.split("/");
  if (parts.length !== 4 || `${parts[0]}/` !== DISKS_PREFIX) return undefined;
  const [, source, disk, last] = parts as [string, string, string, string];
  const seq = last.slice(0, SEQ_DIGITS);
  const jobId = last.slice(SEQ_DIGITS + 1);
  if (!SAFE_NAME.test(source) || !SAFE_NAME.test(disk) || !SEQ.test(seq) || Number(seq) < 1) return undefined;
  if (last[SEQ_DIGITS] !== "-" || !SAFE_NAME.test(jobId)) return undefined;
  return { source, disk, seq: Number(seq), jobId };
}

export function isPackId(packId: string): boolean {
  return PACK_ID.test(packId);
}

export function packKey(packId: string): string {
  if (!isPackId(packId)) throw bug(`pack id ${JSON.stringify(packId)} is not 32 hex digits`);
  return `${PACKS_PREFIX}${packId.slice(0, 2)}/${packId}`;
}

/** `packs/<2 hex>/<pack id>` → the pack id, or undefined. */
export function parsePackKey(key: string): string | undefined {
  const parts = key.split("/");
  if (parts.length !== 3 || `${parts[0]}/` !== PACKS_PREFIX) return undefined;
  const [, fanout, packId] = parts as [string, string, string];
  return isPackId(packId) && packId.startsWith(fanout) && fanout.length === 2 ? packId : undefined;
}

/** The name a chunk blob is sealed under: binds the blob to its id wherever it is stored. */
export function chunkObjectName(id: Uint8Array): string {
  return `chunk/${Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("hex")}`;
}

/** The name a pack's index is sealed under: binds the index to its pack. */
export function packIndexObjectName(packId: string): string {
  return `packindex/${packId}`;
}

function name(kind: string, value: string): string {
  if (!SAFE_NAME.test(value))
    throw bug(`${kind} name ${JSON.stringify(value)} must match ${SAFE_NAME.source}`);
  return value;
}

function bug(message: string): LifeboatError {
  return new LifeboatError("USAGE", message, {
    remedy: "This is a bug in Lifeboat; report it with the log.",
  });
}
