/**
 * Repository keys. A random master key is wrapped by a key derived from the passphrase (scrypt) and
 * stored twice (`keys/0`, `keys/1`), so one damaged copy never locks the data away and a passphrase
 * change re-wraps 32 bytes instead of re-encrypting the repository. HKDF splits the master key into
 * the chunk-id key and the data key, so knowing chunk ids reveals nothing about the data key.
 */

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt } from "node:crypto";
import { z } from "zod";
import { LifeboatError } from "../../domain/errors.ts";

export const MASTER_KEY_BYTES = 32;
export const DEFAULT_KDF_COST = 2 ** 15;
const KDF_R = 8;
const KDF_P = 1;
/** Bounds on scrypt N a key file may ask for: below is a toy, above would exhaust memory. */
const MIN_KDF_COST = 2 ** 4;
const MAX_KDF_COST = 2 ** 22;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** One copy of the wrapped master key (`keys/<n>`, plain JSON). */
export interface KeyFile {
  version: 1;
  kdf: { name: "scrypt"; N: number; r: number; p: number; salt: string };
  cipher: "aes-256-gcm";
  nonce: string;
  /** Wrapped master key followed by the GCM tag, base64. */
  wrapped: string;
}

const base64 = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9+/]*={0,2}$/)
    .refine((s) => Buffer.from(s, "base64").length === bytes, `must decode to ${bytes} bytes`);

const keyFileSchema = z
  .object({
    version: z.literal(1),
    kdf: z
      .object({
        name: z.literal("scrypt"),
        N: z
          .number()
          .int()
          .min(MIN_KDF_COST)
          .max(MAX_KDF_COST)
          .refine((n) => (n & (n - 1)) === 0, "must be a power of two"),
        r: z.number().int().min(1).max(32),
        p: z.number().int().min(1).max(16),
        salt: base64(16),
      })
      .strict(),
    cipher: z.literal("aes-256-gcm"),
    nonce: base64(NONCE_BYTES),
    wrapped: base64(MASTER_KEY_BYTES + TAG_BYTES),
  })
  .strict();

export interface DerivedKeys {
  /** Keys the chunk-id HMAC. */
  readonly idKey: Uint8Array;
  /** Input to the per-object key derivation of every sealed object. */
  readonly dataKey: Uint8Array;
}

export function newMasterKey(): Uint8Array {
  return randomBytes(MASTER_KEY_BYTES);
}

export function checkKdfCost(cost: number): void {
  if (
    !Number.isSafeInteger(cost) ||
    cost < MIN_KDF_COST ||
    cost > MAX_KDF_COST ||
    (cost & (cost - 1)) !== 0
  ) {
    throw new LifeboatError("CONFIG_INVALID", `scrypt cost ${cost} must be a power of two from 2^4 to 2^22`);
  }
}

/** Wraps the master key under the passphrase; each call uses a fresh salt and nonce. */
export async function wrapMasterKey(
  master: Uint8Array,
  password: string,
  repoId: string,
  cost = DEFAULT_KDF_COST,
): Promise<KeyFile> {
  checkKdfCost(cost);
  const salt = randomBytes(16);
  const nonce = randomBytes(NONCE_BYTES);
  const kek = await deriveKek(password, salt, cost, KDF_R, KDF_P);
  const cipher = createCipheriv("aes-256-gcm", kek, nonce);
  cipher.setAAD(masterKeyAd(repoId));
  const wrapped = Buffer.concat([cipher.update(master), cipher.final(), cipher.getAuthTag()]);
  return {
    version: 1,
    kdf: { name: "scrypt", N: cost, r: KDF_R, p: KDF_P, salt: salt.toString("base64") },
    cipher: "aes-256-gcm",
    nonce: nonce.toString("base64"),
    wrapped: wrapped.toString("base64"),
  };
}

export function encodeKeyFile(file: KeyFile): Uint8Array {
  return Buffer.from(`${JSON.stringify(file, null, 2)}\n`, "utf8");
}

/** Parses one key copy; undefined if it is damaged (the other copy may still open the repository). */
export function decodeKeyFile(bytes: Uint8Array): KeyFile | undefined {
  try {
    const checked = keyFileSchema.safeParse(JSON.parse(Buffer.from(bytes).toString("utf8")));
    return checked.success ? checked.data : undefined;
  } catch {
    // Unparseable JSON is a damaged copy, reported by the caller if no copy opens.
    return undefined;
  }
}

/** The master key, or undefined when the GCM tag does not verify (wrong passphrase or damaged copy). */
export async function unwrapMasterKey(
  file: KeyFile,
  password: string,
  repoId: string,
): Promise<Uint8Array | undefined> {
  const kek = await deriveKek(
    password,
    Buffer.from(file.kdf.salt, "base64"),
    file.kdf.N,
    file.kdf.r,
    file.kdf.p,
  );
  const wrapped = Buffer.from(file.wrapped, "base64");
  const decipher = createDecipheriv("aes-256-gcm", kek, Buffer.from(file.nonce, "base64"));
  decipher.setAAD(masterKeyAd(repoId));
  decipher.setAuthTag(wrapped.subarray(MASTER_KEY_BYTES));
  try {
    return Buffer.concat([decipher.update(wrapped.subarray(0, MASTER_KEY_BYTES)), decipher.final()]);
  } catch {
    // A failed tag is the expected outcome of a wrong passphrase, not an exception to propagate.
    return undefined;
  }
}

/** Splits the master key; the repository id as salt keeps two repositories' keys apart. */
export function deriveKeys(master: Uint8Array, repoId: string): DerivedKeys {
  const salt = Buffer.from(repoId, "hex");
  return {
    idKey: new Uint8Array(hkdfSync("sha256", master, salt, "lifeboat v1 chunk-id", 32)),
    dataKey: new Uint8Array(hkdfSync("sha256", master, salt, "lifeboat v1 data", 32)),
  };
}

function masterKeyAd(repoId: string): Buffer {
  return Buffer.from(`lifeboat v1 master key|${repoId}`, "utf8");
}

function deriveKek(password: string, salt: Uint8Array, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // scrypt needs 128·N·r bytes; Node's default cap (32 MiB) is exactly the default cost, so raise it.
    scrypt(password.normalize("NFC"), salt, 32, { N, r, p, maxmem: 256 * N * r + (1 << 20) }, (err, key) =>
      err === null ? resolve(key) : reject(err),
    );
  });
}
