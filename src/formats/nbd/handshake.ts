/**
 * The fixed newstyle handshake and option haggling: the greeting, client flags, option requests
 * and replies, and the payloads of the options Lifeboat speaks (GO/INFO, LIST, SET_META_CONTEXT).
 * Encoders build exact wire bytes; decoders take one complete, length-checked frame.
 */

import { check, Limits } from "./limits.ts";
import {
  CLISERV_MAGIC,
  IHAVEOPT,
  Info,
  NBDMAGIC,
  OPTION_HEADER_BYTES,
  OPTION_REPLY_HEADER_BYTES,
  OPTION_REPLY_MAGIC,
} from "./protocol.ts";
import { WireReader, WireWriter } from "./wire.ts";

export const GREETING_BYTES = 18;

export function encodeGreeting(handshakeFlags: number): Buffer {
  return new WireWriter().u64(NBDMAGIC).u64(IHAVEOPT).u16(handshakeFlags).toBytes();
}

/** The server's first 18 bytes; refuses the oldstyle handshake and anything that is not NBD. */
export function decodeGreeting(bytes: Uint8Array): { handshakeFlags: number } {
  const r = new WireReader(bytes, "greeting");
  check(r.u64n() === NBDMAGIC, "the peer is not an NBD server (no NBDMAGIC)");
  const second = r.u64n();
  check(second !== CLISERV_MAGIC, "the server speaks the oldstyle handshake, which has no export names");
  check(second === IHAVEOPT, "the server does not speak the newstyle handshake");
  return { handshakeFlags: r.u16() };
}

export function encodeClientFlags(flags: number): Buffer {
  return new WireWriter().u32(flags).toBytes();
}

export function decodeClientFlags(bytes: Uint8Array): number {
  return new WireReader(bytes, "client flags").u32();
}

export function encodeOption(option: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  return new WireWriter().u64(IHAVEOPT).u32(option).u32(data.length).raw(data).toBytes();
}

export interface OptionHeader {
  readonly option: number;
  readonly length: number;
}

/** An option request header; its data length is bounded before the caller reads it. */
export function decodeOptionHeader(bytes: Uint8Array): OptionHeader {
  check(bytes.length === OPTION_HEADER_BYTES, "option header has the wrong size");
  const r = new WireReader(bytes, "option header");
  check(r.u64n() === IHAVEOPT, "option request without IHAVEOPT magic");
  const option = r.u32();
  const length = r.u32();
  check(
    length <= Limits.maxOptionData,
    `option ${option} carries ${length} bytes (limit ${Limits.maxOptionData})`,
  );
  return { option, length };
}

export function encodeOptionReply(
  option: number,
  type: number,
  data: Uint8Array = new Uint8Array(0),
): Buffer {
  return new WireWriter().u64(OPTION_REPLY_MAGIC).u32(option).u32(type).u32(data.length).raw(data).toBytes();
}

export interface OptionReplyHeader {
  readonly option: number;
  readonly type: number;
  readonly length: number;
}

export function decodeOptionReplyHeader(bytes: Uint8Array): OptionReplyHeader {
  check(bytes.length === OPTION_REPLY_HEADER_BYTES, "option reply header has the wrong size");
  const r = new WireReader(bytes, "option reply");
  check(r.u64n() === OPTION_REPLY_MAGIC, "option reply without its magic");
  const option = r.u32();
  const type = r.u32();
  const length = r.u32();
  check(length <= Limits.maxOptionReply, `option reply of ${length} bytes (limit ${Limits.maxOptionReply})`);
  return { option, type, length };
}

/** Data of NBD_OPT_GO and NBD_OPT_INFO: the export name and the information requested. */
export function encodeGoData(exportName: string, infos: readonly number[]): Buffer {
  const w = new WireWriter().string32(exportName).u16(infos.length);
  for (const i of infos) w.u16(i);
  return w.toBytes();
}

export function decodeGoData(data: Uint8Array): { exportName: string; infos: number[] } {
  const r = new WireReader(data, "GO/INFO request");
  const exportName = r.string(r.u32(), Limits.maxString);
  const count = r.u16();
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(r.u16());
  r.end();
  return { exportName, infos };
}

export type InfoReply =
  | { readonly info: "export"; readonly size: number; readonly flags: number }
  | { readonly info: "name"; readonly name: string }
  | { readonly info: "description"; readonly description: string }
  | {
      readonly info: "block-size";
      readonly minimum: number;
      readonly preferred: number;
      readonly maximum: number;
    }
  | { readonly info: "unknown"; readonly type: number };

export function encodeInfoExport(size: number, flags: number): Buffer {
  return new WireWriter().u16(Info.EXPORT).u64(size).u16(flags).toBytes();
}

export function encodeInfoBlockSize(minimum: number, preferred: number, maximum: number): Buffer {
  return new WireWriter().u16(Info.BLOCK_SIZE).u32(minimum).u32(preferred).u32(maximum).toBytes();
}

export function encodeInfoName(name: string): Buffer {
  return new WireWriter().u16(Info.NAME).raw(Buffer.from(name, "utf8")).toBytes();
}

/** Payload of an NBD_REP_INFO reply. Unknown info types are returned as such (the spec says ignore them). */
export function decodeInfo(data: Uint8Array): InfoReply {
  const r = new WireReader(data, "NBD_REP_INFO");
  const type = r.u16();
  switch (type) {
    case Info.EXPORT: {
      const size = r.u64();
      const flags = r.u16();
      r.end();
      return { info: "export", size, flags };
    }
    case Info.NAME:
      return { info: "name", name: r.string(r.remaining, Limits.maxString) };
    case Info.DESCRIPTION:
      return { info: "description", description: r.string(r.remaining, Limits.maxString) };
    case Info.BLOCK_SIZE: {
      const minimum = r.u32();
      const preferred = r.u32();
      const maximum = r.u32();
      r.end();
      check(
        minimum >= 1 && minimum <= 65536 && (minimum & (minimum - 1)) === 0,
        `block size minimum ${minimum} is not a power of two up to 64 KiB`,
      );
      check(
        preferred >= minimum && (preferred & (preferred - 1)) === 0,
        `preferred block size ${preferred} is invalid`,
      );
      check(maximum >= minimum, `maximum block size ${maximum} is below the minimum ${minimum}`);
      return { info: "block-size", minimum, preferred, maximum };
    }
    default:
      return { info: "unknown", type };
  }
}

/** Payload of an NBD_REP_SERVER reply to LIST: an export name and its description. */
export function encodeServerReply(name: string, description = ""): Buffer {
  return new WireWriter().string32(name).raw(Buffer.from(description, "utf8")).toBytes();
}

export function decodeServerReply(data: Uint8Array): { name: string; description: string } {
  const r = new WireReader(data, "NBD_REP_SERVER");
  const name = r.string(r.u32(), Limits.maxString);
  return { name, description: r.string(r.remaining, Limits.maxString) };
}

/** Data of NBD_OPT_SET_META_CONTEXT and NBD_OPT_LIST_META_CONTEXT. */
export function encodeMetaContextQuery(exportName: string, queries: readonly string[]): Buffer {
  const w = new WireWriter().string32(exportName).u32(queries.length);
  for (const q of queries) w.string32(q);
  return w.toBytes();
}

export function decodeMetaContextQuery(data: Uint8Array): { exportName: string; queries: string[] } {
  const r = new WireReader(data, "meta context request");
  const exportName = r.string(r.u32(), Limits.maxString);
  const count = r.u32();
  // Each query takes at least its 4-byte length: a count the data cannot hold is a lie.
  check(count * 4 <= r.remaining, `meta context request claims ${count} queries`);
  const queries: string[] = [];
  for (let i = 0; i < count; i++) queries.push(r.string(r.u32(), Limits.maxString));
  r.end();
  return { exportName, queries };
}

/** Payload of an NBD_REP_META_CONTEXT reply: the id the server assigned and the context's name. */
export function encodeMetaContextReply(id: number, name: string): Buffer {
  return new WireWriter().u32(id).raw(Buffer.from(name, "utf8")).toBytes();
}

export function decodeMetaContextReply(data: Uint8Array): { id: number; name: string } {
  const r = new WireReader(data, "NBD_REP_META_CONTEXT");
  const id = r.u32();
  return { id, name: r.string(r.remaining, Limits.maxString) };
}

/** The server's answer to the legacy NBD_OPT_EXPORT_NAME: size, flags and (unless NO_ZEROES) 124 zeros. */
export function encodeExportNameReply(size: number, flags: number, noZeroes: boolean): Buffer {
  const w = new WireWriter().u64(size).u16(flags);
  if (!noZeroes) w.raw(new Uint8Array(124));
  return w.toBytes();
}

/** The human message an option error reply may carry. */
export function decodeOptionErrorMessage(data: Uint8Array): string {
  return Buffer.from(data).toString("utf8").slice(0, Limits.maxString);
}
