/**
 * The binary form of a disk manifest (format v1, the payload inside its sealed envelope):
 *
 *   "LBM1" | u32 LE header length | header JSON | varint entry count | entries
 *   entry: varint gap | u8 tag | tag 1 only: id (32 bytes) | varint pack number | varint offset | varint length
 *
 * The header holds the scalar fields, the allocation maps and the pack table (`packs`: the pack ids
 * the entries name, by number, so a ~32-byte id is written once per pack instead of once per chunk).
 * `gap` is the index of the first entry, then the number of positions skipped since the previous one
 * (index − previous − 1), so a run of consecutive chunks costs one byte per entry for its position.
 * Tag 0 is an all-zero chunk (deltas only), tag 1 a stored chunk.
 *
 * Pure: no I/O. Decoding trusts nothing: anything out of place is OBJECT_CORRUPT naming the object.
 */

import { z } from "zod";
import { BlockMap, readVarint } from "../domain/block-map.ts";
import { SAFE_NAME } from "../domain/disk.ts";
import { LifeboatError } from "../domain/errors.ts";
import { type ChunkRef, chunkCount, type DiskManifest } from "../domain/manifest.ts";

const MAGIC = Buffer.from("LBM1", "latin1");
const ID_BYTES = 32;
const TAG_ZERO = 0;
const TAG_REF = 1;
/** Format v1 chunk sizes (lifeboat.json enforces the same bounds). */
const MIN_CHUNK_SIZE = 16 << 10;
const MAX_CHUNK_SIZE = 4 << 20;
/** A sealed chunk is at most its plaintext plus the envelope (≤ 49 bytes); leave a little room. */
const BLOB_OVERHEAD_MAX = 64;
/** Pack offsets are u32 (the pack trailer stores the index length as u32). */
const MAX_PACK_BYTES = 2 ** 32;
/** Worst-case bytes per entry: gap, tag, id, pack number, offset, length. */
const MAX_ENTRY_BYTES = 8 + 1 + ID_BYTES + 5 + 5 + 5;

const headerSchema = z
  .object({
    source: z.string().regex(SAFE_NAME),
    disk: z.string().regex(SAFE_NAME),
    seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    kind: z.enum(["checkpoint", "delta"]),
    baseSeq: z.number().int().min(1).nullable(),
    deltasSinceCheckpoint: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    capacity: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    chunkSize: z
      .number()
      .int()
      .min(MIN_CHUNK_SIZE)
      .max(MAX_CHUNK_SIZE)
      .refine((n) => (n & (n - 1)) === 0, "must be a power of two"),
    allocated: z.string().base64(),
    partial: z.string().base64(),
    packs: z.array(z.string().regex(/^[0-9a-f]{32}$/)),
  })
  .strict()
  .superRefine((h, ctx) => {
    const checkpoint = h.kind === "checkpoint";
    if (checkpoint && (h.baseSeq !== null || h.deltasSinceCheckpoint !== 0)) {
      ctx.addIssue({ code: "custom", message: "a checkpoint has no base and deltasSinceCheckpoint 0" });
    }
    if (!checkpoint && (h.baseSeq === null || h.baseSeq >= h.seq || h.deltasSinceCheckpoint < 1)) {
      ctx.addIssue({
        code: "custom",
        message: "a delta needs an earlier baseSeq and deltasSinceCheckpoint ≥ 1",
      });
    }
    if (new Set(h.packs).size !== h.packs.length)
      ctx.addIssue({ code: "custom", message: "duplicate pack ids" });
  });

export function encodeManifest(manifest: DiskManifest): Uint8Array {
  const chunks = chunkCount(manifest.capacity, manifest.chunkSize);
  const packNumbers = new Map<string, number>();
  let previous = -1;
  let sorted = true;
  for (const [index, ref] of manifest.entries) {
    if (!Number.isSafeInteger(index) || index < 0 || index >= chunks) {
      throw new RangeError(`manifest entry ${index} outside a disk of ${chunks} chunks`);
    }
    if (index <= previous) sorted = false;
    previous = index;
    if (ref === null) {
      if (manifest.kind === "checkpoint") throw new RangeError(`checkpoint entry ${index} is a zero chunk`);
    } else if (!packNumbers.has(ref.pack)) {
      packNumbers.set(ref.pack, packNumbers.size);
    }
  }
  const entries = sorted ? [...manifest.entries] : [...manifest.entries].sort((a, b) => a[0] - b[0]);
  const header = Buffer.from(
    JSON.stringify({
      source: manifest.source,
      disk: manifest.disk,
      seq: manifest.seq,
      kind: manifest.kind,
      baseSeq: manifest.baseSeq,
      deltasSinceCheckpoint: manifest.deltasSinceCheckpoint,
      capacity: manifest.capacity,
      chunkSize: manifest.chunkSize,
      allocated: Buffer.from(manifest.allocated.serialize()).toString("base64"),
      partial: Buffer.from(manifest.partial.serialize()).toString("base64"),
      packs: [...packNumbers.keys()],
    }),
    "utf8",
  );
  const out = Buffer.allocUnsafe(MAGIC.length + 4 + header.length + 8 + entries.length * MAX_ENTRY_BYTES);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(header.length, 4);
  header.copy(out, 8);
  let pos = putVarint(out, 8 + header.length, entries.length);
  previous = -1;
  for (const [index, ref] of entries) {
    if (index === previous) throw new RangeError(`manifest entry ${index} appears twice`);
    pos = putVarint(out, pos, index - previous - 1);
    previous = index;
    if (ref === null) {
      out[pos++] = TAG_ZERO;
      continue;
    }
    if (ref.id.length !== ID_BYTES)
      throw new RangeError(`chunk id of ${ref.id.length} bytes at entry ${index}`);
    out[pos++] = TAG_REF;
    out.set(ref.id, pos);
    pos += ID_BYTES;
    pos = putVarint(out, pos, packNumbers.get(ref.pack) as number);
    pos = putVarint(out, pos, ref.offset);
    pos = putVarint(out, pos, ref.length);
  }
  return out.subarray(0, pos);
}

/** Decodes and validates a manifest; `objectName` names it in errors. Ids are views into `bytes`. */
export function decodeManifest(bytes: Uint8Array, objectName: string): DiskManifest {
  const corrupt = (what: string, cause?: unknown) =>
    new LifeboatError("OBJECT_CORRUPT", `${objectName}: ${what}`, cause === undefined ? {} : { cause });
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 4).equals(MAGIC)) throw corrupt("not a disk manifest (bad magic)");
  const headerLength = buf.readUInt32LE(4);
  if (headerLength > buf.length - 8) throw corrupt("truncated manifest header");
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw corrupt("manifest header is not valid JSON", e);
  }
  const parsed = headerSchema.safeParse(json);
  if (!parsed.success) {
    throw corrupt(
      `invalid manifest header: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`,
    );
  }
  const h = parsed.data;
  const chunks = chunkCount(h.capacity, h.chunkSize);
  const allocated = blockMap(h.allocated, "allocated", h.chunkSize, chunks, corrupt);
  const partial = blockMap(h.partial, "partial", h.chunkSize, chunks, corrupt);
  if (!partial.difference(allocated).isEmpty()) throw corrupt("partial chunks outside the allocated ones");

  const reader = { bytes: buf, pos: 8 + headerLength };
  const entries = new Map<number, ChunkRef | null>();
  const packUses = new Uint32Array(h.packs.length);
  try {
    const count = readVarint(reader);
    if (count > chunks) throw corrupt(`${count} entries for a disk of ${chunks} chunks`);
    let previous = -1;
    for (let n = 0; n < count; n++) {
      const index = previous + 1 + readVarint(reader);
      if (index >= chunks) throw corrupt(`entry ${index} outside a disk of ${chunks} chunks`);
      previous = index;
      if (reader.pos >= buf.length) throw corrupt("truncated entries");
      const tag = buf[reader.pos++];
      if (tag === TAG_ZERO) {
        if (h.kind === "checkpoint") throw corrupt(`checkpoint entry ${index} is a zero chunk`);
        entries.set(index, null);
        continue;
      }
      if (tag !== TAG_REF) throw corrupt(`entry ${index} has unknown tag ${tag}`);
      if (reader.pos + ID_BYTES > buf.length) throw corrupt("truncated entries");
      const id = buf.subarray(reader.pos, reader.pos + ID_BYTES);
      reader.pos += ID_BYTES;
      const packNumber = readVarint(reader);
      const offset = readVarint(reader);
      const length = readVarint(reader);
      const pack = h.packs[packNumber];
      if (pack === undefined)
        throw corrupt(`entry ${index} names pack number ${packNumber} of ${h.packs.length}`);
      if (length === 0 || length > h.chunkSize + BLOB_OVERHEAD_MAX || offset + length > MAX_PACK_BYTES) {
        throw corrupt(`entry ${index} has an impossible extent ${offset}+${length}`);
      }
      packUses[packNumber] = (packUses[packNumber] as number) + 1;
      entries.set(index, { id, pack, offset, length });
    }
  } catch (e) {
    if (e instanceof LifeboatError) throw e;
    throw corrupt(`truncated or malformed entries: ${(e as Error).message}`, e);
  }
  if (reader.pos !== buf.length) throw corrupt(`${buf.length - reader.pos} bytes after the entries`);
  if (packUses.includes(0)) throw corrupt("the pack table names a pack no entry uses");
  return {
    source: h.source,
    disk: h.disk,
    seq: h.seq,
    kind: h.kind,
    baseSeq: h.baseSeq,
    deltasSinceCheckpoint: h.deltasSinceCheckpoint,
    capacity: h.capacity,
    chunkSize: h.chunkSize,
    allocated,
    partial,
    entries,
  };
}

function blockMap(
  base64: string,
  field: string,
  chunkSize: number,
  chunks: number,
  corrupt: (what: string, cause?: unknown) => LifeboatError,
): BlockMap {
  let map: BlockMap;
  try {
    map = BlockMap.deserialize(Buffer.from(base64, "base64"));
  } catch (e) {
    throw corrupt(`${field} map: ${(e as Error).message}`, e);
  }
  if (map.grain !== chunkSize || map.blocks !== chunks) {
    throw corrupt(`${field} map is ${map.grain}×${map.blocks}, expected ${chunkSize}×${chunks}`);
  }
  return map;
}

function putVarint(out: Uint8Array, start: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint out of range: ${value}`);
  let pos = start;
  let v = value;
  while (v >= 0x80) {
    out[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[pos++] = v;
  return pos;
}
