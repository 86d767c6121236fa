/**
 * An ObjectStore in an S3 bucket (AWS S3, Ceph RGW, MinIO, …), under a key prefix, so that one bucket
 * can hold several repositories. Objects are written with single-part PUTs only: packs are at most a
 * few MiB, and a multipart upload has no atomic create-only completion on every server (RGW ignores
 * If-None-Match on CompleteMultipartUpload).
 *
 * - Create-only puts send `If-None-Match: *`; the server's 412 is the answer "exists". Whether a
 *   server honours it is checked once, when a repository is created (create-only-probe.ts).
 * - Every put carries Content-MD5, so a body damaged in transit is refused (BadDigest, retried).
 * - Nothing here retries: failures are mapped to coded errors (s3-errors.ts), transient ones marked
 *   retryable, and the RetryingStore wrapped around this store decides.
 * - `client` is public so tests and fault injection can add middleware to the very client in use.
 */

import { createHash } from "node:crypto";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { LifeboatError } from "../../domain/errors.ts";
import type { ByteRange, ObjectStore } from "../../ports/object-store.ts";
import {
  assertByteRange,
  assertKeyPrefix,
  assertObjectKey,
  MAX_KEY_LENGTH,
  objectMissing,
  segmentProblem,
  shortObject,
} from "../store-fs/object-key.ts";
import { type S3ClientOptions, createS3Client } from "./s3-client.ts";
import { bucketMissing, httpStatusOf, mapS3Error, type S3ErrorContext } from "./s3-errors.ts";
import { parseS3Url, type S3Location, s3EndpointFromEnv } from "./s3-location.ts";

export interface S3StoreOptions extends S3Location, S3ClientOptions {
  /** Keys per listing request (S3's maximum and default is 1000); small values exercise paging. */
  readonly listPageSize?: number;
  /** A client to use instead of one built from the options (tests, shared clients). */
  readonly client?: S3Client;
}

export class S3Store implements ObjectStore {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  /** `s3://bucket/prefix`, for messages. */
  readonly location: string;
  readonly #endpoint: string;
  readonly #listPageSize: number;
  /** Set once any request has shown the bucket exists: a bodiless 404 on HEAD is then about the key. */
  #bucketSeen = false;

  constructor(options: S3StoreOptions) {
    this.client = options.client ?? createS3Client(options);
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.location = `s3://${options.bucket}/${options.prefix}`;
    this.#endpoint = options.endpoint ?? `AWS S3 (${options.region})`;
    this.#listPageSize = options.listPageSize ?? 1000;
  }

  /** The store `s3://BUCKET/PREFIX` names, with endpoint, region and path style from `env`. */
  static fromUrl(repo: string, env: Readonly<Record<string, string | undefined>>): S3Store {
    return new S3Store({ ...parseS3Url(repo), ...s3EndpointFromEnv(env) });
  }

  async put(key: string, data: Uint8Array, options?: { ifAbsent?: boolean }): Promise<"created" | "exists"> {
    assertObjectKey(key);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: data,
          ContentLength: data.length,
          ContentMD5: createHash("md5").update(data).digest("base64"),
          ...(options?.ifAbsent ? { IfNoneMatch: "*" } : {}),
        }),
      );
      this.#bucketSeen = true;
      return "created";
    } catch (e) {
      // 412: the key exists, so the server stored nothing (a missing bucket is 404, never 412).
      if (options?.ifAbsent && httpStatusOf(e) === 412) return "exists";
      throw this.#error("put", key, e);
    }
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    assertObjectKey(key);
    if (range !== undefined) assertByteRange(key, range);
    // HTTP cannot ask for zero bytes; an empty range still has to be inside the object.
    if (range?.length === 0) return this.#emptyRange(key, range);
    let body: Uint8Array;
    let contentRange: string | undefined;
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          ...(range === undefined
            ? {}
            : { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` }),
        }),
      );
      this.#bucketSeen = true;
      if (out.Body === undefined) throw new Error("the response has no body");
      body = await out.Body.transformToByteArray();
      if (out.ContentLength !== undefined && body.length !== out.ContentLength) {
        throw Object.assign(
          new LifeboatError(
            "STORE_IO",
            `get "${key}" in ${this.location}: the response ended after ${body.length} of ${out.ContentLength} bytes`,
          ),
          { retryable: true },
        );
      }
      contentRange = out.ContentRange;
    } catch (e) {
      // 416: the range starts at or past the end. Report it like any other short object.
      if (range !== undefined && httpStatusOf(e) === 416) return this.#emptyRange(key, range, true);
      throw this.#error("get", key, e);
    }
    return plain(range === undefined ? body : this.#rangeOf(key, range, body, contentRange));
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    assertObjectKey(key);
    try {
      const out = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
      );
      this.#bucketSeen = true;
      return { size: out.ContentLength ?? 0 };
    } catch (e) {
      if (httpStatusOf(e) !== 404) throw this.#error("head", key, e);
    }
    // A HEAD answer has no body, so its 404 does not say whether the key or the bucket is missing.
    await this.#confirmBucket("head", key);
    return undefined;
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size: number }> {
    assertKeyPrefix(prefix);
    let token: string | undefined;
    let last: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            MaxKeys: this.#listPageSize,
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        );
      } catch (e) {
        throw this.#error("list", prefix, e);
      }
      this.#bucketSeen = true;
      for (const entry of page.Contents ?? []) {
        const fullKey = entry.Key ?? "";
        const key = fullKey.slice(this.prefix.length);
        // Not an object of this store: a console's "folder/" marker, a file someone dropped in.
        if (!fullKey.startsWith(this.prefix) || !isObjectKey(key)) continue;
        // Consumers (the RetryingStore resuming a listing, merges) rely on ascending order.
        if (last !== undefined && key <= last) {
          throw new LifeboatError(
            "STORE_IO",
            `list "${prefix}" in ${this.location}: keys out of order at "${key}"`,
          );
        }
        last = key;
        yield { key, size: entry.Size ?? 0 };
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      if (page.IsTruncated === true && token === undefined) {
        throw new LifeboatError(
          "STORE_IO",
          `list "${prefix}" in ${this.location}: the server cut the listing short without a continuation token`,
        );
      }
    } while (token !== undefined);
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      this.#bucketSeen = true;
    } catch (e) {
      // S3 answers 204 for a missing key; some servers answer 404 NoSuchKey. Either way: deleted.
      const mapped = this.#error("delete", key, e);
      if (mapped.code !== "OBJECT_MISSING") throw mapped;
    }
  }

  /** Closes the idle keep-alive sockets (a process that exits need not call it). */
  destroy(): void {
    this.client.destroy();
  }

  /** Answers a range that asks for nothing, or that the server found to start past the end. */
  async #emptyRange(key: string, range: ByteRange, pastEnd = false): Promise<Uint8Array> {
    const found = await this.head(key);
    if (found === undefined) throw objectMissing(key, this.location);
    if (pastEnd || range.offset + range.length > found.size) throw shortObject(key, range, found.size);
    return new Uint8Array(0);
  }

  /** The requested range out of a ranged answer, or out of the whole object if the server sent it all. */
  #rangeOf(key: string, range: ByteRange, body: Uint8Array, contentRange: string | undefined): Uint8Array {
    const answered = parseContentRange(contentRange);
    if (answered === undefined) {
      // A server that ignores Range sends the whole object (200): cut the range out of it.
      if (range.offset + range.length > body.length) throw shortObject(key, range, body.length);
      return body.subarray(range.offset, range.offset + range.length);
    }
    if (answered.start !== range.offset) {
      throw new LifeboatError(
        "STORE_IO",
        `get "${key}" in ${this.location}: asked for bytes from ${range.offset}, got ${contentRange}`,
      );
    }
    if (body.length < range.length)
      throw shortObject(key, range, answered.size ?? range.offset + body.length);
    return body.subarray(0, range.length);
  }

  async #confirmBucket(op: string, key: string): Promise<void> {
    if (this.#bucketSeen) return;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      this.#bucketSeen = true;
    } catch (e) {
      if (httpStatusOf(e) === 404) throw bucketMissing(this.#context(op, key), e);
      throw this.#error(op, key, e);
    }
  }

  #error(op: string, key: string, e: unknown): LifeboatError {
    return mapS3Error(e, this.#context(op, key));
  }

  #context(op: string, key: string): S3ErrorContext {
    return { op, key, location: this.location, endpoint: this.#endpoint };
  }
}

/** `bytes START-END/SIZE` (SIZE may be `*`). */
function parseContentRange(header: string | undefined): { start: number; size?: number } | undefined {
  const match = header === undefined ? null : /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header.trim());
  if (match === null) return undefined;
  const size = match[2] === "*" ? undefined : Number(match[2]);
  return { start: Number(match[1]), ...(size === undefined ? {} : { size }) };
}

function isObjectKey(key: string): boolean {
  return (
    key.length > 0 &&
    key.length <= MAX_KEY_LENGTH &&
    key.split("/").every((s) => segmentProblem(s) === undefined)
  );
}

/** A Uint8Array view, so callers cannot come to rely on Buffer-only methods of the SDK's buffers. */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
