/**
 * The changed-block tracker driver's IOCTL contract (docs/windows-agent.md, "Filter-driver
 * contract"): four METHOD_BUFFERED requests sent to the disk device the filter sits on. Every
 * structure starts with a magic and a version so a mismatched driver is refused, never
 * misread; all integers are little-endian.
 */

import { ByteReader, encodeGuid } from "./byte-reader.ts";
import { ctlCode } from "./layout.ts";

/** A vendor device type (0x8000–0xFFFF) and vendor function codes (0x800–0xFFF). */
const DEVICE = 0xb10c;
const READ_ACCESS = 1;

export const TRACKER_IOCTL = {
  QUERY: ctlCode(DEVICE, 0x800, 0, READ_ACCESS),
  SWITCH_EPOCH: ctlCode(DEVICE, 0x801, 0, READ_ACCESS),
  GET_CHANGES: ctlCode(DEVICE, 0x802, 0, READ_ACCESS),
  FORGET: ctlCode(DEVICE, 0x803, 0, READ_ACCESS),
} as const;

export const TRACKER_VERSION = 1;
const MAGIC = {
  state: 0x5354424c,
  switch: 0x5754424c,
  changes: 0x4354424c,
  forget: 0x4654424c,
  runs: 0x5254424c,
};

/** Why the driver's history began anew (generation changed). */
export const LOST_REASONS = [
  "none",
  "unclean shutdown",
  "driver restart",
  "disk capacity changed",
  "tracking memory exhausted",
] as const;

export interface TrackerState {
  readonly active: boolean;
  /** Changes whenever history is lost; a token of another generation means resync. */
  readonly generation: string;
  /** The epoch writes land in now. */
  readonly currentEpoch: number;
  /** Epochs at or before this were forgotten. */
  readonly forgottenThrough: number;
  /** Bytes per tracked block. */
  readonly grain: number;
  readonly capacity: number;
  readonly lostReason: string;
}

export const STATE_SIZE = 64;

export function parseTrackerState(bytes: Uint8Array): TrackerState {
  const r = new ByteReader(bytes, "LBT_STATE");
  header(r, MAGIC.state);
  const flags = r.u16(6, "Flags");
  const grain = r.u32(40, "Grain");
  const capacity = r.i64(48, "Capacity");
  const lost = r.u32(56, "LostReason");
  const state: TrackerState = {
    active: (flags & 1) !== 0,
    generation: r.guid(8, "Generation"),
    currentEpoch: r.i64(24, "CurrentEpoch"),
    forgottenThrough: r.i64(32, "ForgottenThrough"),
    grain,
    capacity,
    lostReason: LOST_REASONS[lost] ?? `reason ${lost}`,
  };
  if (grain < 512 || (grain & (grain - 1)) !== 0) r.fail(`Grain ${grain} is not a power of two ≥ 512`);
  if (state.currentEpoch < 1 || state.forgottenThrough < 0 || state.forgottenThrough >= state.currentEpoch) {
    r.fail(`epochs out of order: current ${state.currentEpoch}, forgotten through ${state.forgottenThrough}`);
  }
  return state;
}

export function encodeTrackerState(state: TrackerState): Uint8Array {
  const out = new Uint8Array(STATE_SIZE);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC.state, true);
  view.setUint16(4, TRACKER_VERSION, true);
  view.setUint16(6, state.active ? 1 : 0, true);
  out.set(encodeGuid(state.generation), 8);
  view.setBigInt64(24, BigInt(state.currentEpoch), true);
  view.setBigInt64(32, BigInt(state.forgottenThrough), true);
  view.setUint32(40, state.grain, true);
  view.setBigInt64(48, BigInt(state.capacity), true);
  view.setUint32(
    56,
    Math.max(0, LOST_REASONS.indexOf(state.lostReason as (typeof LOST_REASONS)[number])),
    true,
  );
  return out;
}

/** SWITCH_EPOCH input: refused by the driver unless `generation` is still current. */
export function encodeSwitchEpoch(generation: string): Uint8Array {
  return request(MAGIC.switch, generation, 24);
}

/** SWITCH_EPOCH output: the epoch just closed (the boundary the snapshot's token names). */
export function parseSwitchEpoch(bytes: Uint8Array): { generation: string; closedEpoch: number } {
  const r = new ByteReader(bytes, "LBT_SWITCH_OUT");
  header(r, MAGIC.switch);
  const closedEpoch = r.i64(24, "ClosedEpoch");
  if (closedEpoch < 1) r.fail(`ClosedEpoch ${closedEpoch}`);
  return { generation: r.guid(8, "Generation"), closedEpoch };
}

export function encodeSwitchEpochAnswer(generation: string, closedEpoch: number): Uint8Array {
  const out = request(MAGIC.switch, generation, 32);
  new DataView(out.buffer).setBigInt64(24, BigInt(closedEpoch), true);
  return out;
}

export interface ChangesRequest {
  readonly generation: string;
  /** Exclusive: changes after this epoch… */
  readonly sinceEpoch: number;
  /** …up to and including this one. */
  readonly uptoEpoch: number;
  /** Continue from this block (0 for the first request). */
  readonly startBlock: number;
}

export function encodeGetChanges(req: ChangesRequest): Uint8Array {
  const out = request(MAGIC.changes, req.generation, 48);
  const view = new DataView(out.buffer);
  view.setBigInt64(24, BigInt(req.sinceEpoch), true);
  view.setBigInt64(32, BigInt(req.uptoEpoch), true);
  view.setBigInt64(40, BigInt(req.startBlock), true);
  return out;
}

export function parseGetChangesRequest(bytes: Uint8Array): ChangesRequest {
  const r = new ByteReader(bytes, "LBT_CHANGES_IN");
  header(r, MAGIC.changes);
  return {
    generation: r.guid(8, "Generation"),
    sinceEpoch: r.i64(24, "SinceEpoch"),
    uptoEpoch: r.i64(32, "UptoEpoch"),
    startBlock: r.i64(40, "StartBlock"),
  };
}

/** GET_CHANGES status: the union was returned, or the epochs asked for are gone. */
export type ChangesStatus = "ok" | "forgotten" | "generation-mismatch" | "epoch-open";
const STATUSES: readonly ChangesStatus[] = ["ok", "forgotten", "generation-mismatch", "epoch-open"];

export interface ChangesAnswer {
  readonly status: ChangesStatus;
  /** Where to continue; equal to the disk's block count when the union is complete. */
  readonly nextBlock: number;
  readonly runs: ReadonlyArray<{ start: number; count: number }>;
}

const RUNS_HEADER = 24;

export function parseGetChanges(bytes: Uint8Array, blocks: number): ChangesAnswer {
  const r = new ByteReader(bytes, "LBT_CHANGES_OUT");
  header(r, MAGIC.runs);
  const statusCode = r.u32(8, "Status");
  const status = STATUSES[statusCode] ?? r.fail(`Status ${statusCode}`);
  const count = r.u32(12, "RunCount");
  const nextBlock = r.i64(16, "NextBlock");
  if (count > Math.floor((bytes.length - RUNS_HEADER) / 16)) r.fail(`RunCount ${count} exceeds the buffer`);
  const runs = [];
  let end = 0;
  for (let i = 0; i < count; i++) {
    const start = r.i64(RUNS_HEADER + i * 16, `Runs[${i}].Start`);
    const n = r.i64(RUNS_HEADER + i * 16 + 8, `Runs[${i}].Count`);
    if (start < end || n <= 0 || start + n > blocks)
      r.fail(`Runs[${i}] (${start} × ${n}) is out of order or off the disk`);
    runs.push({ start, count: n });
    end = start + n;
  }
  if (status === "ok" && (nextBlock < end || nextBlock > blocks))
    r.fail(`NextBlock ${nextBlock} is off the disk`);
  return { status, nextBlock, runs };
}

export function encodeGetChangesAnswer(answer: ChangesAnswer): Uint8Array {
  const out = new Uint8Array(RUNS_HEADER + answer.runs.length * 16);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC.runs, true);
  view.setUint16(4, TRACKER_VERSION, true);
  view.setUint32(8, STATUSES.indexOf(answer.status), true);
  view.setUint32(12, answer.runs.length, true);
  view.setBigInt64(16, BigInt(answer.nextBlock), true);
  answer.runs.forEach((run, i) => {
    view.setBigInt64(RUNS_HEADER + i * 16, BigInt(run.start), true);
    view.setBigInt64(RUNS_HEADER + i * 16 + 8, BigInt(run.count), true);
  });
  return out;
}

/** FORGET input: drop epochs at or before `throughEpoch` (a committed point's). */
export function encodeForget(generation: string, throughEpoch: number): Uint8Array {
  const out = request(MAGIC.forget, generation, 32);
  new DataView(out.buffer).setBigInt64(24, BigInt(throughEpoch), true);
  return out;
}

/** Decodes the requests that carry only a generation (SWITCH_EPOCH) or a generation and an epoch (FORGET). */
export function parseGenerationRequest(
  bytes: Uint8Array,
  kind: "switch" | "forget",
): { generation: string; epoch: number } {
  const r = new ByteReader(bytes, kind === "switch" ? "LBT_SWITCH_IN" : "LBT_FORGET_IN");
  header(r, kind === "switch" ? MAGIC.switch : MAGIC.forget);
  return { generation: r.guid(8, "Generation"), epoch: kind === "forget" ? r.i64(24, "ThroughEpoch") : 0 };
}

function request(magic: number, generation: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic, true);
  view.setUint16(4, TRACKER_VERSION, true);
  out.set(encodeGuid(generation), 8);
  return out;
}

function header(r: ByteReader, magic: number): void {
  const actual = r.u32(0, "Magic");
  if (actual !== magic) r.fail(`magic 0x${actual.toString(16)}, expected 0x${magic.toString(16)}`);
  const version = r.u16(4, "Version");
  if (version !== TRACKER_VERSION)
    r.fail(`contract version ${version}, this agent speaks ${TRACKER_VERSION}`);
}
