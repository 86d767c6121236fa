/** What every command needs: output mode, a logger, and a way to open the repository. */

import { readFile } from "node:fs/promises";
import pino from "pino";
import { FsStore } from "../adapters/store-fs/fs-store.ts";
import { LifeboatError } from "../domain/errors.ts";
import { Repository } from "../engine/repository/repository.ts";
import type { Log } from "../ports/log.ts";
import type { ObjectStore } from "../ports/object-store.ts";

export interface GlobalOptions {
  readonly json?: boolean;
  readonly passwordFile?: string;
  readonly logLevel?: string;
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

export async function openStore(repo: string, create = false): Promise<ObjectStore> {
  if (repo.startsWith("s3://")) {
    throw new LifeboatError("USAGE", `S3 repositories are not available in this build: ${repo}`, {
      remedy: "Use a local directory as the repository for now.",
    });
  }
  return create ? FsStore.create(repo) : FsStore.open(repo);
}

export async function openRepository(repo: string, options: GlobalOptions): Promise<Repository> {
  return Repository.open(await openStore(repo), await readPassword(options));
}
