/**
 * The sealed-object envelope every chunk blob, manifest, point record and pack index is stored in:
 *
 *   "LBS1" | flags (bit0 zstd, bit1 encrypted) | encrypted:   salt 16 | nonce 12 | ciphertext | tag 16
 *                                               | unencrypted: SHA-256 32 | payload
 *
 * Encrypted objects use a key derived per object from a random salt (so GCM's nonce limits never
 * bind, however many agents write), with the repository id, the object's name and the header as
 * associated data: an object moved, swapped or replayed under another name fails to open.
 * Unencrypted objects carry a SHA-256 over the same context, which detects damage (not forgery).
 * Whatever goes wrong, open() throws OBJECT_CORRUPT naming the object — never a wrong result.
 */

import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomFillSync } from "node:crypto";
import binding from "zstd-napi/binding.js";
import { LifeboatError } from "../../domain/errors.ts";
import { MAX_CHUNK_SIZE } from "./repo-config.ts";

const MAGIC = Buffer.from("LBS1", "latin1");
const FLAG_COMPRESSED = 1;
const FLAG_ENCRYPTED = 2;
const HEADER_BYTES = 5;
const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HASH_BYTES = 32;
const ENCRYPTED_PREFIX = HEADER_BYTES + SALT_BYTES + NONCE_BYTES;
const OBJECT_KEY_INFO = "lifeboat v1 object";
const ZSTD_LEVEL = 1;

/** The most a sealed object can exceed its payload by (compression only ever makes it smaller). */
export const ENVELOPE_OVERHEAD_MAX = ENCRYPTED_PREFIX + TAG_BYTES;

export interface SealOptions {
  /** Try zstd; false for payloads known to be incompressible (pack indexes are mostly random ids). */
  readonly compress?: boolean;
}

export class Envelope {
  readonly #repoId: string;
  readonly #dataKey: Uint8Array | undefined;
  readonly #cctx = new binding.CCtx();
  readonly #dctx = new binding.DCtx();
  /** Reused compression output, sized for the largest chunk: fresh big buffers per call page-fault. */
  #scratch: Buffer = Buffer.alloc(0);

  /** @param dataKey the repository's data key, or undefined for an unencrypted repository */
  constructor(repoId: string, dataKey: Uint8Array | undefined) {
    this.#repoId = repoId;
    this.#dataKey = dataKey;
    this.#cctx.setParameter(binding.CParameter.compressionLevel, ZSTD_LEVEL);
  }

  get encrypted(): boolean {
    return this.#dataKey !== undefined;
  }

  /**
   * Seals `payload` as object `name` and returns the sealed bytes as consecutive pieces. The pieces
   * may share a scratch buffer: copy them before the next call (the pack writer copies them straight
   * into its pack, which saves a copy per chunk).
   */
  sealParts(name: string, payload: Uint8Array, options: SealOptions = {}): readonly Uint8Array[] {
    const compressed = options.compress === false ? undefined : this.#compress(payload);
    const flags = (compressed === undefined ? 0 : FLAG_COMPRESSED) | (this.encrypted ? FLAG_ENCRYPTED : 0);
    const body = compressed ?? payload;
    const dataKey = this.#dataKey;
    if (dataKey === undefined) {
      const head = Buffer.allocUnsafe(HEADER_BYTES + HASH_BYTES);
      MAGIC.copy(head, 0);
      head[4] = flags;
      checksum(this.#context(name, flags), body).copy(head, HEADER_BYTES);
      return [head, body];
    }
    const head = Buffer.allocUnsafe(ENCRYPTED_PREFIX);
    MAGIC.copy(head, 0);
    head[4] = flags;
    randomFillSync(head, HEADER_BYTES, SALT_BYTES + NONCE_BYTES);
    const cipher = createCipheriv(
      "aes-256-gcm",
      objectKey(dataKey, head.subarray(HEADER_BYTES, HEADER_BYTES + SALT_BYTES)),
      head.subarray(HEADER_BYTES + SALT_BYTES, ENCRYPTED_PREFIX),
    );
    cipher.setAAD(this.#context(name, flags));
    const ciphertext = cipher.update(body);
    const final = cipher.final();
    const parts = [head, ciphertext];
    if (final.length > 0) parts.push(final);
    parts.push(cipher.getAuthTag());
    return parts;
  }

  /** Seals `payload` as object `name` into a buffer of its own. */
  seal(name: string, payload: Uint8Array, options: SealOptions = {}): Uint8Array {
    return Buffer.concat(this.sealParts(name, payload, options));
  }

  /**
   * Opens sealed object `name`: checks the envelope, authenticates (or checksums) it, decompresses,
   * and refuses a payload over `maxSize` bytes. The result may be a view into `sealed`.
   */
  open(sealed: Uint8Array, name: string, maxSize: number): Uint8Array {
    const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const corrupt = (what: string, cause?: unknown) =>
      new LifeboatError("OBJECT_CORRUPT", `${name}: ${what}`, cause === undefined ? {} : { cause });
    if (bytes.length < HEADER_BYTES || !bytes.subarray(0, 4).equals(MAGIC)) {
      throw corrupt("not a sealed object (bad magic)");
    }
    const flags = bytes[4] as number;
    if ((flags & ~(FLAG_COMPRESSED | FLAG_ENCRYPTED)) !== 0) throw corrupt(`unknown envelope flags ${flags}`);
    const encrypted = (flags & FLAG_ENCRYPTED) !== 0;
    if (encrypted !== this.encrypted) {
      throw corrupt(
        encrypted
          ? "encrypted object in an unencrypted repository"
          : "unencrypted object in an encrypted repository",
      );
    }
    let body: Buffer;
    const dataKey = this.#dataKey;
    if (dataKey === undefined) {
      if (bytes.length < HEADER_BYTES + HASH_BYTES) throw corrupt(`truncated (${bytes.length} bytes)`);
      body = bytes.subarray(HEADER_BYTES + HASH_BYTES);
      const expected = checksum(this.#context(name, flags), body);
      if (!expected.equals(bytes.subarray(HEADER_BYTES, HEADER_BYTES + HASH_BYTES))) {
        throw corrupt("checksum mismatch (damaged, or not this object)");
      }
    } else {
      if (bytes.length < ENCRYPTED_PREFIX + TAG_BYTES) throw corrupt(`truncated (${bytes.length} bytes)`);
      const decipher = createDecipheriv(
        "aes-256-gcm",
        objectKey(dataKey, bytes.subarray(HEADER_BYTES, HEADER_BYTES + SALT_BYTES)),
        bytes.subarray(HEADER_BYTES + SALT_BYTES, ENCRYPTED_PREFIX),
      );
      decipher.setAAD(this.#context(name, flags));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      const plain = decipher.update(bytes.subarray(ENCRYPTED_PREFIX, bytes.length - TAG_BYTES));
      try {
        decipher.final();
      } catch (e) {
        throw corrupt("authentication failed (damaged, or not this object)", e);
      }
      body = plain;
    }
    if ((flags & FLAG_COMPRESSED) === 0) {
      if (body.length > maxSize) throw corrupt(`payload of ${body.length} bytes exceeds ${maxSize}`);
      return body;
    }
    return this.#decompress(body, maxSize, corrupt);
  }

  /** zstd-1 into the scratch buffer; undefined when that would not be smaller. */
  #compress(payload: Uint8Array): Buffer | undefined {
    const bound = binding.compressBound(payload.length);
    let dest = this.#scratch;
    if (dest.length < bound) {
      dest = Buffer.allocUnsafe(bound);
      if (bound <= binding.compressBound(MAX_CHUNK_SIZE)) this.#scratch = dest;
    }
    const length = this.#cctx.compress2(dest, payload);
    return length < payload.length ? dest.subarray(0, length) : undefined;
  }

  #decompress(
    body: Buffer,
    maxSize: number,
    corrupt: (what: string, cause?: unknown) => LifeboatError,
  ): Buffer {
    let size: number | null;
    try {
      size = binding.getFrameContentSize(body);
      if (binding.findFrameCompressedSize(body) !== body.length)
        throw new Error("bytes after the zstd frame");
    } catch (e) {
      throw corrupt(`bad zstd frame: ${(e as Error).message}`, e);
    }
    if (size === null) throw corrupt("zstd frame without a content size");
    if (size > maxSize) throw corrupt(`payload of ${size} bytes exceeds ${maxSize}`);
    const out = Buffer.allocUnsafe(size);
    try {
      const produced = this.#dctx.decompress(out, body);
      if (produced !== size) throw new Error(`${produced} bytes instead of ${size}`);
    } catch (e) {
      throw corrupt(`zstd: ${(e as Error).message}`, e);
    }
    return out;
  }

  /** What the tag or checksum binds besides the payload: repository, object name and header. */
  #context(name: string, flags: number): Buffer {
    return Buffer.from(`${this.#repoId}\0${name}\0LBS1${String.fromCharCode(flags)}`, "utf8");
  }
}

function objectKey(dataKey: Uint8Array, salt: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", dataKey, salt, OBJECT_KEY_INFO, 32));
}

function checksum(context: Buffer, body: Uint8Array): Buffer {
  return createHash("sha256").update(context).update(body).digest();
}
