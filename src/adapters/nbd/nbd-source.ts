/**
 * A disk exported over NBD as a Source, with QEMU persistent dirty bitmaps as its change tracker
 * (`nbd://HOST:PORT/EXPORT?bitmap=CUR[&next=NEXT]`, ../shared/cli.md).
 *
 * NBD can read a bitmap (BLOCK_STATUS on `qemu:dirty-bitmap:NAME`) but cannot create, clear or
 * version one, so the protocol is explicit and the token is the bitmap's name: the operator quiesces
 * the image and creates NEXT empty; CUR has tracked every write since the last committed point,
 * whose recorded token must be CUR (else the planner resyncs); NEXT is recorded as the new token.
 * Without NEXT, CUR stays the token and keeps accumulating. A CUR the server does not export is a
 * reset (resync), never an error: resyncing by content hash is always correct, only slower.
 *
 * Allocation comes from `base:allocation`: only extents the server flags as reading zeros are
 * treated as unallocated, so a hole that might not read as zeros is still read.
 */

import { createHash } from "node:crypto";
import type { BlockMap } from "../../domain/block-map.ts";
import type { Disk } from "../../domain/disk.ts";
import { isLifeboatError, LifeboatError } from "../../domain/errors.ts";
import type { ChangeReset, ChangeToken } from "../../domain/snapshot.ts";
import { AllocationFlag, BASE_ALLOCATION, DIRTY, DIRTY_BITMAP_PREFIX } from "../../formats/nbd/protocol.ts";
import { displayNbdUri, type NbdAddress } from "../../formats/nbd/uri.ts";
import { type Log, silentLog } from "../../ports/log.ts";
import type { Source, SourceSnapshot } from "../../ports/source.ts";
import { NbdClient, NbdRequestError } from "./client.ts";
import { DEFAULT_RETRY, withRetry } from "./retry.ts";
import { statusMap } from "./status-map.ts";

export const DISK_ID = "disk0";

export interface NbdSourceOptions {
  /** Name in the repository (default: from the export and a hash of its address). */
  readonly name?: string;
  readonly log?: Log;
}

export class NbdSource implements Source {
  readonly name: string;
  readonly where: string;
  readonly bitmap: string | undefined;
  readonly next: string | undefined;
  readonly #address: NbdAddress;
  readonly #log: Log;
  #capacity: number | undefined;

  private constructor(address: NbdAddress, options: NbdSourceOptions) {
    this.#address = address;
    this.#log = options.log ?? silentLog;
    this.where = displayNbdUri(address);
    this.bitmap = bitmapParam(address, "bitmap");
    this.next = bitmapParam(address, "next");
    if (this.next !== undefined && this.bitmap === undefined) {
      throw new LifeboatError(
        "NBD_URI_INVALID",
        `${this.where}: next= needs bitmap= (the bitmap tracked so far)`,
      );
    }
    if (this.next !== undefined && this.next === this.bitmap) {
      throw new LifeboatError(
        "NBD_URI_INVALID",
        `${this.where}: next= must name a new bitmap, not bitmap= again`,
      );
    }
    this.name = options.name ?? defaultName(address);
  }

  /** Connects once to learn the export's size, so a wrong address fails before any work starts. */
  static async open(address: NbdAddress, options: NbdSourceOptions = {}): Promise<NbdSource> {
    const source = new NbdSource(address, options);
    const client = await NbdClient.connect(address, {
      ...(options.log === undefined ? {} : { log: options.log }),
    });
    source.#capacity = client.size;
    await client.close();
    return source;
  }

  /** The token a point made now records: NEXT, else CUR, else none (changes found by hashing). */
  get token(): ChangeToken | null {
    return this.next ?? this.bitmap ?? null;
  }

  async describe(): Promise<readonly Disk[]> {
    return [{ id: DISK_ID, capacity: this.#capacity ?? 0, sectorSize: 512, label: this.where }];
  }

  async openSnapshot(): Promise<SourceSnapshot> {
    const contexts = [BASE_ALLOCATION];
    for (const b of [this.bitmap, this.next]) if (b !== undefined) contexts.push(DIRTY_BITMAP_PREFIX + b);
    const client = await NbdClient.connect(this.#address, { metaContexts: contexts, log: this.#log });
    if (client.size !== this.#capacity) {
      this.#log.warn({ peer: this.where, was: this.#capacity, now: client.size }, "export size changed");
      this.#capacity = client.size;
    }
    return new NbdSnapshot(this, client, this.#log);
  }
}

class NbdSnapshot implements SourceSnapshot {
  readonly id: string;
  readonly takenAt = Date.now();
  readonly consistency = "none" as const;
  readonly disks: readonly Disk[];
  readonly warnings: string[] = [];
  readonly #source: NbdSource;
  readonly #client: NbdClient;
  readonly #log: Log;

  constructor(source: NbdSource, client: NbdClient, log: Log) {
    this.#source = source;
    this.#client = client;
    this.#log = log;
    this.id = `${source.where}@${this.takenAt}`;
    this.disks = [{ id: DISK_ID, capacity: client.size, sectorSize: 512, label: source.where }];
    this.warnings.push(
      `${source.where} is read live over NBD, not from a snapshot: quiesce the image (pause or stop the VM) while it is backed up`,
    );
    if (source.next !== undefined && client.contextId(DIRTY_BITMAP_PREFIX + source.next) === undefined) {
      this.warnings.push(
        `bitmap ${source.next} (next=) is not exported by ${source.where}: the next backup will resync; create it with \`qemu-img bitmap --add\` and export it (qemu-nbd -B)`,
      );
    }
    if (
      source.next === undefined &&
      source.bitmap !== undefined &&
      client.contextId(DIRTY_BITMAP_PREFIX + source.bitmap) === undefined
    ) {
      this.warnings.push(
        `bitmap ${source.bitmap} is not exported by ${source.where}: the next backup will resync too`,
      );
    }
  }

  read(_disk: string, offset: number, length: number): Promise<Uint8Array> {
    const read = this.#read(offset, length);
    // Readers keep several reads in flight and await them in order; a later one failing while an
    // earlier one is still retrying must not count as an unhandled rejection (which ends the
    // process). Whoever awaits this promise still gets the error.
    read.catch(() => undefined);
    return read;
  }

  async #read(offset: number, length: number): Promise<Uint8Array> {
    const max = this.#client.maxRequest;
    if (length <= max) return this.#call(() => this.#client.read(offset, length));
    const out = Buffer.allocUnsafe(length);
    for (let done = 0; done < length; done += max) {
      const n = Math.min(max, length - done);
      (await this.#call(() => this.#client.read(offset + done, n))).copy(out, done);
    }
    return out;
  }

  async allocation(): Promise<BlockMap | null> {
    const id = this.#client.contextId(BASE_ALLOCATION);
    if (id === undefined) return null;
    return statusMap(
      this.#client,
      id,
      this.#client.size,
      (f) => (f & AllocationFlag.ZERO) === 0,
      (run) => this.#call(run),
    );
  }

  async changes(_disk: string, since: ChangeToken): Promise<BlockMap | ChangeReset> {
    const cur = this.#source.bitmap;
    if (cur === undefined)
      return { kind: "reset", reason: `${this.#source.where} was given without bitmap=` };
    if (since !== cur) {
      return {
        kind: "reset",
        reason: `the last point recorded bitmap ${since}, but this backup reads bitmap ${cur}`,
      };
    }
    const id = this.#client.contextId(DIRTY_BITMAP_PREFIX + cur);
    if (id === undefined) {
      return {
        kind: "reset",
        reason: `bitmap ${cur} is not exported by ${this.#source.where} (deleted, not persistent, or qemu-nbd started without -B ${cur})`,
      };
    }
    return statusMap(
      this.#client,
      id,
      this.#client.size,
      (f) => (f & DIRTY) !== 0,
      (run) => this.#call(run),
    );
  }

  token(): ChangeToken | null {
    return this.#source.token;
  }

  abortReason(): undefined {
    return undefined;
  }

  async release(): Promise<void> {
    await this.#client.close();
  }

  async #call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(run, DEFAULT_RETRY, this.#log, this.#source.where);
    } catch (e) {
      if (e instanceof NbdRequestError) {
        throw new LifeboatError("SOURCE_READ", `${this.#source.where}: ${e.message}`, { cause: e });
      }
      if (isLifeboatError(e)) throw e;
      throw new LifeboatError("SOURCE_READ", `${this.#source.where}: ${(e as Error).message}`, { cause: e });
    }
  }
}

function bitmapParam(address: NbdAddress, key: "bitmap" | "next"): string | undefined {
  const value = address.params.get(key);
  if (value === undefined) return undefined;
  // QEMU's own limit on bitmap names; an empty name would silently mean "no tracker".
  if (value === "" || value.length > 1023) {
    throw new LifeboatError(
      "NBD_URI_INVALID",
      `${displayNbdUri(address)}: ${key}= must name a bitmap (1 to 1023 characters)`,
    );
  }
  return value;
}

function defaultName(address: NbdAddress): string {
  const label =
    address.exportName !== ""
      ? address.exportName
      : address.endpoint.transport === "tcp"
        ? address.endpoint.host
        : "socket";
  const stem =
    label
      .replace(/[^A-Za-z0-9._-]/g, "_")
      .replace(/^[^A-Za-z0-9]+/, "")
      .slice(0, 100) || "export";
  const hash = createHash("sha256").update(displayNbdUri(address)).digest("hex").slice(0, 8);
  return `nbd-${stem}-${hash}`;
}
