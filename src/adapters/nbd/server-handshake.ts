/**
 * The server side of option haggling for one connection: LIST, INFO, GO (and the legacy
 * EXPORT_NAME), STRUCTURED_REPLY and the base:allocation meta context. Malformed options get the
 * protocol's error replies; anything that breaks framing ends the connection.
 */

import {
  decodeClientFlags,
  decodeGoData,
  decodeMetaContextQuery,
  decodeOptionHeader,
  encodeExportNameReply,
  encodeGreeting,
  encodeInfoBlockSize,
  encodeInfoExport,
  encodeInfoName,
  encodeMetaContextReply,
  encodeOptionReply,
  encodeServerReply,
} from "../../formats/nbd/handshake.ts";
import { check, Limits } from "../../formats/nbd/limits.ts";
import {
  BASE_ALLOCATION,
  ClientFlag,
  HandshakeFlag,
  Info,
  OPTION_HEADER_BYTES,
  Option,
  OptionReply,
  TransmissionFlag,
} from "../../formats/nbd/protocol.ts";
import type { ByteStream } from "./byte-stream.ts";
import type { NbdExport } from "./export.ts";

/** The id this server gives base:allocation (any non-zero-free u32 works; one context only). */
export const ALLOCATION_CONTEXT_ID = 1;

export interface ExportLookup {
  /** The export a client asked for by name ("" is the default export), or undefined. */
  find(name: string): NbdExport | undefined;
  names(): string[];
}

export interface Session {
  readonly export: NbdExport;
  readonly flags: number;
  readonly structuredReplies: boolean;
  readonly allocationContext: boolean;
}

export function transmissionFlags(exp: NbdExport): number {
  let flags = TransmissionFlag.HAS_FLAGS | TransmissionFlag.SEND_FLUSH | TransmissionFlag.SEND_DF;
  // Every connection shares one export object (one cache, one overlay), so a flush on one covers all.
  flags |= TransmissionFlag.CAN_MULTI_CONN;
  if (exp.writable) {
    flags |= TransmissionFlag.SEND_FUA | TransmissionFlag.SEND_TRIM | TransmissionFlag.SEND_WRITE_ZEROES;
  } else flags |= TransmissionFlag.READ_ONLY;
  return flags;
}

/** Runs the handshake; resolves with the session, or undefined when the client aborted. */
export async function serverHandshake(
  stream: ByteStream,
  exports: ExportLookup,
): Promise<Session | undefined> {
  await stream.write(encodeGreeting(HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES));
  const clientFlags = decodeClientFlags(await stream.read(4));
  check(
    (clientFlags & ClientFlag.FIXED_NEWSTYLE) !== 0,
    "the client does not speak the fixed newstyle handshake",
  );
  check(
    (clientFlags & ~(ClientFlag.FIXED_NEWSTYLE | ClientFlag.NO_ZEROES)) === 0,
    `unknown client flags 0x${clientFlags.toString(16)}`,
  );
  const noZeroes = (clientFlags & ClientFlag.NO_ZEROES) !== 0;
  let structuredReplies = false;
  let allocationContext = false;
  // Meta contexts are chosen for one export; GO on another export starts without them.
  let contextExport: NbdExport | undefined;

  for (let n = 0; n < Limits.maxOptions; n++) {
    const { option, length } = decodeOptionHeader(await stream.read(OPTION_HEADER_BYTES));
    const data = length === 0 ? Buffer.alloc(0) : await stream.read(length);
    const reply = (type: number, payload?: Uint8Array) =>
      stream.write(encodeOptionReply(option, type, payload));
    const refuse = (type: number, message: string) => reply(type, Buffer.from(message, "utf8"));

    switch (option) {
      case Option.EXPORT_NAME: {
        const exp = exports.find(data.toString("utf8"));
        check(
          exp !== undefined,
          `the client asked for unknown export ${JSON.stringify(data.toString("utf8"))}`,
        );
        await stream.write(encodeExportNameReply(exp.size, transmissionFlags(exp), noZeroes));
        return {
          export: exp,
          flags: transmissionFlags(exp),
          structuredReplies,
          allocationContext: allocationContext && contextExport === exp,
        };
      }
      case Option.ABORT:
        await reply(OptionReply.ACK).catch(() => undefined);
        return undefined;
      case Option.LIST:
        if (length !== 0) {
          await refuse(OptionReply.ERR_INVALID, "LIST takes no data");
          break;
        }
        for (const name of exports.names()) {
          await reply(OptionReply.SERVER, encodeServerReply(name, exports.find(name)?.description ?? ""));
        }
        await reply(OptionReply.ACK);
        break;
      case Option.STRUCTURED_REPLY:
        if (length !== 0 || structuredReplies) {
          await refuse(OptionReply.ERR_INVALID, "STRUCTURED_REPLY takes no data and is negotiated once");
          break;
        }
        structuredReplies = true;
        await reply(OptionReply.ACK);
        break;
      case Option.LIST_META_CONTEXT:
      case Option.SET_META_CONTEXT: {
        const set = option === Option.SET_META_CONTEXT;
        let query: ReturnType<typeof decodeMetaContextQuery>;
        try {
          query = decodeMetaContextQuery(data);
        } catch (e) {
          await refuse(OptionReply.ERR_INVALID, (e as Error).message);
          break;
        }
        if (set && !structuredReplies) {
          await refuse(OptionReply.ERR_INVALID, "SET_META_CONTEXT needs structured replies first");
          break;
        }
        const target = exports.find(query.exportName);
        if (target === undefined) {
          await refuse(OptionReply.ERR_UNKNOWN, `no export ${JSON.stringify(query.exportName)}`);
          break;
        }
        // Only base:allocation exists here; a LIST with no query, or "base:", lists it.
        const wanted =
          query.queries.some((q) => q === BASE_ALLOCATION || (!set && q === "base:")) ||
          (!set && query.queries.length === 0);
        if (set) {
          allocationContext = wanted;
          contextExport = target;
        }
        if (wanted)
          await reply(
            OptionReply.META_CONTEXT,
            encodeMetaContextReply(ALLOCATION_CONTEXT_ID, BASE_ALLOCATION),
          );
        await reply(OptionReply.ACK);
        break;
      }
      case Option.INFO:
      case Option.GO: {
        let request: ReturnType<typeof decodeGoData>;
        try {
          request = decodeGoData(data);
        } catch (e) {
          await refuse(OptionReply.ERR_INVALID, (e as Error).message);
          break;
        }
        const exp = exports.find(request.exportName);
        if (exp === undefined) {
          await refuse(
            OptionReply.ERR_UNKNOWN,
            `no export ${JSON.stringify(request.exportName)}; exports: ${exports.names().join(", ")}`,
          );
          break;
        }
        const flags = transmissionFlags(exp);
        await reply(OptionReply.INFO, encodeInfoExport(exp.size, flags));
        if (request.infos.includes(Info.NAME)) await reply(OptionReply.INFO, encodeInfoName(exp.name));
        if (request.infos.includes(Info.BLOCK_SIZE)) {
          await reply(OptionReply.INFO, encodeInfoBlockSize(1, exp.preferredBlock, Limits.maxPayload));
        }
        await reply(OptionReply.ACK);
        if (option === Option.GO) {
          return {
            export: exp,
            flags,
            structuredReplies,
            allocationContext: allocationContext && contextExport === exp,
          };
        }
        break;
      }
      case Option.STARTTLS:
        await refuse(
          OptionReply.ERR_UNSUP,
          "this server does not offer TLS; reach it over loopback or a tunnel",
        );
        break;
      default:
        await refuse(OptionReply.ERR_UNSUP, `option ${option} is not supported`);
    }
  }
  check(false, `the client sent more than ${Limits.maxOptions} options`);
}
