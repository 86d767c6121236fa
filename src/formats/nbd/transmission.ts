/**
 * The transmission phase: request headers, simple replies, and structured reply chunks with their
 * payloads (data, holes, block status, errors). Decoders validate magic, lengths and shapes before
 * the caller reads any payload, so a bad peer is caught at the header.
 */

import { check, Limits } from "./limits.ts";
import {
  REQUEST_BYTES,
  REQUEST_MAGIC,
  ReplyType,
  SIMPLE_REPLY_BYTES,
  SIMPLE_REPLY_MAGIC,
  STRUCTURED_HEADER_BYTES,
  STRUCTURED_REPLY_MAGIC,
} from "./protocol.ts";
import { WireReader, WireWriter } from "./wire.ts";

export interface Request {
  readonly flags: number;
  readonly type: number;
  /** The cookie the client picked; echoed in every reply to this request. */
  readonly handle: bigint;
  readonly offset: number;
  readonly length: number;
}

export function encodeRequest(req: Request): Buffer {
  return new WireWriter()
    .u32(REQUEST_MAGIC)
    .u16(req.flags)
    .u16(req.type)
    .u64(req.handle)
    .u64(req.offset)
    .u32(req.length)
    .toBytes();
}

export function decodeRequest(bytes: Uint8Array): Request {
  check(bytes.length === REQUEST_BYTES, "request header has the wrong size");
  const r = new WireReader(bytes, "request");
  const magic = r.u32();
  check(magic === REQUEST_MAGIC, `request magic 0x${magic.toString(16)} is not NBD's`);
  return { flags: r.u16(), type: r.u16(), handle: r.u64n(), offset: r.u64(), length: r.u32() };
}

export function encodeSimpleReply(error: number, handle: bigint): Buffer {
  return new WireWriter().u32(SIMPLE_REPLY_MAGIC).u32(error).u64(handle).toBytes();
}

/** Which kind of reply a 4-byte magic starts, and how many header bytes it has in all. */
export function replyKind(magic: Uint8Array): { kind: "simple" | "structured"; headerBytes: number } {
  const m = new WireReader(magic, "reply magic").u32();
  if (m === SIMPLE_REPLY_MAGIC) return { kind: "simple", headerBytes: SIMPLE_REPLY_BYTES };
  check(m === STRUCTURED_REPLY_MAGIC, `reply magic 0x${m.toString(16)} is not NBD's`);
  return { kind: "structured", headerBytes: STRUCTURED_HEADER_BYTES };
}

export function decodeSimpleReply(bytes: Uint8Array): { error: number; handle: bigint } {
  check(bytes.length === SIMPLE_REPLY_BYTES, "simple reply has the wrong size");
  const r = new WireReader(bytes, "simple reply");
  check(r.u32() === SIMPLE_REPLY_MAGIC, "simple reply without its magic");
  return { error: r.u32(), handle: r.u64n() };
}

export interface StructuredHeader {
  readonly flags: number;
  readonly type: number;
  readonly handle: bigint;
  readonly length: number;
}

export function encodeStructuredHeader(h: StructuredHeader): Buffer {
  return new WireWriter()
    .u32(STRUCTURED_REPLY_MAGIC)
    .u16(h.flags)
    .u16(h.type)
    .u64(h.handle)
    .u32(h.length)
    .toBytes();
}

/** A structured chunk header; its payload length is bounded by what its type can legitimately carry. */
export function decodeStructuredHeader(bytes: Uint8Array): StructuredHeader {
  check(bytes.length === STRUCTURED_HEADER_BYTES, "structured reply header has the wrong size");
  const r = new WireReader(bytes, "structured reply");
  check(r.u32() === STRUCTURED_REPLY_MAGIC, "structured reply without its magic");
  const h = { flags: r.u16(), type: r.u16(), handle: r.u64n(), length: r.u32() };
  const limit = h.type === ReplyType.OFFSET_DATA ? Limits.maxPayload + 8 : Limits.maxStructuredPayload;
  check(
    h.length <= limit,
    `structured reply chunk of type ${h.type} carries ${h.length} bytes (limit ${limit})`,
  );
  if (h.type === ReplyType.NONE) check(h.length === 0, "NBD_REPLY_TYPE_NONE with a payload");
  if (h.type === ReplyType.OFFSET_DATA) check(h.length > 8, "NBD_REPLY_TYPE_OFFSET_DATA without data");
  if (h.type === ReplyType.OFFSET_HOLE)
    check(h.length === 12, "NBD_REPLY_TYPE_OFFSET_HOLE of the wrong size");
  return h;
}

/** The 8-byte offset that starts an OFFSET_DATA payload (the data follows). */
export function decodeOffset(bytes: Uint8Array): number {
  return new WireReader(bytes, "OFFSET_DATA").u64();
}

export function decodeHole(payload: Uint8Array): { offset: number; length: number } {
  const r = new WireReader(payload, "OFFSET_HOLE");
  const offset = r.u64();
  const length = r.u32();
  r.end();
  check(length > 0, "OFFSET_HOLE of length 0");
  return { offset, length };
}

export interface StatusExtent {
  readonly length: number;
  readonly flags: number;
}

export function decodeBlockStatus(payload: Uint8Array): { contextId: number; extents: StatusExtent[] } {
  check(
    payload.length >= 12 && (payload.length - 4) % 8 === 0,
    `BLOCK_STATUS payload of ${payload.length} bytes`,
  );
  const r = new WireReader(payload, "BLOCK_STATUS");
  const contextId = r.u32();
  const extents: StatusExtent[] = [];
  while (r.remaining > 0) {
    const length = r.u32();
    const flags = r.u32();
    check(length > 0, "BLOCK_STATUS extent of length 0");
    extents.push({ length, flags });
  }
  return { contextId, extents };
}

export function decodeReplyError(
  type: number,
  payload: Uint8Array,
): { error: number; message: string; offset?: number } {
  const r = new WireReader(payload, "error reply");
  const error = r.u32();
  const message = r.string(r.u16(), Limits.maxString);
  if (type === ReplyType.ERROR_OFFSET) {
    const offset = r.u64();
    r.end();
    return { error, message, offset };
  }
  r.end();
  return { error, message };
}

/** Header and offset of an OFFSET_DATA chunk carrying `dataLength` bytes; the data is sent after it. */
export function encodeOffsetDataHeader(
  handle: bigint,
  flags: number,
  offset: number,
  dataLength: number,
): Buffer {
  return Buffer.concat([
    encodeStructuredHeader({ flags, type: ReplyType.OFFSET_DATA, handle, length: 8 + dataLength }),
    new WireWriter().u64(offset).toBytes(),
  ]);
}

export function encodeHole(handle: bigint, flags: number, offset: number, length: number): Buffer {
  return Buffer.concat([
    encodeStructuredHeader({ flags, type: ReplyType.OFFSET_HOLE, handle, length: 12 }),
    new WireWriter().u64(offset).u32(length).toBytes(),
  ]);
}

export function encodeBlockStatusReply(
  handle: bigint,
  flags: number,
  contextId: number,
  extents: readonly StatusExtent[],
): Buffer {
  const w = new WireWriter().u32(contextId);
  for (const e of extents) w.u32(e.length).u32(e.flags);
  const payload = w.toBytes();
  return Buffer.concat([
    encodeStructuredHeader({ flags, type: ReplyType.BLOCK_STATUS, handle, length: payload.length }),
    payload,
  ]);
}

export function encodeStructuredError(handle: bigint, error: number, message: string): Buffer {
  const msg = Buffer.from(message.slice(0, 1000), "utf8");
  const payload = new WireWriter().u32(error).u16(msg.length).raw(msg).toBytes();
  return Buffer.concat([
    encodeStructuredHeader({ flags: 1, type: ReplyType.ERROR, handle, length: payload.length }),
    payload,
  ]);
}

export function encodeStructuredDone(handle: bigint): Buffer {
  return encodeStructuredHeader({ flags: 1, type: ReplyType.NONE, handle, length: 0 });
}
