/** What every command needs: output mode, a logger, and a way to open the repository. */

import { readFile } from "node:fs/promises";
import pino from "pino";
import { RetryingStore } from "../adapters/store-decorators/retrying-store.ts";
import { ThrottledStore } from "../adapters/store-decorators/throttled-store.ts";
import { FsStore } from "../adapters/store-fs/fs-store.ts";
import { systemClock } from "../adapters/system/system-clock.ts";
import { LifeboatError } from "../domain/errors.ts";
import { Repository } from "../engine/repository/repository.ts";
import type { Log } from "../ports/log.ts";
import type { ObjectStore } from "../ports/object-store.ts";
import { parseSize } from "./output.ts";

export interface GlobalOptions {
  readonly json?: boolean;
  readonly passwordFile?: string;
  readonly logLevel?: string;
  /** Bytes per second to and from the repository (e.g. "20M"). */
  readonly bandwidthLimit?: string;
}

export function createLog(options: GlobalOptions): Log {
  const level = options.logLevel ?? process.env.LIFEBOAT_LOG_LEVEL ?? "warn";
  return pino(
    { level, base: { app: "lifeboat" }, redact: ["password", "secret", "*.password"] },
    pino.destination(2),
  );
}

/** The repository passphrase from LIFEBOAT_PASSWORD or --password-file (never a flag: flags show in ps). */
export async function readPassword(options: GlobalOptions): Promise<string | undefined> {
  if (options.passwordFile !== undefined) {
    try {
      return (await readFile(options.passwordFile, "utf8")).replace(/\r?\n$/, "");
    } catch (e) {
      throw new LifeboatError("CONFIG_INVALID", `cannot read password file ${options.passwordFile}`, {
        cause: e,
        remedy: "Point --password-file at a readable file holding the passphrase.",
      });
    }
  }
  const env = process.env.LIFEBOAT_PASSWORD;
  return env === undefined || env === "" ? undefined : env;
}

export async function openStore(
  repo: string,
  create = false,
  options: GlobalOptions = {},
): Promise<ObjectStore> {
  if (repo.startsWith("s3://")) {
    // Loaded only for S3 repositories: the AWS SDK adds ~200 ms to every command's start-up.
    const { S3Store } = await import("../adapters/store-s3/s3-store.ts");
    const { assertCreateOnlyHonoured } = await import("../adapters/store-s3/create-only-probe.ts");
    const s3 = S3Store.fromUrl(repo, process.env);
    let log: Log | undefined;
    const store = new RetryingStore(s3, {
      clock: systemClock,
      onRetry: ({ op, key, attempt, delayMs, error }) =>
        (log ??= createLog(options)).warn(
          { op, key, attempt, delayMs, error: error instanceof Error ? error.message : String(error) },
          "S3 request failed; retrying",
        ),
    });
    // A repository is only created on a server whose create-only writes hold (see create-only-probe.ts).
    if (create) await assertCreateOnlyHonoured(store, `the S3 server behind ${s3.location}`);
    return throttled(store, options);
  }
  return throttled(await (create ? FsStore.create(repo) : FsStore.open(repo)), options);
}

/** `--bandwidth-limit RATE`: one token bucket over every byte to and from the repository. */
function throttled(store: ObjectStore, options: GlobalOptions): ObjectStore {
  if (options.bandwidthLimit === undefined) return store;
  let bytesPerSecond: number;
  try {
    bytesPerSecond = parseSize(options.bandwidthLimit);
  } catch {
    bytesPerSecond = Number.NaN;
  }
  if (!(bytesPerSecond > 0)) {
    throw new LifeboatError(
      "USAGE",
      `--bandwidth-limit ${JSON.stringify(options.bandwidthLimit)} is not a rate`,
      {
        remedy: "Give bytes per second, e.g. --bandwidth-limit 20M (20 MiB/s).",
      },
    );
  }
  return new ThrottledStore(store, { clock: systemClock, bytesPerSecond });
}

export async function openRepository(repo: string, options: GlobalOptions): Promise<Repository> {
  return Repository.open(await openStore(repo, false, options), await readPassword(options));
}
