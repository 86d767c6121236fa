/**
 * The server side of the transmission phase for one connection: requests are read one after the
 * other and served concurrently (bounded by count and by bytes, so a client cannot make us hold more
 * than `maxBytesInFlight` of reads and writes), and each reply is written whole, so replies to
 * different requests never interleave on the wire. A request that breaks framing (bad magic, an
 * oversized write) ends the connection; one that is merely wrong (out of range, read-only) gets
 * the errno the protocol prescribes.
 */

import { isLifeboatError } from "../../domain/errors.ts";
import { check, Limits } from "../../formats/nbd/limits.ts";
import { Command, CommandFlag, Errno, REQUEST_BYTES } from "../../formats/nbd/protocol.ts";
import {
  decodeRequest,
  encodeBlockStatusReply,
  encodeHole,
  encodeOffsetDataHeader,
  encodeSimpleReply,
  encodeStructuredDone,
  encodeStructuredError,
  type Request,
} from "../../formats/nbd/transmission.ts";
import type { Log } from "../../ports/log.ts";
import type { ByteStream } from "./byte-stream.ts";
import { flatten, type ReadPiece } from "./export.ts";
import { ALLOCATION_CONTEXT_ID, type Session } from "./server-handshake.ts";

export interface ServeStats {
  reads: number;
  bytesRead: number;
  writes: number;
  bytesWritten: number;
  errors: number;
}

export interface TransmissionOptions {
  readonly log: Log;
  readonly peer: string;
  readonly stats: ServeStats;
  readonly maxInFlight: number;
  readonly maxBytesInFlight: number;
}

const ALLOWED_FLAGS: Record<number, number> = {
  [Command.READ]: CommandFlag.DF,
  [Command.WRITE]: CommandFlag.FUA,
  [Command.WRITE_ZEROES]: CommandFlag.FUA | CommandFlag.NO_HOLE,
  [Command.TRIM]: CommandFlag.FUA,
  [Command.FLUSH]: 0,
  [Command.BLOCK_STATUS]: CommandFlag.REQ_ONE,
};

class RequestError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

export async function serveTransmission(
  stream: ByteStream,
  session: Session,
  options: TransmissionOptions,
): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let bytesInFlight = 0;
  try {
    for (;;) {
      const req = decodeRequest(await stream.read(REQUEST_BYTES));
      if (req.type === Command.DISC) break;
      let payload: Buffer | undefined;
      if (req.type === Command.WRITE) {
        check(
          req.length <= Limits.maxPayload,
          `WRITE of ${req.length} bytes exceeds the ${Limits.maxPayload}-byte limit`,
        );
        payload = await stream.read(req.length);
      }
      const cost =
        req.type === Command.READ || req.type === Command.WRITE ? Math.min(req.length, Limits.maxPayload) : 0;
      while (
        inFlight.size > 0 &&
        (inFlight.size >= options.maxInFlight || bytesInFlight + cost > options.maxBytesInFlight)
      ) {
        await Promise.race(inFlight);
      }
      bytesInFlight += cost;
      const work: Promise<void> = handle(stream, session, req, payload, options)
        .catch((e: unknown) =>
          options.log.debug({ peer: options.peer, error: (e as Error).message }, "reply not sent"),
        )
        .finally(() => {
          bytesInFlight -= cost;
          inFlight.delete(work);
        });
      inFlight.add(work);
    }
  } finally {
    await Promise.allSettled(inFlight);
  }
}

async function handle(
  stream: ByteStream,
  session: Session,
  req: Request,
  payload: Buffer | undefined,
  options: TransmissionOptions,
): Promise<void> {
  const { stats } = options;
  try {
    const exp = session.export;
    const unknownFlags = req.flags & ~(ALLOWED_FLAGS[req.type] ?? 0);
    if (ALLOWED_FLAGS[req.type] === undefined)
      throw new RequestError(Errno.EINVAL, `command ${req.type} is not supported`);
    if (unknownFlags !== 0)
      throw new RequestError(Errno.EINVAL, `flags 0x${unknownFlags.toString(16)} are not valid here`);
    const inside = req.offset + req.length <= exp.size;
    switch (req.type) {
      case Command.READ: {
        if (!inside)
          throw new RequestError(Errno.EINVAL, `read ${req.offset}+${req.length} past the end (${exp.size})`);
        if (req.length > Limits.maxPayload)
          throw new RequestError(Errno.EOVERFLOW, `read of ${req.length} bytes is too large`);
        const pieces = req.length === 0 ? [] : await exp.read(req.offset, req.length);
        stats.reads++;
        stats.bytesRead += req.length;
        return await sendRead(stream, session, req, pieces);
      }
      case Command.WRITE:
      case Command.WRITE_ZEROES:
      case Command.TRIM: {
        if (!exp.writable) throw new RequestError(Errno.EPERM, "the export is read-only");
        if (!inside)
          throw new RequestError(
            Errno.ENOSPC,
            `write ${req.offset}+${req.length} past the end (${exp.size})`,
          );
        if (req.type === Command.WRITE) await exp.write(req.offset, payload as Buffer);
        else await exp.zero(req.offset, req.length);
        if ((req.flags & CommandFlag.FUA) !== 0) await exp.flush();
        stats.writes++;
        stats.bytesWritten += req.length;
        return await stream.write(encodeSimpleReply(0, req.handle));
      }
      case Command.FLUSH:
        await exp.flush();
        return await stream.write(encodeSimpleReply(0, req.handle));
      case Command.BLOCK_STATUS: {
        if (!session.allocationContext)
          throw new RequestError(Errno.EINVAL, "no meta context was negotiated");
        if (req.length === 0 || !inside)
          throw new RequestError(Errno.EINVAL, `block status ${req.offset}+${req.length} is out of range`);
        const extents = clip(
          await exp.allocation(req.offset, req.length),
          req.length,
          (req.flags & CommandFlag.REQ_ONE) !== 0,
        );
        return await stream.write(encodeBlockStatusReply(req.handle, 1, ALLOCATION_CONTEXT_ID, extents));
      }
    }
  } catch (e) {
    stats.errors++;
    const errno = e instanceof RequestError ? e.errno : Errno.EIO;
    const message = e instanceof Error ? e.message : String(e);
    // A damaged or missing chunk is the operator's business: log it with its code, give the client EIO.
    if (!(e instanceof RequestError)) {
      options.log.error(
        {
          peer: options.peer,
          offset: req.offset,
          length: req.length,
          code: isLifeboatError(e) ? e.code : undefined,
          error: message,
        },
        "request failed",
      );
    }
    await stream.write(
      session.structuredReplies
        ? encodeStructuredError(req.handle, errno, message)
        : encodeSimpleReply(errno, req.handle),
    );
  }
}

async function sendRead(
  stream: ByteStream,
  session: Session,
  req: Request,
  pieces: ReadPiece[],
): Promise<void> {
  if (!session.structuredReplies) {
    return stream.write(encodeSimpleReply(0, req.handle), flatten(pieces, req.offset, req.length));
  }
  if (pieces.length === 0) return stream.write(encodeStructuredDone(req.handle));
  // DF (don't fragment): one data chunk for the whole read.
  if ((req.flags & CommandFlag.DF) !== 0 && (pieces.length > 1 || !("data" in (pieces[0] as ReadPiece)))) {
    pieces = [{ offset: req.offset, data: flatten(pieces, req.offset, req.length) }];
  }
  const parts: Uint8Array[] = [];
  pieces.forEach((p, i) => {
    const flags = i === pieces.length - 1 ? 1 : 0;
    if ("data" in p) parts.push(encodeOffsetDataHeader(req.handle, flags, p.offset, p.data.length), p.data);
    else parts.push(encodeHole(req.handle, flags, p.offset, p.zeroLength));
  });
  return stream.write(...parts);
}

/** Keeps extents inside the request (one of them with REQ_ONE); every extent has a length > 0. */
function clip(
  extents: ReadonlyArray<{ length: number; flags: number }>,
  length: number,
  one: boolean,
): Array<{ length: number; flags: number }> {
  const out: Array<{ length: number; flags: number }> = [];
  let covered = 0;
  for (const e of extents) {
    if (covered >= length) break;
    const n = Math.min(e.length, length - covered);
    if (n > 0) out.push({ length: n, flags: e.flags });
    covered += n;
    if (one) break;
  }
  check(out.length > 0, "no extents to report");
  return out;
}
