import { createHash } from "node:crypto";
import { expect } from "vitest";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import { BlockMap } from "../../../src/domain/block-map.ts";
import { type ErrorCode, isLifeboatError } from "../../../src/domain/errors.ts";
import type { ChunkRef, DiskManifest } from "../../../src/domain/manifest.ts";
import type { RestorePoint } from "../../../src/domain/restore-point.ts";
import { Repository } from "../../../src/engine/repository/repository.ts";
import type { ByteRange, ObjectStore } from "../../../src/ports/object-store.ts";

export const PASSWORD = "correct horse battery staple";
/** Cheap scrypt for tests; the default is 2^15. */
export const KDF_COST = 2 ** 10;
export const MODES = ["none", "aes-256-gcm"] as const;
export type Mode = (typeof MODES)[number];

export async function newRepo(
  encryption: Mode,
  options: { chunkSize?: number; packSize?: number } = {},
): Promise<{ repo: Repository; store: MemoryStore }> {
  const store = new MemoryStore();
  const repo = await Repository.init(store, {
    encryption,
    ...(encryption === "none" ? {} : { password: PASSWORD, kdfCost: KDF_COST }),
    ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }),
    ...(options.packSize === undefined ? {} : { packSize: options.packSize }),
  });
  return { repo, store };
}

/** Deterministic bytes: "random" (incompressible) or "text" (compressible). */
export function chunkData(seed: number, size: number, kind: "random" | "text" = "random"): Uint8Array {
  const out = new Uint8Array(size);
  if (kind === "text") {
    const line = Buffer.from(`${seed} INFO request served in ${seed % 97} ms from host-${seed % 13}\n`);
    for (let i = 0; i < size; i++) out[i] = line[i % line.length] as number;
    return out;
  }
  let block = createHash("sha256").update(`seed ${seed}`).digest();
  for (let pos = 0; pos < size; pos += block.length) {
    out.set(block.subarray(0, Math.min(block.length, size - pos)), pos);
    block = createHash("sha256").update(block).digest();
  }
  return out;
}

export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    if (!isLifeboatError(e, code)) throw new Error(`expected ${code}, got ${String(e)}`, { cause: e });
    return e;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

export function expectSyncCode(fn: () => unknown, code: ErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(isLifeboatError(thrown, code), `expected ${code}, got ${String(thrown)}`).toBe(true);
}

export function point(
  source: string,
  seq: number,
  jobId: string,
  disks: RestorePoint["disks"] = [],
): RestorePoint {
  return {
    formatVersion: 1,
    source,
    seq,
    jobId,
    snapshotId: `snap-${seq}`,
    takenAt: 1_700_000_000_000 + seq,
    committedAt: 1_700_000_000_500 + seq,
    consistency: "crash",
    disks,
    warnings: [],
  };
}

export function manifest(
  fields: Partial<DiskManifest> & Pick<DiskManifest, "seq" | "kind" | "entries">,
): DiskManifest {
  const capacity = fields.capacity ?? 16 * 65536;
  const chunkSize = fields.chunkSize ?? 65536;
  const chunks = Math.ceil(capacity / chunkSize);
  return {
    source: "web",
    disk: "disk-0",
    baseSeq: null,
    deltasSinceCheckpoint: 0,
    capacity,
    chunkSize,
    allocated: BlockMap.full(chunkSize, chunks),
    partial: new BlockMap(chunkSize, chunks),
    ...fields,
  };
}

/** An ObjectStore decorator whose puts can be made to fail, hang or land-then-fail. */
export class FaultyStore implements ObjectStore {
  failPuts: "none" | "throw" | "land-then-throw" = "none";
  putDelayMs = 0;
  puts = 0;
  maxConcurrentPuts = 0;
  #concurrent = 0;

  constructor(readonly inner: ObjectStore) {}

  async put(key: string, data: Uint8Array, options?: { ifAbsent?: boolean }): Promise<"created" | "exists"> {
    this.#concurrent++;
    this.maxConcurrentPuts = Math.max(this.maxConcurrentPuts, this.#concurrent);
    try {
      if (this.putDelayMs > 0) await new Promise((r) => setTimeout(r, this.putDelayMs));
      this.puts++;
      if (this.failPuts === "throw") throw new Error(`injected put failure for ${key}`);
      const outcome = await this.inner.put(key, data, options);
      if (this.failPuts === "land-then-throw") throw new Error(`injected lost response for ${key}`);
      return outcome;
    } finally {
      this.#concurrent--;
    }
  }
  get(key: string, range?: ByteRange): Promise<Uint8Array> {
    return this.inner.get(key, range);
  }
  head(key: string): Promise<{ size: number } | undefined> {
    return this.inner.head(key);
  }
  list(prefix: string): AsyncIterable<{ key: string; size: number }> {
    return this.inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}

export function refKey(ref: ChunkRef): string {
  return `${ref.pack}@${ref.offset}`;
}
