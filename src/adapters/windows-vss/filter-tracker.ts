/**
 * The filter-driver change tracker, spoken to through its IOCTL contract on the disk device
 * (src/formats/windows/tracker-ioctl.ts, docs/windows-agent.md). The driver keeps one dirty map per
 * epoch; the agent switches epochs before each snapshot, asks for the union since a committed
 * epoch, and lets the driver forget only what a committed point covers. A token names the
 * driver's generation and an epoch: another generation means the history was lost.
 */

import { BlockMap } from "../../domain/block-map.ts";
import type { ChangeReset, ChangeToken } from "../../domain/snapshot.ts";
import { WIN32_ERROR } from "../../formats/windows/layout.ts";
import {
  encodeForget,
  encodeGetChanges,
  encodeSwitchEpoch,
  parseGetChanges,
  parseSwitchEpoch,
  parseTrackerState,
  STATE_SIZE,
  TRACKER_IOCTL,
  type TrackerState,
} from "../../formats/windows/tracker-ioctl.ts";
import { type DiskChangeTracker, reset } from "./change-tracker.ts";
import { type NativeDevice, win32Code } from "./native.ts";

const TOKEN = /^lbt1:([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}):([1-9][0-9]{0,15})$/;
/** Runs per GET_CHANGES answer; the driver continues from NextBlock. */
const RUNS_PER_CALL = 65_536;

export function filterToken(generation: string, epoch: number): ChangeToken {
  return `lbt1:${generation}:${epoch}`;
}

export function parseFilterToken(token: ChangeToken): { generation: string; epoch: number } | undefined {
  const m = TOKEN.exec(token);
  return m === null ? undefined : { generation: m[1] as string, epoch: Number(m[2]) };
}

export class FilterDriverTracker implements DiskChangeTracker {
  readonly kind = "filter-driver";

  private constructor(
    readonly device: NativeDevice,
    readonly capacity: number,
  ) {}

  /** The tracker on this disk, or undefined when no tracking driver answers on it. */
  static async probe(device: NativeDevice, capacity: number): Promise<FilterDriverTracker | undefined> {
    try {
      const state = await queryState(device);
      return state.active ? new FilterDriverTracker(device, capacity) : undefined;
    } catch (e) {
      // No driver: the disk stack rejects the unknown control code.
      const code = win32Code(e);
      if (code === WIN32_ERROR.INVALID_FUNCTION || code === WIN32_ERROR.NOT_SUPPORTED) return undefined;
      throw e;
    }
  }

  async beforeSnapshot(): Promise<ChangeToken> {
    const state = await queryState(this.device);
    const { bytes } = await this.device.ioctl(
      TRACKER_IOCTL.SWITCH_EPOCH,
      encodeSwitchEpoch(state.generation),
      32,
    );
    const closed = parseSwitchEpoch(bytes);
    return filterToken(closed.generation, closed.closedEpoch);
  }

  async changes(since: ChangeToken, upto: ChangeToken): Promise<BlockMap | ChangeReset> {
    const from = parseFilterToken(since);
    const to = parseFilterToken(upto);
    if (from === undefined)
      return reset(`change token ${JSON.stringify(since)} is not a filter-driver token`);
    if (to === undefined) return reset(`change token ${JSON.stringify(upto)} is not a filter-driver token`);
    const state = await queryState(this.device);
    if (from.generation !== state.generation || to.generation !== state.generation) {
      const why = state.lostReason === "none" ? "it restarted" : state.lostReason;
      return reset(
        `the tracking driver's history was lost (${why}): its generation is ${state.generation}, the token's ${from.generation}`,
      );
    }
    if (state.capacity !== this.capacity)
      return reset(`the driver tracks ${state.capacity} bytes, the disk has ${this.capacity}`);
    if (from.epoch < state.forgottenThrough)
      return reset(`epochs up to ${state.forgottenThrough} were forgotten; ${since} is older`);
    if (from.epoch > to.epoch) return reset(`change token ${since} is newer than ${upto}`);
    const blocks = Math.ceil(state.capacity / state.grain);
    const map = new BlockMap(state.grain, blocks);
    for (let start = 0; start < blocks;) {
      const request = encodeGetChanges({
        generation: state.generation,
        sinceEpoch: from.epoch,
        uptoEpoch: to.epoch,
        startBlock: start,
      });
      const { bytes } = await this.device.ioctl(TRACKER_IOCTL.GET_CHANGES, request, 24 + RUNS_PER_CALL * 16);
      const answer = parseGetChanges(bytes, blocks);
      if (answer.status !== "ok")
        return reset(`the tracking driver answered ${answer.status} for epochs ${from.epoch}–${to.epoch}`);
      for (const run of answer.runs) map.addRange(run.start, run.count);
      if (answer.nextBlock <= start) return reset(`the tracking driver did not advance past block ${start}`);
      start = answer.nextBlock;
    }
    return map;
  }

  async committed(token: ChangeToken): Promise<void> {
    const t = parseFilterToken(token);
    if (t === undefined) return;
    const state = await queryState(this.device);
    // A token of an older generation names history that is already gone; nothing to forget.
    if (t.generation !== state.generation || t.epoch >= state.currentEpoch) return;
    await this.device.ioctl(TRACKER_IOCTL.FORGET, encodeForget(t.generation, t.epoch), 0);
  }
}

async function queryState(device: NativeDevice): Promise<TrackerState> {
  const { bytes } = await device.ioctl(TRACKER_IOCTL.QUERY, null, STATE_SIZE);
  return parseTrackerState(bytes);
}
