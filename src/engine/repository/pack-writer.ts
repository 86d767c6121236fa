/**
 * Packs: chunk blobs are stored back to back in ~8 MiB objects (a 64 KiB object per chunk would be
 * ~16 000 objects per GiB on S3). A pack is self-describing, so verify and repair can read it
 * without any manifest:
 *
 *   blob | blob | … | sealed index (`packindex/<pack id>`) | u32 LE sealed index length | "LBP1"
 *   index payload: varint count | per blob: id (32 bytes) | varint offset | varint length
 */

import { randomBytes } from "node:crypto";
import { readVarint } from "../../domain/block-map.ts";
import { LifeboatError } from "../../domain/errors.ts";
import type { ChunkRef } from "../../domain/manifest.ts";
import type { ObjectStore } from "../../ports/object-store.ts";
import { ENVELOPE_OVERHEAD_MAX, type Envelope } from "./envelope.ts";
import { chunkObjectName, packIndexObjectName, packKey } from "./object-keys.ts";

export const PACK_MAGIC = Buffer.from("LBP1", "latin1");
/** u32 LE sealed index length, then the magic. */
export const PACK_TRAILER_BYTES = 8;
const ID_BYTES = 32;
/** id, offset varint (u32 → ≤ 5 bytes), length varint. */
const MAX_INDEX_ENTRY_BYTES = ID_BYTES + 5 + 5;

export interface PackIndexEntry {
  readonly id: Uint8Array;
  readonly offset: number;
  readonly length: number;
}

export interface PackWriter {
  /**
   * Seals the chunk and appends it to the current pack; returns where it will live. When the pack
   * reaches the target size it is put in the background; at most maxPutsInFlight (default 2) puts
   * run at once and add() waits (back-pressure) beyond that.
   */
  add(id: Uint8Array, plaintext: Uint8Array): Promise<ChunkRef>;
  /**
   * Puts the current partial pack (if any) and waits until every pack put so far is durable. Refs
   * returned by add() are valid in manifests only after flush() resolves. Rejects if any put failed.
   */
  flush(): Promise<void>;
  readonly stats: { packsWritten: number; bytesWritten: number; chunks: number };
}

interface OpenPack {
  readonly id: string;
  readonly buffer: Buffer;
  used: number;
  readonly entries: PackIndexEntry[];
}

/** Upper bound of a sealed index of `count` entries plus the trailer. */
function tailBound(count: number): number {
  return ENVELOPE_OVERHEAD_MAX + 5 + count * MAX_INDEX_ENTRY_BYTES + PACK_TRAILER_BYTES;
}

export class PackBuilder implements PackWriter {
  readonly stats = { packsWritten: 0, bytesWritten: 0, chunks: 0 };
  readonly #store: ObjectStore;
  readonly #envelope: Envelope;
  readonly #packSize: number;
  readonly #maxPutsInFlight: number;
  #current: OpenPack | undefined;
  readonly #queue: Array<{ key: string; data: Uint8Array }> = [];
  readonly #running = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;

  constructor(
    store: ObjectStore,
    envelope: Envelope,
    packSize: number,
    options: { maxPutsInFlight?: number } = {},
  ) {
    const max = options.maxPutsInFlight ?? 2;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`maxPutsInFlight must be ≥ 1: ${max}`);
    this.#store = store;
    this.#envelope = envelope;
    this.#packSize = packSize;
    this.#maxPutsInFlight = max;
  }

  async add(id: Uint8Array, plaintext: Uint8Array): Promise<ChunkRef> {
    this.#throwIfFailed();
    if (id.length !== ID_BYTES) throw new RangeError(`chunk id must be ${ID_BYTES} bytes, not ${id.length}`);
    // From sealing to copying into the pack nothing awaits: the sealed parts share a scratch buffer.
    const parts = this.#envelope.sealParts(chunkObjectName(id), plaintext);
    let length = 0;
    for (const part of parts) length += part.length;
    const pack = this.#packFor(length);
    const offset = pack.used;
    for (const part of parts) {
      pack.buffer.set(part, pack.used);
      pack.used += part.length;
    }
    pack.entries.push({ id, offset, length });
    this.stats.chunks++;
    while (this.#queue.length > 0) await this.#settleOne();
    return { id, pack: pack.id, offset, length };
  }

  async flush(): Promise<void> {
    this.#throwIfFailed();
    if (this.#current !== undefined) this.#finish(this.#current);
    while (this.#queue.length > 0 || this.#running.size > 0) await this.#settleOne();
  }

  /** The open pack if the blob fits (with room for the index), else a new one. */
  #packFor(blobLength: number): OpenPack {
    const current = this.#current;
    if (current !== undefined) {
      if (current.used + blobLength + tailBound(current.entries.length + 1) <= current.buffer.length)
        return current;
      this.#finish(current);
    }
    // A blob larger than a whole pack gets a pack of its own, sized to fit.
    const size = Math.max(this.#packSize, blobLength + tailBound(1));
    const pack: OpenPack = {
      id: randomBytes(16).toString("hex"),
      buffer: Buffer.allocUnsafe(size),
      used: 0,
      entries: [],
    };
    this.#current = pack;
    return pack;
  }

  /**
   * Appends index and trailer and queues the pack for its put. Called from add() while the chunk's
   * sealed parts are still pending: sealing the index uncompressed leaves the envelope's scratch intact.
   */
  #finish(pack: OpenPack): void {
    this.#current = undefined;
    if (pack.entries.length === 0) return;
    let pos = pack.used;
    for (const part of this.#envelope.sealParts(packIndexObjectName(pack.id), encodePackIndex(pack.entries), {
      compress: false,
    })) {
      pack.buffer.set(part, pos);
      pos += part.length;
    }
    pos = pack.buffer.writeUInt32LE(pos - pack.used, pos);
    pos += PACK_MAGIC.copy(pack.buffer, pos);
    this.#queue.push({ key: packKey(pack.id), data: pack.buffer.subarray(0, pos) });
    this.#pump();
  }

  #pump(): void {
    while (this.#failure === undefined && this.#running.size < this.#maxPutsInFlight) {
      const next = this.#queue.shift();
      if (next === undefined) return;
      const running: Promise<void> = this.#put(next.key, next.data).then(
        () => {
          this.#running.delete(running);
          this.#pump();
        },
        (error: unknown) => {
          this.#running.delete(running);
          // The first failure fails the writer; queued packs are dropped, their refs are never committed.
          this.#failure ??= { error };
          this.#queue.length = 0;
        },
      );
      this.#running.add(running);
    }
  }

  async #put(key: string, data: Uint8Array): Promise<void> {
    const outcome = await this.#store.put(key, data, { ifAbsent: true });
    // A random 128-bit name exists already only if a retried put landed before: check it is ours.
    if (outcome === "exists" && (await this.#store.head(key))?.size !== data.length) {
      throw new LifeboatError("INTERNAL", `${key}: a different pack already exists under this random name`);
    }
    this.stats.packsWritten++;
    this.stats.bytesWritten += data.length;
  }

  async #settleOne(): Promise<void> {
    if (this.#running.size > 0) await Promise.race(this.#running);
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }
}

export function encodePackIndex(entries: readonly PackIndexEntry[]): Uint8Array {
  const out = Buffer.allocUnsafe(5 + entries.length * MAX_INDEX_ENTRY_BYTES);
  let pos = putVarint(out, 0, entries.length);
  for (const e of entries) {
    out.set(e.id, pos);
    pos = putVarint(out, pos + ID_BYTES, e.offset);
    pos = putVarint(out, pos, e.length);
  }
  return out.subarray(0, pos);
}

/**
 * Decodes a pack index; `blobBytes` is where the index starts in the pack. Blobs must be in order,
 * non-overlapping and inside the blob region, or the index is OBJECT_CORRUPT.
 */
export function decodePackIndex(
  payload: Uint8Array,
  objectName: string,
  blobBytes: number,
): PackIndexEntry[] {
  const corrupt = (what: string) => new LifeboatError("OBJECT_CORRUPT", `${objectName}: ${what}`);
  const reader = { bytes: payload, pos: 0 };
  const entries: PackIndexEntry[] = [];
  try {
    const count = readVarint(reader);
    if (count * (ID_BYTES + 2) > payload.length)
      throw corrupt(`${count} entries cannot fit in ${payload.length} bytes`);
    let end = 0;
    for (let n = 0; n < count; n++) {
      if (reader.pos + ID_BYTES > payload.length) throw corrupt("truncated index");
      const id = payload.subarray(reader.pos, reader.pos + ID_BYTES);
      reader.pos += ID_BYTES;
      const offset = readVarint(reader);
      const length = readVarint(reader);
      if (offset < end || length === 0 || offset + length > blobBytes) {
        throw corrupt(
          `blob ${n} at ${offset}+${length} overlaps another or lies outside the ${blobBytes} blob bytes`,
        );
      }
      end = offset + length;
      entries.push({ id, offset, length });
    }
  } catch (e) {
    if (e instanceof LifeboatError) throw e;
    throw corrupt(`malformed index: ${(e as Error).message}`);
  }
  if (reader.pos !== payload.length) throw corrupt("bytes after the index entries");
  return entries;
}

function putVarint(out: Uint8Array, start: number, value: number): number {
  let pos = start;
  let v = value;
  while (v >= 0x80) {
    out[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[pos++] = v;
  return pos;
}
