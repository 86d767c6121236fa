import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  decodeClientFlags,
  decodeGoData,
  decodeGreeting,
  decodeInfo,
  decodeMetaContextQuery,
  decodeMetaContextReply,
  decodeOptionHeader,
  decodeOptionReplyHeader,
  decodeServerReply,
  encodeClientFlags,
  encodeExportNameReply,
  encodeGoData,
  encodeGreeting,
  encodeInfoBlockSize,
  encodeInfoExport,
  encodeMetaContextQuery,
  encodeMetaContextReply,
  encodeOption,
  encodeOptionReply,
  encodeServerReply,
} from "../../../src/formats/nbd/handshake.ts";
import { Limits, NbdProtocolError } from "../../../src/formats/nbd/limits.ts";
import {
  CLISERV_MAGIC,
  Command,
  NBDMAGIC,
  OPTION_REPLY_MAGIC,
  Option,
  OptionReply,
  ReplyType,
  TransmissionFlag,
} from "../../../src/formats/nbd/protocol.ts";
import {
  decodeBlockStatus,
  decodeHole,
  decodeOffset,
  decodeReplyError,
  decodeRequest,
  decodeSimpleReply,
  decodeStructuredHeader,
  encodeBlockStatusReply,
  encodeHole,
  encodeOffsetDataHeader,
  encodeRequest,
  encodeSimpleReply,
  encodeStructuredError,
  encodeStructuredHeader,
  replyKind,
} from "../../../src/formats/nbd/transmission.ts";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const reason = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(NbdProtocolError);
    return (e as NbdProtocolError).reason;
  }
  throw new Error("expected a protocol error");
};

describe("NBD handshake codec", () => {
  it("writes the fixed newstyle greeting byte for byte as the protocol document shows it", () => {
    expect(encodeGreeting(3)).toEqual(hex("4e42444d41474943 49484156454f5054 0003"));
    expect(decodeGreeting(encodeGreeting(1))).toEqual({ handshakeFlags: 1 });
  });

  it("refuses the oldstyle handshake and peers that are not NBD servers", () => {
    const oldstyle = Buffer.alloc(18);
    oldstyle.writeBigUInt64BE(NBDMAGIC, 0);
    oldstyle.writeBigUInt64BE(CLISERV_MAGIC, 8);
    expect(reason(() => decodeGreeting(oldstyle))).toMatch(/oldstyle/);
    expect(reason(() => decodeGreeting(Buffer.from("HTTP/1.1 400 Bad Request\r\n")))).toMatch(
      /not an NBD server/,
    );
    expect(reason(() => decodeGreeting(encodeGreeting(1).subarray(0, 17)))).toMatch(/truncated/);
  });

  it("round-trips client flags, options and option replies", () => {
    expect(decodeClientFlags(encodeClientFlags(3))).toBe(3);
    const option = encodeOption(Option.GO, encodeGoData("disk0", [3]));
    expect(decodeOptionHeader(option.subarray(0, 16))).toEqual({
      option: Option.GO,
      length: option.length - 16,
    });
    expect(decodeGoData(option.subarray(16))).toEqual({ exportName: "disk0", infos: [3] });
    const reply = encodeOptionReply(Option.GO, OptionReply.ERR_UNKNOWN, Buffer.from("no"));
    expect(reply.readBigUInt64BE(0)).toBe(OPTION_REPLY_MAGIC);
    expect(decodeOptionReplyHeader(reply.subarray(0, 20))).toEqual({
      option: Option.GO,
      type: OptionReply.ERR_UNKNOWN,
      length: 2,
    });
  });

  it("bounds option data and option replies before anything is buffered", () => {
    const big = encodeOption(Option.GO).subarray(0, 16);
    big.writeUInt32BE(Limits.maxOptionData + 1, 12);
    expect(reason(() => decodeOptionHeader(big))).toMatch(/limit/);
    const bigReply = encodeOptionReply(Option.LIST, OptionReply.SERVER).subarray(0, 20);
    bigReply.writeUInt32BE(0xffffffff, 16);
    expect(reason(() => decodeOptionReplyHeader(bigReply))).toMatch(/limit/);
    const noMagic = Buffer.from(encodeOption(Option.LIST));
    noMagic[0] = 0;
    expect(reason(() => decodeOptionHeader(noMagic))).toMatch(/IHAVEOPT/);
  });

  it("decodes export, block-size and unknown info replies, and rejects impossible block sizes", () => {
    const flags = TransmissionFlag.HAS_FLAGS | TransmissionFlag.READ_ONLY;
    expect(decodeInfo(encodeInfoExport(2 ** 40, flags))).toEqual({ info: "export", size: 2 ** 40, flags });
    expect(decodeInfo(encodeInfoBlockSize(512, 4096, 32 << 20))).toEqual({
      info: "block-size",
      minimum: 512,
      preferred: 4096,
      maximum: 32 << 20,
    });
    expect(decodeInfo(hex("0009 00"))).toEqual({ info: "unknown", type: 9 });
    expect(reason(() => decodeInfo(encodeInfoBlockSize(3, 4096, 1 << 20)))).toMatch(/power of two/);
    expect(reason(() => decodeInfo(encodeInfoBlockSize(512, 256, 1 << 20)))).toMatch(/preferred/);
    expect(reason(() => decodeInfo(Buffer.concat([encodeInfoExport(1, 1), hex("00")])))).toMatch(/trailing/);
    const huge = encodeInfoExport(0, 1);
    huge.writeBigUInt64BE(2n ** 63n, 2);
    expect(reason(() => decodeInfo(huge))).toMatch(/too large/);
  });

  it("round-trips LIST and meta-context payloads and refuses counts the data cannot hold", () => {
    expect(decodeServerReply(encodeServerReply("disk0", "the first disk"))).toEqual({
      name: "disk0",
      description: "the first disk",
    });
    const q = encodeMetaContextQuery("disk0", ["base:allocation", "qemu:dirty-bitmap:b0"]);
    expect(decodeMetaContextQuery(q)).toEqual({
      exportName: "disk0",
      queries: ["base:allocation", "qemu:dirty-bitmap:b0"],
    });
    expect(decodeMetaContextReply(encodeMetaContextReply(7, "base:allocation"))).toEqual({
      id: 7,
      name: "base:allocation",
    });
    const lying = Buffer.from(encodeMetaContextQuery("", []));
    lying.writeUInt32BE(1_000_000, 4);
    expect(reason(() => decodeMetaContextQuery(lying))).toMatch(/claims 1000000 queries/);
    const badUtf8 = Buffer.concat([hex("00000002"), hex("c328"), hex("0000")]);
    expect(reason(() => decodeGoData(badUtf8))).toMatch(/UTF-8/);
    const longName = Buffer.concat([hex("00002000"), Buffer.alloc(0x2000, 0x61), hex("0000")]);
    expect(reason(() => decodeGoData(longName))).toMatch(/exceeds 4096/);
  });

  it("pads the legacy EXPORT_NAME answer with 124 zeros unless NO_ZEROES was agreed", () => {
    expect(encodeExportNameReply(1024, 1, false)).toHaveLength(134);
    expect(encodeExportNameReply(1024, 1, true)).toHaveLength(10);
  });
});

describe("NBD transmission codec", () => {
  it("writes a request header byte for byte and reads it back", () => {
    const req = { flags: 1, type: Command.WRITE, handle: 0x0102030405060708n, offset: 65536, length: 512 };
    expect(encodeRequest(req)).toEqual(hex("25609513 0001 0001 0102030405060708 0000000000010000 00000200"));
    expect(decodeRequest(encodeRequest(req))).toEqual(req);
  });

  test.prop(
    [
      fc.nat(0xffff),
      fc.nat(0xffff),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.nat(Number.MAX_SAFE_INTEGER),
      fc.nat(0xffffffff),
    ],
    { seed: 20261122, numRuns: 200 },
  )("every request header survives a round trip", (flags, type, handle, offset, length) => {
    expect(decodeRequest(encodeRequest({ flags, type, handle, offset, length }))).toEqual({
      flags,
      type,
      handle,
      offset,
      length,
    });
  });

  it("ends the connection on a request with the wrong magic", () => {
    const req = encodeRequest({ flags: 0, type: 0, handle: 1n, offset: 0, length: 1 });
    req[0] = 0x26;
    expect(reason(() => decodeRequest(req))).toMatch(/magic/);
  });

  it("tells simple from structured replies by magic and rejects anything else", () => {
    expect(replyKind(encodeSimpleReply(0, 1n).subarray(0, 4)).kind).toBe("simple");
    expect(
      replyKind(encodeStructuredHeader({ flags: 1, type: 0, handle: 1n, length: 0 }).subarray(0, 4)),
    ).toEqual({
      kind: "structured",
      headerBytes: 20,
    });
    expect(reason(() => replyKind(hex("deadbeef")))).toMatch(/not NBD's/);
    expect(decodeSimpleReply(encodeSimpleReply(5, 9n))).toEqual({ error: 5, handle: 9n });
  });

  it("bounds each structured chunk by what its type can carry", () => {
    const header = (type: number, length: number) =>
      encodeStructuredHeader({ flags: 0, type, handle: 1n, length });
    expect(decodeStructuredHeader(header(ReplyType.OFFSET_DATA, Limits.maxPayload + 8)).length).toBe(
      Limits.maxPayload + 8,
    );
    expect(
      reason(() => decodeStructuredHeader(header(ReplyType.OFFSET_DATA, Limits.maxPayload + 9))),
    ).toMatch(/limit/);
    expect(reason(() => decodeStructuredHeader(header(ReplyType.BLOCK_STATUS, 0xffffffff)))).toMatch(/limit/);
    expect(reason(() => decodeStructuredHeader(header(ReplyType.OFFSET_HOLE, 13)))).toMatch(/wrong size/);
    expect(reason(() => decodeStructuredHeader(header(ReplyType.NONE, 4)))).toMatch(/NONE with a payload/);
    expect(reason(() => decodeStructuredHeader(header(ReplyType.OFFSET_DATA, 8)))).toMatch(/without data/);
  });

  it("round-trips data, hole, block-status and error chunks", () => {
    const data = encodeOffsetDataHeader(3n, 1, 4096, 100);
    expect(decodeStructuredHeader(data.subarray(0, 20))).toEqual({
      flags: 1,
      type: ReplyType.OFFSET_DATA,
      handle: 3n,
      length: 108,
    });
    expect(decodeOffset(data.subarray(20))).toBe(4096);
    const hole = encodeHole(3n, 0, 8192, 65536);
    expect(decodeHole(hole.subarray(20))).toEqual({ offset: 8192, length: 65536 });
    const status = encodeBlockStatusReply(4n, 1, 1, [
      { length: 65536, flags: 0 },
      { length: 131072, flags: 3 },
    ]);
    expect(decodeBlockStatus(status.subarray(20))).toEqual({
      contextId: 1,
      extents: [
        { length: 65536, flags: 0 },
        { length: 131072, flags: 3 },
      ],
    });
    const error = encodeStructuredError(5n, 5, "chunk damaged");
    const h = decodeStructuredHeader(error.subarray(0, 20));
    expect(decodeReplyError(h.type, error.subarray(20))).toEqual({ error: 5, message: "chunk damaged" });
  });

  it("refuses empty or ragged block-status payloads and zero-length extents", () => {
    expect(reason(() => decodeBlockStatus(hex("00000001")))).toMatch(/payload of 4 bytes/);
    expect(reason(() => decodeBlockStatus(hex("00000001 00000010 00000000 00")))).toMatch(/payload/);
    expect(reason(() => decodeBlockStatus(hex("00000001 00000000 00000000")))).toMatch(/length 0/);
    expect(reason(() => decodeHole(hex("0000000000000000 00000000")))).toMatch(/length 0/);
  });
});
