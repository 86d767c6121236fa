import { BlockMap } from "../../domain/block-map.ts";
import type { ChangeReset, ChangeToken } from "../../domain/snapshot.ts";
import type { Prng } from "./prng.ts";

/** Deliberately neither the 64 KiB chunk size nor the cluster size, so the engine must align. */
export const DEFAULT_TRACKER_GRAIN = 16 * 1024;

const TOKEN = /^([0-9a-f]{8}):([1-9][0-9]{0,14})$/;

export interface ChangeTrackerOptions {
  readonly capacity: number;
  readonly grain?: number;
  /** Draws the generation id of each tracker lifetime. */
  readonly prng: Prng;
}

interface ParsedToken {
  readonly generation: string;
  readonly epoch: number;
}

/**
 * A filter-driver-style dirty-block tracker for one disk. Writes mark blocks in the current epoch;
 * `switchEpoch` (called strictly before a snapshot) closes it and names the boundary with a token.
 * The changes since a token are the union of every later epoch up to the snapshot's own, so a
 * failed sync that never committed loses nothing: the next one asks from the same older token.
 */
export class ChangeTracker {
  readonly grain: number;
  readonly #prng: Prng;
  #capacity: number;
  #generation = "";
  #epoch = 1;
  /** Epochs at or before this one were dropped by `forget`. */
  #forgottenThrough = 0;
  #epochs = new Map<number, BlockMap>();
  #lostBecause: string | undefined;

  constructor(options: ChangeTrackerOptions) {
    this.grain = options.grain ?? DEFAULT_TRACKER_GRAIN;
    if (!Number.isSafeInteger(this.grain) || this.grain <= 0) throw new RangeError(`bad grain ${this.grain}`);
    this.#prng = options.prng;
    this.#capacity = options.capacity;
    this.#generation = this.#newGeneration();
  }

  get generation(): string {
    return this.#generation;
  }

  /** The epoch writes are landing in now. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Marks the blocks a write touched in the current epoch. */
  record(offset: number, length: number): void {
    if (length <= 0) return;
    let map = this.#epochs.get(this.#epoch);
    if (map === undefined) {
      map = BlockMap.forCapacity(this.grain, this.#capacity);
      this.#epochs.set(this.#epoch, map);
    }
    const first = Math.floor(offset / this.grain);
    const last = Math.floor((offset + length - 1) / this.grain);
    map.addRange(first, last - first + 1);
  }

  /** Closes the current epoch and returns the token naming that boundary. */
  switchEpoch(): ChangeToken {
    const token = `${this.#generation}:${this.#epoch}`;
    this.#epoch++;
    return token;
  }

  /** Blocks written after `since` and up to `upto` (both tokens of this tracker), or why not. */
  changesSince(since: ChangeToken, upto: ChangeToken): BlockMap | ChangeReset {
    const from = parseToken(since);
    const to = parseToken(upto);
    if (from === undefined || to === undefined) {
      return reset(`malformed change token ${JSON.stringify(from === undefined ? since : upto)}`);
    }
    for (const t of [from, to]) {
      if (t.generation !== this.#generation) {
        const why = this.#lostBecause === undefined ? "" : ` (tracking was lost: ${this.#lostBecause})`;
        return reset(
          `change token from tracker generation ${t.generation}, current is ${this.#generation}${why}`,
        );
      }
    }
    if (to.epoch >= this.#epoch) return reset(`change token ${upto} names an epoch that is still open`);
    if (from.epoch > to.epoch) return reset(`change token ${since} is newer than ${upto}`);
    if (from.epoch < this.#forgottenThrough) {
      return reset(`epochs up to ${this.#forgottenThrough} were forgotten; ${since} is older`);
    }
    let changes = BlockMap.forCapacity(this.grain, this.#capacity);
    for (let e = from.epoch + 1; e <= to.epoch; e++) {
      const map = this.#epochs.get(e);
      if (map !== undefined) changes = changes.union(map);
    }
    return changes;
  }

  /**
   * Drops the epochs at or before a committed token's. Tokens of another generation, or naming an
   * epoch still open, are ignored: nothing newer than a commit may ever be dropped.
   */
  forget(token: ChangeToken): void {
    const t = parseToken(token);
    if (t === undefined || t.generation !== this.#generation || t.epoch >= this.#epoch) return;
    if (t.epoch <= this.#forgottenThrough) return;
    for (const e of this.#epochs.keys()) if (e <= t.epoch) this.#epochs.delete(e);
    this.#forgottenThrough = t.epoch;
  }

  /** Unclean reboot, driver restart, resize: all history is gone and a new generation starts. */
  lose(reason: string, capacity = this.#capacity): void {
    this.#capacity = capacity;
    this.#generation = this.#newGeneration();
    this.#epoch = 1;
    this.#forgottenThrough = 0;
    this.#epochs = new Map();
    this.#lostBecause = reason;
  }

  #newGeneration(): string {
    let generation: string;
    do generation = this.#prng.u32().toString(16).padStart(8, "0");
    while (generation === this.#generation);
    return generation;
  }
}

function parseToken(token: ChangeToken): ParsedToken | undefined {
  const m = TOKEN.exec(token);
  if (m === null) return undefined;
  return { generation: m[1] as string, epoch: Number(m[2]) };
}

function reset(reason: string): ChangeReset {
  return { kind: "reset", reason };
}
