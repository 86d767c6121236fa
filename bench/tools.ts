/**
 * The three backup tools as the comparison drives them, each through its own command line with a
 * local repository, encryption on (restic 0.14 cannot turn it off), and its caches inside the bench
 * work directory so every run starts cold on metadata and warm on the image's page cache, alike.
 */

import { cp, mkdir, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LifeboatError } from "../src/domain/errors.ts";
import { type Measurement, measure, requireExecutable, runOrThrow } from "./measure.ts";
import { directoryBytes, type RepoUsage, repoUsage, type Tool } from "./repo-size.ts";

export const LIFEBOAT_BIN = resolve(dirname(fileURLToPath(import.meta.url)), "..", "bin", "lifeboat.js");
const PASSWORD = "lifeboat-bench-passphrase";

/** One backup step: the full, or an incremental after a mutation (with its changed extents file). */
export interface BackupStep {
  readonly extentsFile?: string;
}

export interface BackupOutcome {
  readonly measurement: Measurement;
  /** Lifeboat's own account of the job (mode, bytes read and stored); absent for the peers. */
  readonly report?: { mode: string; bytesRead: number; bytesStored: number };
}

export interface BackupTool {
  /** Row name in the tables. */
  readonly id: string;
  readonly tool: Tool;
  readonly repo: string;
  init(): Promise<void>;
  backup(step: BackupStep): Promise<BackupOutcome>;
  /** Restores the latest point into `targetDir`; returns the restored image's path. */
  restore(targetDir: string): Promise<{ measurement: Measurement; restored: string }>;
  usage(): Promise<RepoUsage>;
  /** Bytes of local state/cache the tool keeps outside the repository. */
  cacheBytes(): Promise<number>;
}

export async function checkTools(tools: readonly Tool[]): Promise<void> {
  await requireExecutable("/usr/bin/time", "time");
  if (tools.includes("restic")) await requireExecutable("/usr/bin/restic", "restic");
  if (tools.includes("borg")) await requireExecutable("/usr/bin/borg", "borgbackup");
}

export class LifeboatTool implements BackupTool {
  readonly tool = "lifeboat";
  readonly repo: string;
  readonly #state: string;
  #lastPoint: string | undefined;

  /** @param changeMap pass the mutation's extents (`--changed-extents`) rather than hash-compare */
  constructor(
    readonly id: string,
    dir: string,
    readonly image: string,
    readonly changeMap: boolean,
  ) {
    this.repo = join(dir, "repo");
    this.#state = join(dir, "state");
  }

  async init(): Promise<void> {
    await runOrThrow(process.execPath, [LIFEBOAT_BIN, "repo", "init", "--repo", this.repo], {
      env: this.#env(),
    });
  }

  /** Takes over another Lifeboat's repository and state (so both variants share one full backup). */
  async adopt(other: LifeboatTool): Promise<void> {
    await rm(this.repo, { recursive: true, force: true });
    await rm(this.#state, { recursive: true, force: true });
    await cp(other.repo, this.repo, { recursive: true });
    // The state directory holds only resume logs, which a committed job clears; it may not exist.
    await cp(other.#state, this.#state, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
    this.#lastPoint = other.#lastPoint;
  }

  async backup(step: BackupStep): Promise<BackupOutcome> {
    const args = ["--json", "backup", "--source", `image:${this.image}`, "--repo", this.repo];
    args.push("--state-dir", this.#state);
    if (this.changeMap && step.extentsFile !== undefined) {
      if (this.#lastPoint === undefined) throw new LifeboatError("INTERNAL", "incremental before a full");
      args.push("--changed-extents", step.extentsFile, "--base", this.#lastPoint);
    }
    const measurement = await measure({
      command: process.execPath,
      args: [LIFEBOAT_BIN, ...args],
      env: this.#env(),
    });
    const result = JSON.parse(measurement.stdout) as {
      point: { id: string };
      mode: string;
      bytesRead: number;
      bytesStored: number;
    };
    this.#lastPoint = result.point.id;
    return {
      measurement,
      report: { mode: result.mode, bytesRead: result.bytesRead, bytesStored: result.bytesStored },
    };
  }

  async restore(targetDir: string): Promise<{ measurement: Measurement; restored: string }> {
    if (this.#lastPoint === undefined) throw new LifeboatError("INTERNAL", "restore before any backup");
    const restored = join(targetDir, "lifeboat.img");
    const measurement = await measure({
      command: process.execPath,
      args: [
        LIFEBOAT_BIN,
        "--json",
        "restore",
        "--repo",
        this.repo,
        "--point",
        this.#lastPoint,
        "--to",
        restored,
      ],
      env: this.#env(),
    });
    return { measurement, restored };
  }

  usage(): Promise<RepoUsage> {
    return repoUsage(this.repo, "lifeboat");
  }

  cacheBytes(): Promise<number> {
    return directoryBytes(this.#state);
  }

  #env(): NodeJS.ProcessEnv {
    return { ...process.env, LIFEBOAT_PASSWORD: PASSWORD, LIFEBOAT_LOG_LEVEL: "warn" };
  }
}

export class ResticTool implements BackupTool {
  readonly id = "restic";
  readonly tool = "restic";
  readonly repo: string;
  readonly #cache: string;

  constructor(
    dir: string,
    readonly image: string,
  ) {
    this.repo = join(dir, "repo");
    this.#cache = join(dir, "cache");
  }

  async init(): Promise<void> {
    await runOrThrow("restic", ["-r", this.repo, "init", "--repository-version", "2"], { env: this.#env() });
  }

  async backup(): Promise<BackupOutcome> {
    return {
      measurement: await measure({
        command: "restic",
        args: ["-r", this.repo, "backup", "--quiet", "--host", "bench", this.image],
        env: this.#env(),
      }),
    };
  }

  async restore(targetDir: string): Promise<{ measurement: Measurement; restored: string }> {
    const measurement = await measure({
      command: "restic",
      args: ["-r", this.repo, "restore", "latest", "--quiet", "--target", targetDir],
      env: this.#env(),
    });
    return { measurement, restored: join(targetDir, this.image) };
  }

  usage(): Promise<RepoUsage> {
    return repoUsage(this.repo, "restic");
  }

  cacheBytes(): Promise<number> {
    return directoryBytes(this.#cache);
  }

  #env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      RESTIC_PASSWORD: PASSWORD,
      RESTIC_CACHE_DIR: this.#cache,
      RESTIC_COMPRESSION: "auto",
    };
  }
}

export class BorgTool implements BackupTool {
  readonly id = "borg";
  readonly tool = "borg";
  readonly repo: string;
  readonly #base: string;
  #archives = 0;

  constructor(
    dir: string,
    readonly image: string,
  ) {
    this.repo = join(dir, "repo");
    this.#base = join(dir, "home");
  }

  async init(): Promise<void> {
    await mkdir(this.#base, { recursive: true });
    await runOrThrow("borg", ["init", "--encryption", "repokey", this.repo], { env: this.#env() });
  }

  async backup(): Promise<BackupOutcome> {
    this.#archives++;
    return {
      measurement: await measure({
        command: "borg",
        args: ["create", "--compression", "lz4", `${this.repo}::b${this.#archives}`, basename(this.image)],
        cwd: dirname(this.image),
        env: this.#env(),
      }),
    };
  }

  async restore(targetDir: string): Promise<{ measurement: Measurement; restored: string }> {
    const measurement = await measure({
      command: "borg",
      args: ["extract", `${this.repo}::b${this.#archives}`, basename(this.image)],
      cwd: targetDir,
      env: this.#env(),
    });
    return { measurement, restored: join(targetDir, basename(this.image)) };
  }

  usage(): Promise<RepoUsage> {
    return repoUsage(this.repo, "borg");
  }

  cacheBytes(): Promise<number> {
    return directoryBytes(this.#base);
  }

  #env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      BORG_PASSPHRASE: PASSWORD,
      BORG_BASE_DIR: this.#base,
      BORG_RELOCATED_REPO_ACCESS_IS_OK: "yes",
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: "yes",
    };
  }
}
