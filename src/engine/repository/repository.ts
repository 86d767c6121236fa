/**
 * A Lifeboat repository (format v1, docs/repository-format.md) on any ObjectStore: chunks in packs,
 * per-disk manifests, point records written last. Every object is sealed (see envelope.ts) and every
 * read is checked, so damage surfaces as OBJECT_CORRUPT naming the object, never as wrong bytes.
 */

import { createHash, createHmac, randomBytes } from "node:crypto";
import { z } from "zod";
import { SAFE_NAME } from "../../domain/disk.ts";
import { isLifeboatError, LifeboatError } from "../../domain/errors.ts";
import { type ChunkMap, type ChunkRef, type DiskManifest, resolveChain } from "../../domain/manifest.ts";
import type { RestorePoint } from "../../domain/restore-point.ts";
import { decodeManifest, encodeManifest } from "../../formats/manifest-codec.ts";
import type { ObjectStore } from "../../ports/object-store.ts";
import { Envelope } from "./envelope.ts";
import {
  decodeKeyFile,
  deriveKeys,
  encodeKeyFile,
  newMasterKey,
  unwrapMasterKey,
  wrapMasterKey,
} from "./keys.ts";
import {
  CONFIG_KEY,
  chunkObjectName,
  KEY_COPIES,
  indexKey,
  manifestKey,
  PACKS_PREFIX,
  POINTS_PREFIX,
  packIndexObjectName,
  packKey,
  parseManifestKey,
  parsePackKey,
  parsePointKey,
  pointKey,
  pointPrefix,
} from "./object-keys.ts";
import {
  decodePackIndex,
  PACK_MAGIC,
  PACK_TRAILER_BYTES,
  PackBuilder,
  type PackIndexEntry,
  type PackWriter,
} from "./pack-writer.ts";
import {
  decodeConfig,
  encodeConfig,
  type InitOptions,
  newConfig,
  type RepositoryConfig,
} from "./repo-config.ts";

export type { PackWriter } from "./pack-writer.ts";
export type { InitOptions, RepositoryConfig } from "./repo-config.ts";

/** Metadata objects are bounded so a damaged length can never make a reader allocate without limit. */
const MAX_POINT_BYTES = 16 << 20;
const MAX_PACK_INDEX_BYTES = 64 << 20;
const MAX_MANIFEST_BYTES = 2 ** 32 - 1;
/** Read this much of a pack's tail at once: the index of an 8 MiB pack of 64 KiB chunks is ~5 KiB. */
const PACK_TAIL_READ = 16 << 10;
const POINT_READS_IN_FLIGHT = 8;

const pointDiskSchema = z
  .object({
    disk: z.string().regex(SAFE_NAME),
    capacity: z.number().int().min(0),
    manifest: z.string().min(1),
    token: z.string().nullable(),
    mode: z.enum(["full", "incremental", "resync"]),
    resetReason: z.string().optional(),
    bytesRead: z.number().int().min(0),
    bytesStored: z.number().int().min(0),
    chunksRead: z.number().int().min(0),
    chunksStored: z.number().int().min(0),
  })
  .strict();

const pointSchema = z
  .object({
    formatVersion: z.literal(1),
    source: z.string().regex(SAFE_NAME),
    seq: z.number().int().min(1),
    jobId: z.string().min(1),
    snapshotId: z.string(),
    takenAt: z.number(),
    committedAt: z.number(),
    consistency: z.enum(["application", "filesystem", "crash", "none"]),
    disks: z.array(pointDiskSchema),
    warnings: z.array(z.string()),
  })
  .strict();

export class Repository {
  readonly store: ObjectStore;
  readonly config: RepositoryConfig;
  readonly #envelope: Envelope;
  readonly #idKey: Uint8Array | undefined;

  private constructor(store: ObjectStore, config: RepositoryConfig, master: Uint8Array | undefined) {
    this.store = store;
    this.config = config;
    const keys = master === undefined ? undefined : deriveKeys(master, config.repoId);
    this.#idKey = keys?.idKey;
    this.#envelope = new Envelope(config.repoId, keys?.dataKey);
  }

  /** Creates a repository; REPO_EXISTS if the store already holds one. Key copies are written before the config. */
  static async init(store: ObjectStore, options: InitOptions): Promise<Repository> {
    const config = newConfig(options, randomBytes(16).toString("hex"), new Date());
    if ((await store.head(CONFIG_KEY)) !== undefined) throw repoExists();
    let master: Uint8Array | undefined;
    if (config.encryption === "aes-256-gcm") {
      if (options.password === undefined || options.password === "") {
        throw new LifeboatError("PASSWORD_REQUIRED", "an encrypted repository needs a passphrase");
      }
      master = newMasterKey();
      // Two independent wraps (own salt and nonce): a damaged copy leaves the other intact.
      for (const key of KEY_COPIES) {
        const file = await wrapMasterKey(master, options.password, config.repoId, options.kdfCost);
        // Never overwrite a key copy: a concurrent init would otherwise lock the winner out of its data.
        if ((await store.put(key, encodeKeyFile(file), { ifAbsent: true })) === "exists") {
          throw new LifeboatError(
            "REPO_EXISTS",
            `${key} exists but lifeboat.json does not: another init is running here or one was interrupted`,
            { remedy: "If no other init is running, delete keys/ and run init again." },
          );
        }
      }
    }
    // The config is the commit point of init: until it exists, this is not a repository.
    if ((await store.put(CONFIG_KEY, encodeConfig(config), { ifAbsent: true })) === "exists")
      throw repoExists();
    return new Repository(store, config, master);
  }

  static async open(store: ObjectStore, password?: string): Promise<Repository> {
    let raw: Uint8Array;
    try {
      raw = await store.get(CONFIG_KEY);
    } catch (e) {
      if (isLifeboatError(e, "OBJECT_MISSING")) {
        throw new LifeboatError("REPO_NOT_FOUND", "no Lifeboat repository here (lifeboat.json is missing)", {
          cause: e,
        });
      }
      throw e;
    }
    const config = decodeConfig(raw);
    if (config.encryption === "none") {
      // A config flipped to "none" must not make agents write plaintext into an encrypted repository.
      for (const key of KEY_COPIES) {
        if ((await store.head(key)) !== undefined) {
          throw new LifeboatError(
            "REPO_CONFIG_CORRUPT",
            `lifeboat.json says unencrypted, but ${key} holds a wrapped key`,
          );
        }
      }
      return new Repository(store, config, undefined);
    }
    if (password === undefined || password === "") {
      throw new LifeboatError(
        "PASSWORD_REQUIRED",
        "this repository is encrypted: a passphrase is needed to open it",
      );
    }
    return new Repository(store, config, await openMasterKey(store, password, config.repoId));
  }

  /** Keyed content id (HMAC-SHA-256 when encrypted, SHA-256 otherwise), 32 bytes. */
  chunkId(plaintext: Uint8Array): Uint8Array {
    const hash = this.#idKey === undefined ? createHash("sha256") : createHmac("sha256", this.#idKey);
    return hash.update(plaintext).digest();
  }

  createPackWriter(options?: { maxPutsInFlight?: number }): PackWriter {
    return new PackBuilder(this.store, this.#envelope, this.config.packSize, options);
  }

  /** Reads, authenticates, decompresses and re-hashes one chunk. */
  async readChunk(ref: ChunkRef): Promise<Uint8Array> {
    const key = packKey(ref.pack);
    const blob = await this.store.get(key, { offset: ref.offset, length: ref.length });
    let plaintext: Uint8Array;
    try {
      plaintext = this.#envelope.open(blob, chunkObjectName(ref.id), this.config.chunkSize);
    } catch (e) {
      throw new LifeboatError(
        "OBJECT_CORRUPT",
        `${key} at ${ref.offset}+${ref.length}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    if (!sameBytes(this.chunkId(plaintext), ref.id)) {
      throw new LifeboatError(
        "OBJECT_CORRUPT",
        `${key} at ${ref.offset}+${ref.length}: content does not match chunk id ${chunkObjectName(ref.id).slice(6)}`,
      );
    }
    return plaintext;
  }

  /** Writes a disk manifest create-only; an existing object is accepted only as this job's identical retry. */
  async writeDiskManifest(manifest: DiskManifest, jobId: string): Promise<string> {
    const key = manifestKey(manifest.source, manifest.disk, manifest.seq, jobId);
    const payload = encodeManifest(manifest);
    const landed = await this.#createOnce(key, this.#envelope.seal(key, payload));
    if (landed === "created") return key;
    if (sameBytes(this.#envelope.open(await this.store.get(key), key, MAX_MANIFEST_BYTES), payload))
      return key;
    throw new LifeboatError("CONFLICT", `${key} already exists with other content`);
  }

  async readDiskManifest(key: string): Promise<DiskManifest> {
    const parts = parseManifestKey(key);
    if (parts === undefined) throw new LifeboatError("OBJECT_CORRUPT", `${key}: not a disk manifest key`);
    const manifest = decodeManifest(
      this.#envelope.open(await this.store.get(key), key, MAX_MANIFEST_BYTES),
      key,
    );
    if (manifest.source !== parts.source || manifest.disk !== parts.disk || manifest.seq !== parts.seq) {
      throw new LifeboatError(
        "OBJECT_CORRUPT",
        `${key}: holds the manifest of ${manifest.source}/${manifest.disk}@${manifest.seq}`,
      );
    }
    return manifest;
  }

  /**
   * Writes the complete map of a retained point (prune does this before deleting the points its
   * chain ran through). Create-only: the map of a committed point never changes.
   */
  async writeIndexCheckpoint(manifest: DiskManifest): Promise<string> {
    if (manifest.kind !== "checkpoint")
      throw new LifeboatError("INTERNAL", "an index entry must be a checkpoint");
    const key = indexKey(manifest.source, manifest.disk, manifest.seq);
    await this.#createOnce(key, this.#envelope.seal(key, encodeManifest(manifest)));
    return key;
  }

  /** The checkpoint prune wrote for this point's disk, if any. */
  async readIndexCheckpoint(source: string, disk: string, seq: number): Promise<DiskManifest | undefined> {
    const key = indexKey(source, disk, seq);
    let sealed: Uint8Array;
    try {
      sealed = await this.store.get(key);
    } catch (e) {
      if (isLifeboatError(e, "OBJECT_MISSING")) return undefined;
      throw e;
    }
    const manifest = decodeManifest(this.#envelope.open(sealed, key, MAX_MANIFEST_BYTES), key);
    if (
      manifest.source !== source ||
      manifest.disk !== disk ||
      manifest.seq !== seq ||
      manifest.kind !== "checkpoint"
    ) {
      throw new LifeboatError(
        "OBJECT_CORRUPT",
        `${key}: holds ${manifest.kind} ${manifest.source}/${manifest.disk}@${manifest.seq}`,
      );
    }
    return manifest;
  }

  /** Commits a point: create-only, last. "already-committed" when this job's earlier attempt landed. */
  async writePoint(point: RestorePoint): Promise<"created" | "already-committed"> {
    const key = pointKey(point.source, point.seq);
    const sealed = this.#envelope.seal(key, Buffer.from(JSON.stringify(point), "utf8"));
    if ((await this.#createOnce(key, sealed)) === "created") return "created";
    const existing = await this.#readPointAt(key, point.source, point.seq);
    if (existing.jobId === point.jobId) return "already-committed";
    throw new LifeboatError(
      "CONFLICT",
      `${key} was committed by job ${existing.jobId}, not by this job (${point.jobId})`,
    );
  }

  async readPoint(source: string, seq: number): Promise<RestorePoint> {
    const key = pointKey(source, seq);
    try {
      return await this.#readPointAt(key, source, seq);
    } catch (e) {
      if (isLifeboatError(e, "OBJECT_MISSING")) {
        throw new LifeboatError("POINT_NOT_FOUND", `no restore point ${source}@${seq}`, { cause: e });
      }
      throw e;
    }
  }

  /** Every point (of one source, or all), sorted by source then seq. A damaged record throws. */
  async listPoints(source?: string): Promise<RestorePoint[]> {
    const keys: Array<{ source: string; seq: number }> = [];
    for await (const { key } of this.store.list(source === undefined ? POINTS_PREFIX : pointPrefix(source))) {
      const parsed = parsePointKey(key);
      if (parsed === undefined) throw new LifeboatError("OBJECT_CORRUPT", `${key}: not a point record key`);
      keys.push(parsed);
    }
    const points: RestorePoint[] = new Array(keys.length);
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const n = next++;
        const { source: s, seq } = keys[n] as { source: string; seq: number };
        points[n] = await this.#readPointAt(pointKey(s, seq), s, seq);
      }
    };
    await Promise.all(Array.from({ length: Math.min(POINT_READS_IN_FLIGHT, keys.length) }, worker));
    return points.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : a.seq - b.seq));
  }

  async latestPoint(source: string): Promise<RestorePoint | undefined> {
    let latest: { source: string; seq: number } | undefined;
    // Zero-padded seqs list in numeric order.
    for await (const { key } of this.store.list(pointPrefix(source))) {
      const parsed = parsePointKey(key);
      if (parsed === undefined) throw new LifeboatError("OBJECT_CORRUPT", `${key}: not a point record key`);
      latest = parsed;
    }
    return latest === undefined ? undefined : this.readPoint(latest.source, latest.seq);
  }

  /** The disk's chunk map at `point`: its manifest and the bases back to a checkpoint. */
  async resolveDiskMap(point: RestorePoint, disk: string): Promise<ChunkMap> {
    const pointDisk = point.disks.find((d) => d.disk === disk);
    if (pointDisk === undefined) {
      throw new LifeboatError(
        "DISK_NOT_FOUND",
        `restore point ${point.source}@${point.seq} has no disk ${disk}`,
      );
    }
    const chain = [
      (await this.readIndexCheckpoint(point.source, disk, point.seq)) ??
        (await this.readDiskManifest(pointDisk.manifest)),
    ];
    for (let head = chain[0] as DiskManifest; head.kind === "delta"; head = chain[0] as DiskManifest) {
      const baseSeq = head.baseSeq as number;
      const pruned = await this.readIndexCheckpoint(point.source, disk, baseSeq);
      if (pruned !== undefined) {
        chain.unshift(pruned);
        break;
      }
      const broken = (what: string, cause?: unknown) =>
        new LifeboatError(
          "OBJECT_CORRUPT",
          `${pointDisk.manifest}: chain broken at ${point.source}@${head.seq} → ${baseSeq}: ${what}`,
          cause === undefined ? {} : { cause },
        );
      let base: RestorePoint;
      try {
        base = await this.readPoint(point.source, baseSeq);
      } catch (e) {
        if (!isLifeboatError(e, "POINT_NOT_FOUND")) throw e;
        throw new LifeboatError(
          "OBJECT_MISSING",
          `${pointKey(point.source, baseSeq)}: base of ${pointDisk.manifest} is missing`,
          {
            cause: e,
          },
        );
      }
      const baseDisk = base.disks.find((d) => d.disk === disk);
      if (baseDisk === undefined) throw broken("the base point has no such disk");
      const manifest = await this.readDiskManifest(baseDisk.manifest);
      if (manifest.seq !== baseSeq || manifest.deltasSinceCheckpoint !== head.deltasSinceCheckpoint - 1) {
        throw broken(
          `the base manifest is seq ${manifest.seq} with ${manifest.deltasSinceCheckpoint} deltas`,
        );
      }
      chain.unshift(manifest);
    }
    try {
      return resolveChain(chain);
    } catch (e) {
      throw new LifeboatError("OBJECT_CORRUPT", `${pointDisk.manifest}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  async *listPacks(): AsyncIterable<{ key: string; size: number }> {
    for await (const entry of this.store.list(PACKS_PREFIX)) yield entry;
  }

  /** The authenticated index at the tail of a pack. */
  async readPackIndex(key: string): Promise<PackIndexEntry[]> {
    const packId = parsePackKey(key);
    if (packId === undefined) throw new LifeboatError("OBJECT_CORRUPT", `${key}: not a pack key`);
    const corrupt = (what: string) => new LifeboatError("OBJECT_CORRUPT", `${key}: ${what}`);
    const size = (await this.store.head(key))?.size;
    if (size === undefined) throw new LifeboatError("OBJECT_MISSING", `${key}: pack does not exist`);
    if (size < PACK_TRAILER_BYTES) throw corrupt(`truncated pack (${size} bytes)`);
    const tailLength = Math.min(size, PACK_TAIL_READ);
    let tail = Buffer.from(await this.store.get(key, { offset: size - tailLength, length: tailLength }));
    if (!tail.subarray(tail.length - 4).equals(PACK_MAGIC))
      throw corrupt("no pack trailer (truncated or not a pack)");
    const indexLength = tail.readUInt32LE(tail.length - PACK_TRAILER_BYTES);
    const indexStart = size - PACK_TRAILER_BYTES - indexLength;
    if (indexStart < 0 || indexLength > MAX_PACK_INDEX_BYTES)
      throw corrupt(`impossible index length ${indexLength}`);
    if (indexLength + PACK_TRAILER_BYTES > tail.length) {
      tail = Buffer.from(
        await this.store.get(key, { offset: indexStart, length: indexLength + PACK_TRAILER_BYTES }),
      );
    }
    const sealed = tail.subarray(
      tail.length - PACK_TRAILER_BYTES - indexLength,
      tail.length - PACK_TRAILER_BYTES,
    );
    const name = packIndexObjectName(packId);
    return decodePackIndex(
      this.#envelope.open(sealed, name, MAX_PACK_INDEX_BYTES),
      `${key} (${name})`,
      indexStart,
    );
  }

  async #readPointAt(key: string, source: string, seq: number): Promise<RestorePoint> {
    const payload = this.#envelope.open(await this.store.get(key), key, MAX_POINT_BYTES);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
    } catch (e) {
      throw new LifeboatError("OBJECT_CORRUPT", `${key}: point record is not valid JSON`, { cause: e });
    }
    const parsed = pointSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ");
      throw new LifeboatError("OBJECT_CORRUPT", `${key}: invalid point record: ${issues}`);
    }
    if (parsed.data.source !== source || parsed.data.seq !== seq) {
      throw new LifeboatError(
        "OBJECT_CORRUPT",
        `${key}: holds point ${parsed.data.source}@${parsed.data.seq}`,
      );
    }
    return parsed.data as RestorePoint;
  }

  /**
   * A create-only put. If the put itself fails, the object may still have landed (the response was
   * lost): "exists" then tells the caller to read it back and decide; otherwise the error stands.
   */
  async #createOnce(key: string, data: Uint8Array): Promise<"created" | "exists"> {
    try {
      return await this.store.put(key, data, { ifAbsent: true });
    } catch (e) {
      const landed = await this.store.head(key).catch(() => undefined);
      if (landed === undefined) throw e;
      return "exists";
    }
  }
}

export async function openMasterKey(
  store: ObjectStore,
  password: string,
  repoId: string,
): Promise<Uint8Array> {
  let readable = 0;
  const problems: string[] = [];
  for (const key of KEY_COPIES) {
    let file: ReturnType<typeof decodeKeyFile>;
    try {
      file = decodeKeyFile(await store.get(key));
    } catch (e) {
      problems.push(`${key}: ${(e as Error).message}`);
      continue;
    }
    if (file === undefined) {
      problems.push(`${key}: damaged`);
      continue;
    }
    readable++;
    const master = await unwrapMasterKey(file, password, repoId);
    if (master !== undefined) return master;
  }
  if (readable === 0) {
    throw new LifeboatError(
      "REPO_CONFIG_CORRUPT",
      `no readable copy of the wrapped master key (${problems.join("; ")})`,
      {
        remedy: "Restore keys/0 or keys/1 from a copy; without one the repository cannot be decrypted.",
      },
    );
  }
  throw new LifeboatError(
    "PASSWORD_WRONG",
    "the passphrase does not open the repository's master key" +
      (problems.length > 0 ? ` (the other copy is unreadable: ${problems.join("; ")})` : ""),
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function repoExists(): LifeboatError {
  return new LifeboatError("REPO_EXISTS", "a Lifeboat repository already exists here (lifeboat.json)");
}
