/**
 * Repository keys after init: a passphrase change re-wraps the master key (no data is rewritten),
 * and the master key can be exported for escrow.
 */

import { LifeboatError } from "../../domain/errors.ts";
import type { ObjectStore } from "../../ports/object-store.ts";
import { encodeKeyFile, wrapMasterKey } from "./keys.ts";
import { KEY_COPIES } from "./object-keys.ts";
import { openMasterKey, type Repository } from "./repository.ts";

/**
 * Re-wraps the master key under a new passphrase, one copy at a time: a crash between the two
 * leaves one copy under each passphrase, and either passphrase still opens the repository.
 */
export async function changePassphrase(
  repo: Repository,
  oldPassword: string,
  newPassword: string,
  kdfCost?: number,
): Promise<void> {
  const master = await requireMaster(repo.store, repo, oldPassword);
  if (newPassword === "") throw new LifeboatError("PASSWORD_REQUIRED", "the new passphrase is empty");
  for (const key of KEY_COPIES) {
    await repo.store.put(
      key,
      encodeKeyFile(await wrapMasterKey(master, newPassword, repo.config.repoId, kdfCost)),
    );
  }
}

/** The master key for escrow: whoever holds it can read every backup, so keep it offline. */
export async function exportMasterKey(
  repo: Repository,
  password: string,
): Promise<{ format: string; repoId: string; masterKey: string }> {
  const master = await requireMaster(repo.store, repo, password);
  return {
    format: "lifeboat-master-key-v1",
    repoId: repo.config.repoId,
    masterKey: Buffer.from(master).toString("base64"),
  };
}

async function requireMaster(store: ObjectStore, repo: Repository, password: string): Promise<Uint8Array> {
  if (repo.config.encryption === "none") {
    throw new LifeboatError("USAGE", "this repository is not encrypted: it has no key to change or export");
  }
  return openMasterKey(store, password, repo.config.repoId);
}
