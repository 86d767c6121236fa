/**
 * The change-tracking driver's IOCTL contract (docs/windows-agent.md) answered by the simulator's
 * dirty-block tracker: requests are decoded from bytes and answers encoded to bytes, so the agent's
 * FilterDriverTracker speaks the real protocol.
 */

import type { ChangeTracker } from "../../../adapters/sim/change-tracker.ts";
import { BlockMap } from "../../../domain/block-map.ts";
import {
  encodeGetChangesAnswer,
  encodeSwitchEpochAnswer,
  encodeTrackerState,
  parseGenerationRequest,
  parseGetChangesRequest,
  TRACKER_IOCTL,
} from "../../../formats/windows/tracker-ioctl.ts";
import type { SimDiskInfo, SimWindowsHost } from "./sim-windows-host.ts";
import { nativeError } from "./sim-errors.ts";

/** ERROR_REVISION_MISMATCH: the driver refuses a request naming another generation. */
const ERROR_REVISION_MISMATCH = 1306;

/** The simulator's 8-hex generation as the driver's GUID. */
function generationGuid(tracker: ChangeTracker): string {
  return `${tracker.generation.toUpperCase()}-0000-4000-8000-000000000000`;
}

export function trackerIoctl(
  sim: SimWindowsHost,
  disk: SimDiskInfo,
  code: number,
  input: Uint8Array | null,
  capacity: number,
): Uint8Array {
  const tracker = sim.host.tracker(disk.simId);
  const generation = generationGuid(tracker);
  const forgotten = sim.forgotten.get(disk.simId);
  const forgottenThrough = forgotten?.generation === generation ? forgotten.through : 0;
  const mismatch = (g: string) =>
    nativeError(`tracker request for generation ${g}, current is ${generation}`, {
      win32: ERROR_REVISION_MISMATCH,
      syscall: "DeviceIoControl",
    });
  switch (code) {
    case TRACKER_IOCTL.QUERY:
      return encodeTrackerState({
        active: true,
        generation,
        currentEpoch: tracker.epoch,
        forgottenThrough,
        grain: tracker.grain,
        capacity: sim.host.disk(disk.simId).capacity,
        lostReason: sim.lostReasons.get(disk.simId) ?? "none",
      });
    case TRACKER_IOCTL.SWITCH_EPOCH: {
      const req = parseGenerationRequest(input ?? new Uint8Array(0), "switch");
      if (req.generation !== generation) throw mismatch(req.generation);
      const token = tracker.switchEpoch();
      return encodeSwitchEpochAnswer(generation, Number(token.split(":")[1]));
    }
    case TRACKER_IOCTL.GET_CHANGES: {
      const req = parseGetChangesRequest(input ?? new Uint8Array(0));
      const blocks = Math.ceil(sim.host.disk(disk.simId).capacity / tracker.grain);
      if (req.generation !== generation)
        return encodeGetChangesAnswer({ status: "generation-mismatch", nextBlock: 0, runs: [] });
      if (req.sinceEpoch < forgottenThrough)
        return encodeGetChangesAnswer({ status: "forgotten", nextBlock: 0, runs: [] });
      if (req.uptoEpoch >= tracker.epoch)
        return encodeGetChangesAnswer({ status: "epoch-open", nextBlock: 0, runs: [] });
      const g = tracker.generation;
      const changes = tracker.changesSince(`${g}:${Math.max(1, req.sinceEpoch)}`, `${g}:${req.uptoEpoch}`);
      if (!(changes instanceof BlockMap))
        return encodeGetChangesAnswer({ status: "forgotten", nextBlock: 0, runs: [] });
      const room = Math.max(1, Math.floor((capacity - 24) / 16));
      const runs = [...changes.runs()].filter((r) => r.start + r.count > req.startBlock);
      const page = runs.slice(0, room).map((r) => ({
        start: Math.max(r.start, req.startBlock),
        count: r.start + r.count - Math.max(r.start, req.startBlock),
      }));
      const last = page[page.length - 1];
      const nextBlock = page.length < runs.length && last !== undefined ? last.start + last.count : blocks;
      return encodeGetChangesAnswer({ status: "ok", nextBlock, runs: page });
    }
    case TRACKER_IOCTL.FORGET: {
      const req = parseGenerationRequest(input ?? new Uint8Array(0), "forget");
      if (req.generation !== generation) throw mismatch(req.generation);
      tracker.forget(`${tracker.generation}:${req.epoch}`);
      sim.forgotten.set(disk.simId, { generation, through: Math.max(forgottenThrough, req.epoch) });
      return new Uint8Array(0);
    }
    default:
      throw nativeError("unknown tracker request", { win32: 1, syscall: "DeviceIoControl" });
  }
}
