/**
 * Changed block tracking of one simulated virtual disk, with the semantics real ESXi shows
 * (../shared/fixtures/vsphere/README.md): tracking starts only at the first stun after it is
 * enabled; a changeId is a UUID in VMware's spaced-hex form plus `/N`, where N grows with every
 * stun (snapshot create or remove); changes are kept per epoch at a 64 KiB grain, so a query
 * returns 64 KiB-aligned areas; a resize or Storage vMotion resets tracking (a new UUID at the next
 * stun); a revert brings back the tracking state the snapshot had, so N goes backwards.
 */

import { BlockMap } from "../../../domain/block-map.ts";

export const CBT_GRAIN = 64 * 1024;

/** Tracking state frozen at a stun, as a snapshot remembers it. */
export interface TrackingState {
  readonly active: boolean;
  readonly uuid: string;
  readonly seq: number;
  /** Closed epochs 1…seq: blocks written while each was open. Closed epochs never change. */
  readonly epochs: ReadonlyMap<number, BlockMap>;
}

export class DiskChangeTracking {
  enabled = false;
  #active = false;
  #uuid = "";
  #seq = 0;
  #epochs = new Map<number, BlockMap>();
  #open: BlockMap;

  constructor(
    private capacity: number,
    private readonly newUuid: () => string,
  ) {
    this.#open = BlockMap.forCapacity(CBT_GRAIN, capacity);
  }

  /** The disk backing's changeId now, or undefined while tracking is not active. */
  get changeId(): string | undefined {
    return this.#active ? `${this.#uuid}/${this.#seq}` : undefined;
  }

  /** Records a guest write. */
  written(offset: number, length: number): void {
    if (!this.#active || length <= 0) return;
    const first = Math.floor(offset / CBT_GRAIN);
    const last = Math.floor((offset + length - 1) / CBT_GRAIN);
    this.#open.addRange(first, last - first + 1);
  }

  /** A stun/unstun (snapshot create or remove, power on): starts tracking or closes the open epoch. */
  stun(): void {
    if (!this.enabled) return;
    if (!this.#active) {
      this.#active = true;
      this.#uuid = this.newUuid();
      this.#seq = 1;
      this.#epochs = new Map();
      this.#open = BlockMap.forCapacity(CBT_GRAIN, this.capacity);
    }
    this.#seq += 1;
    this.#epochs.set(this.#seq, this.#open);
    this.#open = BlockMap.forCapacity(CBT_GRAIN, this.capacity);
  }

  /** Tracking is lost (disk resized, Storage vMotion): a new UUID starts at the next stun. */
  reset(capacity = this.capacity): void {
    this.capacity = capacity;
    this.#active = false;
    this.#epochs = new Map();
    this.#open = BlockMap.forCapacity(CBT_GRAIN, capacity);
  }

  disable(): void {
    this.enabled = false;
    this.reset();
  }

  state(): TrackingState {
    return { active: this.#active, uuid: this.#uuid, seq: this.#seq, epochs: new Map(this.#epochs) };
  }

  /** Back to a snapshot's state (revert): later epochs are forgotten, N goes backwards. */
  restore(state: TrackingState, capacity: number): void {
    this.capacity = capacity;
    this.#active = state.active;
    this.#uuid = state.uuid;
    this.#seq = state.seq;
    this.#epochs = new Map(state.epochs);
    this.#open = BlockMap.forCapacity(CBT_GRAIN, capacity);
  }
}

/** Blocks changed after `fromSeq` up to the state's own seq (empty when fromSeq is not older). */
export function changedSince(state: TrackingState, fromSeq: number, capacity: number): BlockMap {
  let map = BlockMap.forCapacity(CBT_GRAIN, capacity);
  for (let seq = fromSeq + 1; seq <= state.seq; seq++) {
    const epoch = state.epochs.get(seq);
    if (epoch !== undefined) map = map.union(resized(epoch, map.blocks));
  }
  return map;
}

function resized(map: BlockMap, blocks: number): BlockMap {
  if (map.blocks === blocks) return map;
  const out = new BlockMap(map.grain, blocks);
  for (const r of map.runs()) {
    if (r.start >= blocks) break;
    out.addRange(r.start, Math.min(r.count, blocks - r.start));
  }
  return out;
}

/** VMware's changeId UUID spelling: `52 2d 7b 8f ac 61 51 cc-77 4c 7b ec 91 50 bb 7b`. */
export function vmwareUuid(bytes: Uint8Array): string {
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0"));
  return `${hex.slice(0, 8).join(" ")}-${hex.slice(8, 16).join(" ")}`;
}
