/**
 * The client side of the fixed newstyle handshake: STARTTLS when the URI asks for TLS, structured
 * replies, meta contexts (base:allocation, qemu:dirty-bitmap:NAME), then GO with a block-size
 * request. Servers that predate GO get the legacy EXPORT_NAME.
 */

import { LifeboatError } from "../../domain/errors.ts";
import {
  decodeGreeting,
  decodeInfo,
  decodeMetaContextReply,
  decodeOptionErrorMessage,
  decodeOptionReplyHeader,
  decodeServerReply,
  encodeClientFlags,
  encodeGoData,
  encodeMetaContextQuery,
  encodeOption,
  GREETING_BYTES,
} from "../../formats/nbd/handshake.ts";
import { check, Limits } from "../../formats/nbd/limits.ts";
import {
  ClientFlag,
  HandshakeFlag,
  Info,
  isOptionError,
  OPTION_REPLY_HEADER_BYTES,
  Option,
  OptionReply,
} from "../../formats/nbd/protocol.ts";
import { displayNbdUri, type NbdAddress } from "../../formats/nbd/uri.ts";
import { ByteStream } from "./byte-stream.ts";
import { upgradeToTls } from "./connect.ts";

export interface BlockSizes {
  readonly minimum: number;
  readonly preferred: number;
  readonly maximum: number;
}

export interface Negotiated {
  readonly stream: ByteStream;
  readonly size: number;
  readonly flags: number;
  readonly blockSize: BlockSizes | undefined;
  readonly structuredReplies: boolean;
  /** Meta contexts the server agreed to, by name → the id it uses in BLOCK_STATUS replies. */
  readonly metaContexts: ReadonlyMap<string, number>;
}

interface Reply {
  readonly type: number;
  readonly data: Buffer;
}

export async function negotiate(
  first: ByteStream,
  address: NbdAddress,
  wantedContexts: readonly string[],
  timeoutMs: number,
): Promise<Negotiated> {
  let stream = first;
  const where = displayNbdUri(address);
  const { handshakeFlags } = decodeGreeting(await stream.read(GREETING_BYTES));
  check(
    (handshakeFlags & HandshakeFlag.FIXED_NEWSTYLE) !== 0,
    "the server does not speak the fixed newstyle handshake",
  );
  const noZeroes = (handshakeFlags & HandshakeFlag.NO_ZEROES) !== 0;
  await stream.write(encodeClientFlags(ClientFlag.FIXED_NEWSTYLE | (noZeroes ? ClientFlag.NO_ZEROES : 0)));

  if (address.tls) {
    const reply = await ask(stream, Option.STARTTLS);
    if (reply.type !== OptionReply.ACK) {
      throw new LifeboatError("NBD_CONNECT", `${where}: the server does not offer TLS (${describe(reply)})`, {
        remedy: "Use nbd:// for a server without TLS, or start the server with TLS certificates.",
      });
    }
    stream = new ByteStream(await upgradeToTls(stream.detach(), address, timeoutMs));
  }

  const sr = await ask(stream, Option.STRUCTURED_REPLY);
  const structuredReplies = sr.type === OptionReply.ACK;
  if (!structuredReplies) expectError(sr, "STRUCTURED_REPLY");

  const metaContexts = new Map<string, number>();
  if (structuredReplies && wantedContexts.length > 0) {
    await stream.write(
      encodeOption(Option.SET_META_CONTEXT, encodeMetaContextQuery(address.exportName, wantedContexts)),
    );
    for (let n = 0; ; n++) {
      check(n < Limits.maxOptionReplies, "too many SET_META_CONTEXT replies");
      const reply = await readReply(stream, Option.SET_META_CONTEXT);
      if (reply.type === OptionReply.META_CONTEXT) {
        const { id, name } = decodeMetaContextReply(reply.data);
        check(
          wantedContexts.includes(name),
          `the server granted meta context ${name}, which was not asked for`,
        );
        metaContexts.set(name, id);
        continue;
      }
      if (reply.type === OptionReply.ACK) break;
      // The export may not exist or have no contexts; GO below reports a missing export properly.
      expectError(reply, "SET_META_CONTEXT");
      metaContexts.clear();
      break;
    }
  }

  await stream.write(encodeOption(Option.GO, encodeGoData(address.exportName, [Info.BLOCK_SIZE])));
  let size: number | undefined;
  let flags = 0;
  let blockSize: BlockSizes | undefined;
  for (let n = 0; ; n++) {
    check(n < Limits.maxOptionReplies, "too many GO replies");
    const reply = await readReply(stream, Option.GO);
    if (reply.type === OptionReply.INFO) {
      const info = decodeInfo(reply.data);
      if (info.info === "export") ({ size, flags } = info);
      if (info.info === "block-size") blockSize = info;
      continue;
    }
    if (reply.type === OptionReply.ACK) break;
    if (reply.type === OptionReply.ERR_UNSUP)
      return legacyExportName(stream, address, noZeroes, structuredReplies);
    throw await goRefused(stream, address, reply);
  }
  check(size !== undefined, "the server finished GO without NBD_INFO_EXPORT");
  return { stream, size, flags, blockSize, structuredReplies, metaContexts };
}

/** Export names the server lists (for error messages); the connection stays in option haggling. */
export async function listExports(stream: ByteStream): Promise<string[]> {
  await stream.write(encodeOption(Option.LIST));
  const names: string[] = [];
  for (let n = 0; ; n++) {
    check(n < Limits.maxOptionReplies, "too many LIST replies");
    const reply = await readReply(stream, Option.LIST);
    if (reply.type === OptionReply.SERVER) names.push(decodeServerReply(reply.data).name);
    else if (reply.type === OptionReply.ACK) return names;
    else return names;
  }
}

async function ask(stream: ByteStream, option: number): Promise<Reply> {
  await stream.write(encodeOption(option));
  return readReply(stream, option);
}

async function readReply(stream: ByteStream, option: number): Promise<Reply> {
  const header = decodeOptionReplyHeader(await stream.read(OPTION_REPLY_HEADER_BYTES));
  check(header.option === option, `reply to option ${header.option} while waiting for option ${option}`);
  const data = header.length === 0 ? Buffer.alloc(0) : await stream.read(header.length);
  return { type: header.type, data };
}

function expectError(reply: Reply, what: string): void {
  check(isOptionError(reply.type), `unexpected reply ${reply.type} to ${what}`);
}

function describe(reply: Reply): string {
  const names: Record<number, string> = {
    [OptionReply.ERR_UNSUP]: "unsupported",
    [OptionReply.ERR_POLICY]: "refused by policy",
    [OptionReply.ERR_INVALID]: "invalid",
    [OptionReply.ERR_PLATFORM]: "not on this platform",
    [OptionReply.ERR_TLS_REQD]: "TLS required",
    [OptionReply.ERR_UNKNOWN]: "unknown export",
    [OptionReply.ERR_SHUTDOWN]: "server shutting down",
    [OptionReply.ERR_BLOCK_SIZE_REQD]: "block size required",
    [OptionReply.ERR_TOO_BIG]: "request too big",
  };
  const message = reply.data.length > 0 ? `: ${decodeOptionErrorMessage(reply.data)}` : "";
  return `${names[reply.type] ?? `reply ${reply.type}`}${message}`;
}

async function goRefused(stream: ByteStream, address: NbdAddress, reply: Reply): Promise<LifeboatError> {
  const where = displayNbdUri(address);
  expectError(reply, "GO");
  if (reply.type === OptionReply.ERR_TLS_REQD) {
    return new LifeboatError("NBD_CONNECT", `${where}: the server requires TLS`, {
      remedy: "Use an nbds:// URI (with tls-certificates=DIR holding the server's CA certificate).",
    });
  }
  if (reply.type === OptionReply.ERR_UNKNOWN) {
    const offered = await listExports(stream).catch(() => [] as string[]);
    const list =
      offered.length === 0 ? "" : ` (it offers: ${offered.map((n) => JSON.stringify(n)).join(", ")})`;
    return new LifeboatError(
      "NBD_EXPORT_NOT_FOUND",
      `${where}: the server has no export ${JSON.stringify(address.exportName)}${list}`,
    );
  }
  return new LifeboatError("NBD_CONNECT", `${where}: the server refused the export (${describe(reply)})`);
}

/** NBD_OPT_EXPORT_NAME: no error reply exists; a server without the export just closes. */
async function legacyExportName(
  stream: ByteStream,
  address: NbdAddress,
  noZeroes: boolean,
  structuredReplies: boolean,
): Promise<Negotiated> {
  await stream.write(encodeOption(Option.EXPORT_NAME, Buffer.from(address.exportName, "utf8")));
  const head = await stream.read(10);
  const size = Number(head.readBigUInt64BE(0));
  check(Number.isSafeInteger(size), "export size does not fit");
  const flags = head.readUInt16BE(8);
  if (!noZeroes) await stream.read(124);
  return { stream, size, flags, blockSize: undefined, structuredReplies, metaContexts: new Map() };
}
