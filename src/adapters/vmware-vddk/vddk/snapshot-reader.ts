/**
 * Reading one VM snapshot's disks through VDDK: connect with the snapshot's moref, open every disk
 * read-only, read sector-aligned ranges, and always close and disconnect — on success, on a failed
 * open, on release. A read broken under us (a DRS vMotion moves the VM to another host and its NFC
 * connection dies) is retried on a fresh connection, a bounded number of times.
 */

import { BlockMap } from "../../../domain/block-map.ts";
import { LifeboatError } from "../../../domain/errors.ts";
import type { Log } from "../../../ports/log.ts";
import {
  type ConnectParams,
  type NativeConnection,
  type NativeDisk,
  type NativeLibrary,
  OPEN_READ_ONLY,
  SECTOR,
  vddkError,
} from "./vddk-native.ts";

export interface SnapshotDisk {
  readonly id: string;
  /** `[datastore] dir/file.vmdk` as the snapshot's config names it. */
  readonly path: string;
}

export interface ReaderOptions {
  readonly retries?: number;
  readonly retryDelayMs?: number;
  readonly log: Log;
}

/** VDDK's QueryAllocatedBlocks works in chunks of at least 64 KiB. */
const ALLOCATION_CHUNK_SECTORS = 128;
const MAX_CHUNKS_PER_QUERY = 512 * 1024;

export class VddkSnapshotReader {
  #connection: NativeConnection | undefined;
  #disks = new Map<string, NativeDisk>();
  #generation = 0;
  #reconnecting: Promise<void> | undefined;
  #closed = false;
  transportMode = "";

  private constructor(
    readonly library: NativeLibrary,
    readonly params: ConnectParams,
    readonly paths: readonly SnapshotDisk[],
    readonly options: ReaderOptions,
  ) {}

  static async open(
    library: NativeLibrary,
    params: ConnectParams,
    paths: readonly SnapshotDisk[],
    options: ReaderOptions,
  ): Promise<VddkSnapshotReader> {
    const reader = new VddkSnapshotReader(library, params, paths, options);
    await reader.#connect();
    return reader;
  }

  async read(id: string, offset: number, length: number): Promise<Uint8Array> {
    const first = Math.floor(offset / SECTOR);
    const end = Math.ceil((offset + length) / SECTOR);
    const buffer = Buffer.alloc((end - first) * SECTOR);
    const retries = this.options.retries ?? 3;
    for (let attempt = 0; ; attempt++) {
      const generation = this.#generation;
      try {
        await this.#disk(id).read(first, end - first, buffer);
        break;
      } catch (e) {
        if (this.#closed || attempt >= retries) {
          throw new LifeboatError(
            "VDDK_FAILED",
            `reading ${id} at ${offset} failed ${attempt + 1} time(s): ${(e as Error).message}`,
            {
              cause: e,
            },
          );
        }
        this.options.log.warn(
          { disk: id, offset, attempt: attempt + 1, err: (e as Error).message },
          "VDDK read failed; reconnecting (the VM may have moved to another host)",
        );
        await sleep((this.options.retryDelayMs ?? 1_000) * (attempt + 1));
        await this.#reconnect(generation);
      }
    }
    const skip = offset - first * SECTOR;
    return skip === 0 && buffer.length === length ? buffer : buffer.subarray(skip, skip + length);
  }

  /** Allocated areas (VixDiskLib_QueryAllocatedBlocks, VDDK 6.7+) at 64 KiB, or null if unsupported. */
  async allocated(id: string, capacity: number): Promise<BlockMap | null> {
    const disk = this.#disk(id);
    const chunk = ALLOCATION_CHUNK_SECTORS;
    const grain = chunk * SECTOR;
    const map = BlockMap.forCapacity(grain, capacity);
    const sectors = Math.floor(capacity / SECTOR / chunk) * chunk;
    try {
      for (let start = 0; start < sectors; start += chunk * MAX_CHUNKS_PER_QUERY) {
        const count = Math.min(sectors - start, chunk * MAX_CHUNKS_PER_QUERY);
        const flat = await disk.queryAllocatedBlocks(start, count, chunk);
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const offset = (flat[i] as number) * SECTOR;
          const length = (flat[i + 1] as number) * SECTOR;
          if (length > 0)
            map.addRange(
              Math.floor(offset / grain),
              Math.ceil((offset + length) / grain) - Math.floor(offset / grain),
            );
        }
      }
    } catch (e) {
      this.options.log.info(
        { disk: id, err: (e as Error).message },
        "VDDK cannot list allocated blocks; reading the whole disk",
      );
      return null;
    }
    // A tail shorter than one chunk cannot be asked about: count it as allocated.
    if (sectors * SECTOR < capacity)
      map.addRange(
        Math.floor((sectors * SECTOR) / grain),
        map.blocks - Math.floor((sectors * SECTOR) / grain),
      );
    return map;
  }

  /** Closes every disk and disconnects; safe to call more than once. Throws the first failure, after trying all. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#reconnecting?.catch(() => undefined);
    await this.#teardown();
  }

  #disk(id: string): NativeDisk {
    const disk = this.#disks.get(id);
    if (disk === undefined) {
      if (this.paths.some((p) => p.id === id)) {
        throw new LifeboatError(
          "VDDK_FAILED",
          `disk ${id} has no open VDDK handle (the connection was lost and could not be re-opened)`,
        );
      }
      throw new LifeboatError("INTERNAL", `disk ${id} is not part of this snapshot`);
    }
    return disk;
  }

  async #connect(): Promise<void> {
    try {
      this.#connection = await this.library.connect(this.params);
    } catch (e) {
      throw vddkError(
        e,
        `VixDiskLib_ConnectEx to ${this.params.serverName} for ${this.params.vmxSpec} at ${this.params.snapshotRef}`,
      );
    }
    try {
      for (const { id, path } of this.paths) {
        const disk = await this.#connection.open(path, OPEN_READ_ONLY);
        this.#disks.set(id, disk);
        this.transportMode = (await disk.info()).transportMode;
      }
    } catch (e) {
      await this.#teardown().catch(() => undefined);
      throw vddkError(e, "VixDiskLib_Open");
    }
    this.#generation++;
    this.options.log.debug({ vm: this.params.vmxSpec, transport: this.transportMode }, "VDDK connected");
  }

  async #reconnect(failedGeneration: number): Promise<void> {
    if (this.#generation !== failedGeneration) return; // another read already reconnected
    this.#reconnecting ??= (async () => {
      try {
        await this.#teardown().catch((e: unknown) =>
          this.options.log.warn({ err: (e as Error).message }, "closing the broken VDDK connection failed"),
        );
        await this.#connect();
      } finally {
        this.#reconnecting = undefined;
      }
    })();
    await this.#reconnecting;
  }

  async #teardown(): Promise<void> {
    const errors: unknown[] = [];
    for (const [id, disk] of this.#disks) {
      this.#disks.delete(id);
      await disk.close().catch((e: unknown) => errors.push(e));
    }
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection !== undefined) await connection.disconnect().catch((e: unknown) => errors.push(e));
    for (const line of this.library.drainLog()) this.options.log.debug({ vddk: line }, "VDDK log");
    if (errors.length > 0) throw vddkError(errors[0], `closing ${this.params.vmxSpec}`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
