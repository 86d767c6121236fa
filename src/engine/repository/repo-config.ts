/**
 * `lifeboat.json`: the one plain object in a repository. It says how everything else is laid out,
 * so it is validated strictly and a version this release does not know is refused, never guessed.
 */

import { z } from "zod";
import { LifeboatError } from "../../domain/errors.ts";

export const FORMAT_NAME = "lifeboat";
export const SUPPORTED_VERSIONS: readonly number[] = [1];

export const MIN_CHUNK_SIZE = 16 << 10;
export const MAX_CHUNK_SIZE = 4 << 20;
export const DEFAULT_CHUNK_SIZE = 64 << 10;
export const DEFAULT_PACK_SIZE = 8 << 20;
export const MAX_PACK_SIZE = 1 << 30;
export const DEFAULT_CHECKPOINT_EVERY = 8;
export const MAX_CHECKPOINT_EVERY = 1000;

export interface RepositoryConfig {
  format: "lifeboat";
  version: 1;
  repoId: string;
  chunkSize: number;
  packSize: number;
  checkpointEvery: number;
  hash: "hmac-sha256" | "sha256";
  compression: "zstd";
  encryption: "none" | "aes-256-gcm";
  createdAt: string;
}

export interface InitOptions {
  chunkSize?: number;
  packSize?: number;
  checkpointEvery?: number;
  encryption: "none" | "aes-256-gcm";
  password?: string;
  /** scrypt N (a power of two); the default is 2^15, tests use 2^10. */
  kdfCost?: number;
}

const isPowerOfTwo = (n: number) => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

const configSchema = z
  .object({
    format: z.literal(FORMAT_NAME),
    version: z.literal(1),
    repoId: z.string().regex(/^[0-9a-f]{32}$/),
    chunkSize: z
      .number()
      .int()
      .min(MIN_CHUNK_SIZE)
      .max(MAX_CHUNK_SIZE)
      .refine(isPowerOfTwo, "must be a power of two"),
    packSize: z.number().int().max(MAX_PACK_SIZE),
    checkpointEvery: z.number().int().min(1).max(MAX_CHECKPOINT_EVERY),
    hash: z.enum(["hmac-sha256", "sha256"]),
    compression: z.literal("zstd"),
    encryption: z.enum(["none", "aes-256-gcm"]),
    createdAt: z.string().datetime(),
  })
  .strict()
  .refine((c) => c.packSize >= c.chunkSize, {
    message: "packSize must be at least chunkSize",
    path: ["packSize"],
  })
  .refine((c) => (c.encryption === "none") === (c.hash === "sha256"), {
    message: "an encrypted repository uses hmac-sha256 chunk ids, an unencrypted one sha256",
    path: ["hash"],
  });

/** The configuration a new repository gets; throws CONFIG_INVALID for an option out of range. */
export function newConfig(options: InitOptions, repoId: string, createdAt: Date): RepositoryConfig {
  const config: RepositoryConfig = {
    format: FORMAT_NAME,
    version: 1,
    repoId,
    chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
    packSize: options.packSize ?? DEFAULT_PACK_SIZE,
    checkpointEvery: options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY,
    hash: options.encryption === "none" ? "sha256" : "hmac-sha256",
    compression: "zstd",
    encryption: options.encryption,
    createdAt: createdAt.toISOString(),
  };
  const checked = configSchema.safeParse(config);
  if (!checked.success) {
    throw new LifeboatError("CONFIG_INVALID", `repository options: ${describe(checked.error)}`, {
      remedy: `Use a power-of-two chunk size from ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE} bytes, a pack size from the chunk size to ${MAX_PACK_SIZE} bytes and a checkpoint interval from 1 to ${MAX_CHECKPOINT_EVERY}.`,
    });
  }
  return config;
}

export function encodeConfig(config: RepositoryConfig): Uint8Array {
  return Buffer.from(`${JSON.stringify(config, null, 2)}\n`, "utf8");
}

/** Parses `lifeboat.json`: REPO_CONFIG_CORRUPT if it is not a valid v1 config, REPO_FORMAT_UNSUPPORTED for another version. */
export function decodeConfig(bytes: Uint8Array): RepositoryConfig {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new LifeboatError(
      "REPO_CONFIG_CORRUPT",
      `lifeboat.json is not valid JSON: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  if (typeof json === "object" && json !== null && !Array.isArray(json)) {
    const { format, version } = json as { format?: unknown; version?: unknown };
    if (typeof format === "string" && format !== FORMAT_NAME) {
      throw new LifeboatError(
        "REPO_FORMAT_UNSUPPORTED",
        `lifeboat.json names format ${JSON.stringify(format)}, not "${FORMAT_NAME}": this is not a Lifeboat repository`,
      );
    }
    if (format === FORMAT_NAME && typeof version === "number" && !SUPPORTED_VERSIONS.includes(version)) {
      throw new LifeboatError(
        "REPO_FORMAT_UNSUPPORTED",
        `repository format version ${version} found; this release supports version ${SUPPORTED_VERSIONS.join(", ")}`,
      );
    }
  }
  const checked = configSchema.safeParse(json);
  if (!checked.success) {
    throw new LifeboatError("REPO_CONFIG_CORRUPT", `lifeboat.json is invalid: ${describe(checked.error)}`);
  }
  return checked.data;
}

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}
