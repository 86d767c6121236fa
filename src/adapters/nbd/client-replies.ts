/**
 * Reads the replies of one NBD connection and matches them to the requests they answer. Every
 * reply is checked against its request: a reply to a handle never used, a data or hole chunk
 * outside the read, a read answered with gaps or overlaps, status for a context never negotiated,
 * or a structured reply that was never negotiated is a protocol error (the caller ends the
 * connection).
 */

import { check, NbdProtocolError } from "../../formats/nbd/limits.ts";
import { Command, errnoName, ReplyFlag, ReplyType } from "../../formats/nbd/protocol.ts";
import {
  decodeBlockStatus,
  decodeHole,
  decodeOffset,
  decodeReplyError,
  decodeSimpleReply,
  decodeStructuredHeader,
  replyKind,
  type StatusExtent,
} from "../../formats/nbd/transmission.ts";
import type { ByteStream } from "./byte-stream.ts";

/** The server answered a request with an error (EIO, ENOSPC…); the connection is still good. */
export class NbdRequestError extends Error {
  constructor(
    readonly errno: number,
    readonly command: string,
    readonly offset: number,
    readonly length: number,
    detail: string,
  ) {
    super(`${command} ${offset}+${length} failed: ${errnoName(errno)}${detail === "" ? "" : ` (${detail})`}`);
    this.name = "NbdRequestError";
  }
}

/** A request waiting for its reply. */
export interface Pending {
  readonly command: string;
  readonly type: number;
  readonly offset: number;
  readonly length: number;
  readonly buffer?: Buffer;
  readonly covered: Array<[number, number]>;
  readonly status: Map<number, StatusExtent[]>;
  error?: { errno: number; message: string };
  readonly resolve: (value: Buffer | Map<number, StatusExtent[]> | undefined) => void;
  readonly reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export class ReplyReader {
  readonly #stream: ByteStream;
  readonly #pending: ReadonlyMap<bigint, Pending>;
  readonly #contextIds: readonly number[];
  readonly #structuredNegotiated: boolean;

  constructor(
    stream: ByteStream,
    pending: ReadonlyMap<bigint, Pending>,
    contextIds: readonly number[],
    structured: boolean,
  ) {
    this.#stream = stream;
    this.#pending = pending;
    this.#contextIds = contextIds;
    this.#structuredNegotiated = structured;
  }

  /** Reads one reply (or one structured chunk) and settles its request when it is complete. */
  async next(): Promise<void> {
    const magic = await this.#stream.read(4);
    const { kind, headerBytes } = replyKind(magic);
    const header = Buffer.concat([magic, await this.#stream.read(headerBytes - 4)]);
    if (kind === "simple") await this.#simple(header);
    else await this.#structured(header);
  }

  async #simple(header: Buffer): Promise<void> {
    const { error, handle } = decodeSimpleReply(header);
    const p = this.#pending.get(handle);
    check(p !== undefined, `simple reply to unknown handle ${handle}`);
    check(
      p.covered.length === 0 && p.status.size === 0,
      `simple reply to ${p.command} after structured chunks`,
    );
    if (error !== 0) return p.reject(new NbdRequestError(error, p.command, p.offset, p.length, ""));
    if (p.type === Command.READ) {
      const data = await this.#stream.read(p.length);
      data.copy(p.buffer as Buffer);
      return p.resolve(p.buffer);
    }
    check(p.type !== Command.BLOCK_STATUS, "simple reply without error to BLOCK_STATUS");
    p.resolve(undefined);
  }

  async #structured(header: Buffer): Promise<void> {
    check(this.#structuredNegotiated, "structured reply that was never negotiated");
    const h = decodeStructuredHeader(header);
    const p = this.#pending.get(h.handle);
    check(p !== undefined, `structured reply to unknown handle ${h.handle}`);
    check(p.covered.length < 65_536, `${p.command}: too many reply chunks`);
    if (h.type === ReplyType.OFFSET_DATA) {
      check(p.type === Command.READ, `data chunk in reply to ${p.command}`);
      const offset = decodeOffset(await this.#stream.read(8));
      const length = h.length - 8;
      this.#cover(p, offset, length);
      const data = await this.#stream.read(length);
      data.copy(p.buffer as Buffer, offset - p.offset);
    } else if (h.type === ReplyType.OFFSET_HOLE) {
      check(p.type === Command.READ, `hole chunk in reply to ${p.command}`);
      const hole = decodeHole(await this.#stream.read(h.length));
      this.#cover(p, hole.offset, hole.length);
      (p.buffer as Buffer).fill(0, hole.offset - p.offset, hole.offset - p.offset + hole.length);
    } else if (h.type === ReplyType.BLOCK_STATUS) {
      check(p.type === Command.BLOCK_STATUS, `block status chunk in reply to ${p.command}`);
      const { contextId, extents } = decodeBlockStatus(await this.#stream.read(h.length));
      check(this.#contextIds.includes(contextId), `block status for unnegotiated context ${contextId}`);
      check(!p.status.has(contextId), `two block status chunks for context ${contextId}`);
      p.status.set(contextId, extents);
    } else if (h.type === ReplyType.NONE) {
      check((h.flags & ReplyFlag.DONE) !== 0, "NBD_REPLY_TYPE_NONE without the DONE flag");
    } else if ((h.type & (1 << 15)) !== 0) {
      const payload = await this.#stream.read(h.length);
      const known = h.type === ReplyType.ERROR || h.type === ReplyType.ERROR_OFFSET;
      const err = known ? decodeReplyError(h.type, payload) : { error: 5, message: `error type ${h.type}` };
      check(err.error !== 0, "error chunk with error 0");
      p.error ??= { errno: err.error, message: err.message };
    } else {
      throw new NbdProtocolError(`unknown structured reply type ${h.type}`);
    }
    if ((h.flags & ReplyFlag.DONE) === 0) return;
    if (p.error !== undefined) {
      return p.reject(new NbdRequestError(p.error.errno, p.command, p.offset, p.length, p.error.message));
    }
    if (p.type === Command.READ) {
      this.#checkCoverage(p);
      return p.resolve(p.buffer);
    }
    if (p.type === Command.BLOCK_STATUS) {
      check(p.status.size > 0, "BLOCK_STATUS finished without any status");
      return p.resolve(p.status);
    }
    p.resolve(undefined);
  }

  #cover(p: Pending, offset: number, length: number): void {
    check(
      offset >= p.offset && offset + length <= p.offset + p.length,
      `${p.command} ${p.offset}+${p.length}: reply chunk ${offset}+${length} lies outside it`,
    );
    p.covered.push([offset, offset + length]);
  }

  #checkCoverage(p: Pending): void {
    const ranges = p.covered.sort((a, b) => a[0] - b[0]);
    let end = p.offset;
    for (const [s, e] of ranges) {
      check(
        s === end,
        s < end ? `READ reply chunks overlap at ${s}` : `READ reply leaves ${end}+${s - end} unanswered`,
      );
      end = e;
    }
    check(end === p.offset + p.length, `READ reply leaves ${end}+${p.offset + p.length - end} unanswered`);
  }
}
