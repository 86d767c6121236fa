import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { WindowsFormatError } from "../../../src/formats/windows/byte-reader.ts";
import {
  encodeReadUsnJournal,
  fileTimeToMs,
  mftRecordNumber,
  parseReadUsnJournal,
  parseUsnJournalData,
  parseUsnRecords,
  scanUsnStream,
  type UsnRecord,
} from "../../../src/formats/windows/usn-record.ts";

const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../fixtures/windows/usn/${name}`, import.meta.url)));

interface FsutilRecord {
  usn: bigint;
  name?: string;
  reason: number;
  attributes?: number;
  fileId: bigint;
  parentId: bigint;
  securityId?: number;
  major: number;
  length: number;
  extents?: Array<{ offset: number; length: number }>;
}

/** Windows' own decoding of the journal, as `fsutil usn readjournal` printed it. */
function fsutilRecords(): FsutilRecord[] {
  const text = readFileSync(
    new URL("../../fixtures/windows/usn/usnjrnlj.fsutil.txt", import.meta.url),
    "utf8",
  );
  const blocks = text.split(/\n(?=Usn\s+:)/).slice(1);
  return blocks.map((block) => {
    const field = (name: string) => new RegExp(`^${name}\\s*: (.*)$`, "m").exec(block)?.[1]?.trim();
    const hex = (name: string) => BigInt(`0x${(field(name) ?? "").split(":")[0]?.replace(/^0x/, "")}`);
    const extents = [...block.matchAll(/\[\d+: (\d+), (\d+)\]/g)].map((m) => ({
      offset: Number(m[1]),
      length: Number(m[2]),
    }));
    const name = field("File name");
    const attributes = field("File attributes");
    const securityId = field("Security ID");
    return {
      usn: BigInt(field("Usn") ?? "-1"),
      ...(name === undefined ? {} : { name }),
      reason: Number(hex("Reason")),
      ...(attributes === undefined ? {} : { attributes: Number(hex("File attributes")) }),
      fileId: hex("File ID"),
      parentId: hex("Parent file ID"),
      ...(securityId === undefined ? {} : { securityId: Number(securityId) }),
      major: Number(field("Major version")),
      length: Number(field("Record length")),
      ...(extents.length === 0 ? {} : { extents }),
    };
  });
}

describe("USN records from a real Windows change journal", () => {
  const records = scanUsnStream(fixture("usnjrnlj.bin"));
  const windows = fsutilRecords();

  it("finds every record fsutil decoded, and the three written after fsutil ran", () => {
    expect(windows.length).toBe(268);
    const usns = new Set(records.map((r) => r.usn));
    for (const w of windows) expect(usns.has(w.usn), `USN ${w.usn}`).toBe(true);
    expect(records.map((r) => r.usn).filter((u) => !windows.some((w) => w.usn === u))).toEqual([
      29792n,
      29880n,
      29968n,
    ]);
  });

  it("decodes each field as Windows does (V2 records, which fsutil shows in their V3 form, and V4 ranges)", () => {
    const byUsn = new Map(records.map((r) => [r.usn, r] as const));
    for (const w of windows) {
      const r = byUsn.get(w.usn) as UsnRecord;
      expect(r.reason, `reason of ${w.usn}`).toBe(w.reason);
      expect(r.fileReference, `file of ${w.usn}`).toBe(w.fileId);
      expect(r.parentReference, `parent of ${w.usn}`).toBe(w.parentId);
      if (w.major === 4) {
        expect(r.majorVersion).toBe(4);
        expect(r.recordLength).toBe(w.length);
        expect(r.extents).toEqual(w.extents);
      } else {
        expect(r.majorVersion).toBe(2);
        expect(r.fileName).toBe(w.name);
        expect(r.fileAttributes).toBe(w.attributes);
        expect(r.securityId).toBe(w.securityId);
        // V3 widens both references by 8 bytes: same name, 16 bytes longer, 8-aligned.
        expect(r.recordLength + 16).toBe(w.length);
      }
    }
  });

  it("parses V3 records laid out from Windows' own decoding", () => {
    const w = windows.find((x) => x.major === 3 && x.name === "New folder") as FsutilRecord;
    const name = Buffer.from(w.name ?? "", "utf16le");
    const bytes = Buffer.alloc(w.length);
    bytes.writeUInt32LE(w.length, 0);
    bytes.writeUInt16LE(3, 4);
    bytes.writeBigUInt64LE(w.fileId & 0xffffffffffffffffn, 8);
    bytes.writeBigUInt64LE(w.fileId >> 64n, 16);
    bytes.writeBigUInt64LE(w.parentId & 0xffffffffffffffffn, 24);
    bytes.writeBigUInt64LE(w.parentId >> 64n, 32);
    bytes.writeBigInt64LE(w.usn, 40);
    bytes.writeUInt32LE(w.reason, 56);
    bytes.writeUInt32LE(w.attributes ?? 0, 68);
    bytes.writeUInt16LE(name.length, 72);
    bytes.writeUInt16LE(76, 74);
    name.copy(bytes, 76);
    const [r] = parseUsnRecords(bytes);
    expect(r).toMatchObject({
      majorVersion: 3,
      usn: w.usn,
      reason: w.reason,
      fileReference: w.fileId,
      fileName: "New folder",
    });
    expect(mftRecordNumber((r as UsnRecord).fileReference)).toBe(0x28);
  });

  it("returns every record across zero-filled gaps that keep 8-byte alignment", () => {
    const stream = fixture("usnjrnlj.bin");
    const gapped = new Uint8Array(4096 + stream.length * 2 + 64);
    gapped.set(stream, 4096);
    gapped.set(stream, 4096 + stream.length + 64);
    expect(scanUsnStream(gapped).length).toBe(records.length * 2);
  });
});

describe("single USN records with published values", () => {
  it("reads a V2 record: large_file.txt, DATA_OVERWRITE|CLOSE, at 2019-01-21 22:36:05 UTC", () => {
    const [r] = parseUsnRecords(fixture("usn_1170953448.bin"));
    expect(r).toMatchObject({
      majorVersion: 2,
      usn: 1170953448n,
      fileName: "large_file.txt",
      reason: 0x80000001,
      fileAttributes: 0x20,
      fileReference: 0x000d000000013252n,
      parentReference: 0x00060000000009ebn,
    });
    // Published to the second.
    expect(new Date(fileTimeToMs((r as UsnRecord).timeStamp ?? 0n)).toISOString().slice(0, 19)).toBe(
      "2019-01-21T22:36:05",
    );
  });

  it("reads a V2 record with security and hard-link changes", () => {
    const [r] = parseUsnRecords(fixture("usn_1170990440.bin"));
    expect(r).toMatchObject({
      fileName: "mpasbase.vdm",
      reason: 0x80010800,
      fileReference: 0x0002000000013424n,
    });
  });

  it("reads V4 records with one and two changed ranges", () => {
    const [one] = parseUsnRecords(fixture("usn_1170989584.bin"));
    expect(one).toMatchObject({
      majorVersion: 4,
      reason: 0x80000102,
      remainingExtents: 0,
      extents: [{ offset: 0, length: 2162688 }],
    });
    expect(one?.fileReference).toBe(0x0004000000013de8n);
    const [two] = parseUsnRecords(fixture("usn_1170955904.bin"));
    expect(two?.extents).toEqual([
      { offset: 0, length: 16384 },
      { offset: 6242304, length: 32768 },
    ]);
    expect(two?.parentReference).toBe(0x0004000000001066n);
  });
});

describe("truncated and hostile journal buffers", () => {
  const v2 = fixture("usn_1170953448.bin");

  it("refuses a record cut short, naming the record", () => {
    for (const cut of [4, 8, 59, 60, 87]) {
      expect(() => parseUsnRecords(v2.subarray(0, cut)), `cut at ${cut}`).toThrow(WindowsFormatError);
    }
  });

  it("refuses a zero, unaligned or oversized RecordLength instead of looping or reading past the end", () => {
    for (const length of [0, 12, 61, 96, 0xffffffff]) {
      const bad = Buffer.from(v2);
      bad.writeUInt32LE(length, 0);
      expect(() => parseUsnRecords(bad), `length ${length}`).toThrow(WindowsFormatError);
    }
  });

  it("refuses unknown versions and names that point outside the record", () => {
    const version = Buffer.from(v2);
    version.writeUInt16LE(5, 4);
    expect(() => parseUsnRecords(version)).toThrow(/MajorVersion 5/);
    const name = Buffer.from(v2);
    name.writeUInt16LE(200, 56);
    expect(() => parseUsnRecords(name)).toThrow(/FileName/);
    const header = Buffer.from(v2);
    header.writeUInt16LE(8, 58);
    expect(() => parseUsnRecords(header)).toThrow(/overlaps the header/);
  });

  it("refuses a V4 record whose extent count runs past it, or whose extent size is unknown", () => {
    const v4 = Buffer.from(fixture("usn_1170955904.bin"));
    v4.writeUInt16LE(3, 60);
    expect(() => parseUsnRecords(v4)).toThrow(/Extents\[2\]/);
    const size = Buffer.from(fixture("usn_1170955904.bin"));
    size.writeUInt16LE(24, 62);
    expect(() => parseUsnRecords(size)).toThrow(/ExtentSize 24/);
  });

  it("refuses a READ_USN_JOURNAL answer whose USNs go backwards", () => {
    const a = fixture("usn_1170953448.bin");
    const b = fixture("usn_1170990440.bin");
    const answer = (next: bigint, ...records: Uint8Array[]) => {
      const head = Buffer.alloc(8);
      head.writeBigInt64LE(next);
      return Buffer.concat([head, ...records]);
    };
    expect(parseReadUsnJournal(answer(1170990528n, a, b)).records.length).toBe(2);
    expect(() => parseReadUsnJournal(answer(1170990528n, b, a))).toThrow(/only move forward/);
    expect(() => parseReadUsnJournal(answer(5n, a))).toThrow(/next USN/);
    expect(() => parseReadUsnJournal(new Uint8Array(4))).toThrow(WindowsFormatError);
  });

  it("reads USN_JOURNAL_DATA V0, V1 and V2 by length and refuses USNs out of order", () => {
    const data = Buffer.alloc(80);
    data.writeBigUInt64LE(0x01d4b29a6f9cc0e9n, 0);
    data.writeBigInt64LE(0n, 8);
    data.writeBigInt64LE(29792n, 16);
    data.writeUInt16LE(2, 56);
    data.writeUInt16LE(4, 58);
    data.writeUInt32LE(1, 60);
    expect(parseUsnJournalData(data.subarray(0, 56))).toMatchObject({
      journalId: 0x01d4b29a6f9cc0e9n,
      nextUsn: 29792n,
    });
    expect(parseUsnJournalData(data.subarray(0, 64)).maxSupportedMajorVersion).toBe(4);
    expect(parseUsnJournalData(data).flags).toBe(1);
    expect(() => parseUsnJournalData(data.subarray(0, 40))).toThrow(WindowsFormatError);
    const backwards = Buffer.from(data);
    backwards.writeBigInt64LE(30000n, 8);
    expect(() => parseUsnJournalData(backwards)).toThrow(/out of order/);
  });

  it("asks for records V2 to V4 of one journal from one USN", () => {
    const request = Buffer.from(encodeReadUsnJournal(29792n, 0x01d4b29a6f9cc0e9n));
    expect(request.length).toBe(48);
    expect(request.readBigInt64LE(0)).toBe(29792n);
    expect(request.readBigUInt64LE(32)).toBe(0x01d4b29a6f9cc0e9n);
    expect([request.readUInt16LE(40), request.readUInt16LE(42)]).toEqual([2, 4]);
  });
});
