/**
 * A simulated world: a host, its durable storage (the repository's store and the agent's local
 * state, as they are "on disk"), a fault schedule, and the one Lifeboat process running against
 * them. A crash kills the process; `restart` starts a new one from whatever is durable — exactly
 * what a real agent sees after it was killed.
 */

import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FaultInjector, SimulatedCrash } from "../../adapters/sim/fault-injector.ts";
import { FaultySource } from "../../adapters/sim/faulty-source.ts";
import { FaultyStateStore } from "../../adapters/sim/faulty-state-store.ts";
import { Prng } from "../../adapters/sim/prng.ts";
import { SimHost } from "../../adapters/sim/sim-host.ts";
import { MemoryStateStore } from "../../adapters/state-memory/memory-state-store.ts";
import { FaultyStore } from "../../adapters/store-decorators/faulty-store.ts";
import { RetryingStore } from "../../adapters/store-decorators/retrying-store.ts";
import { MemoryStore } from "../../adapters/store-memory/memory-store.ts";
import { Repository } from "../../engine/repository/repository.ts";
import { type SyncAttempt, SyncRunner } from "../../engine/sync-runner.ts";
import type { Log } from "../../ports/log.ts";
import type { ObjectStore } from "../../ports/object-store.ts";

export interface WorldOptions {
  readonly seed: number;
  readonly disks: number;
  readonly diskSize: number;
  /** Bytes per virtual second written to each disk. */
  readonly writeRate: number;
  readonly diffAreaBytes?: number;
  readonly log: Log;
  /** The durable object store (default: in memory). */
  readonly store?: ObjectStore;
  /** An existing repository on `store` to use instead of initialising one (then `password` opens it). */
  readonly existing?: { readonly password?: string };
  readonly encryption?: "none" | "aes-256-gcm";
  /** Flush packs and record resume progress this often (small values exercise resume). */
  readonly resumeEveryBytes?: number;
  /** The store's temp-file directory, where a writer that dies mid-put leaves a torn file. */
  readonly tempDir?: string;
}

export interface WorldAttempt extends SyncAttempt {
  /** The process died during the attempt (and has been restarted). */
  readonly crashed: boolean;
}

export class World {
  readonly host: SimHost;
  readonly faults = new FaultInjector();
  readonly source: FaultySource;
  /** What is durable: the repository's objects and the agent's local state. */
  readonly store: ObjectStore;
  readonly state = new MemoryStateStore();
  readonly #options: WorldOptions;
  readonly #password: string | undefined;
  readonly #retryRandom: Prng;
  #runner: SyncRunner | undefined;
  #repo: Repository | undefined;
  crashes = 0;

  private constructor(options: WorldOptions, store: ObjectStore, password: string | undefined) {
    this.#options = options;
    this.store = store;
    this.#password = password;
    this.host = new SimHost({
      seed: options.seed,
      disks: options.disks,
      diskSize: options.diskSize,
      writeRate: options.writeRate,
      ...(options.diffAreaBytes === undefined ? {} : { diffAreaBytes: options.diffAreaBytes }),
    });
    this.source = new FaultySource(this.host, this.faults);
    this.#retryRandom = new Prng(options.seed).fork("store-retry-jitter");
    const tempDir = options.tempDir;
    if (tempDir !== undefined) {
      this.faults.tornTemp = async (key, data) => {
        const name = `torn-${key.replaceAll("/", "_")}-${this.faults.step}`;
        await writeFile(join(tempDir, name), data.subarray(0, Math.floor(data.length / 2)));
      };
    }
  }

  static async create(options: WorldOptions): Promise<World> {
    const store = options.store ?? new MemoryStore();
    let password = options.existing?.password;
    if (options.existing === undefined) {
      const encryption = options.encryption ?? "aes-256-gcm";
      password = encryption === "none" ? undefined : randomBytes(18).toString("base64");
      await Repository.init(store, {
        encryption,
        ...(password === undefined ? {} : { password, kdfCost: 2 ** 12 }),
      });
    }
    const world = new World(options, store, password);
    await world.#startProcess();
    return world;
  }

  /** The running process's view of the repository. */
  get repo(): Repository {
    if (this.#repo === undefined) throw new Error("no process is running");
    return this.#repo;
  }

  /** An independent reader of the durable repository: no faults, no state shared with the process. */
  reader(): Promise<Repository> {
    return Repository.open(this.store, this.#password);
  }

  /** One schedule trigger. A crash during it restarts the process before this returns. */
  async trigger(): Promise<WorldAttempt> {
    const attempt = await (this.#runner as SyncRunner).tick();
    const crashed = attempt.error instanceof SimulatedCrash || this.faults.dead;
    if (crashed) await this.restart();
    return { ...attempt, crashed };
  }

  /** The process died: the host cleans up its snapshots, and a new process starts from durable state. */
  async restart(): Promise<void> {
    this.crashes++;
    this.#runner?.stop();
    this.#runner = undefined;
    this.#repo = undefined;
    await this.host.releaseOrphanedSnapshots();
    await this.#startProcess();
  }

  stop(): void {
    this.#runner?.stop();
  }

  async #startProcess(): Promise<void> {
    // A crash can strike while the new process opens the repository too; then it starts again.
    for (;;) {
      this.faults.revive();
      try {
        const repo = await Repository.open(this.#processStore(), this.#password);
        this.#repo = repo;
        this.#runner = new SyncRunner(
          {
            repo,
            source: this.source,
            clock: this.host.clock,
            log: this.#options.log,
            state: new FaultyStateStore(this.state, this.faults),
            faults: this.faults,
          },
          () => ({ resumeEveryBytes: this.#options.resumeEveryBytes ?? 256 * 1024 }),
        );
        return;
      } catch (e) {
        // The crash may surface wrapped (the retrying store reports it as a store error): what
        // counts is whether the process died.
        if (!this.faults.dead) throw e;
        this.crashes++;
      }
    }
  }

  /** What the process writes through: injected faults, then bounded retries (as in production). */
  #processStore(): ObjectStore {
    const faulty = new FaultyStore(this.store, (op, key) => this.faults.storeFault(op, key));
    return new RetryingStore(faulty, { clock: this.host.clock, random: () => this.#retryRandom.next() });
  }
}
