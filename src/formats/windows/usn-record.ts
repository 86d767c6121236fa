/**
 * The NTFS change journal: USN_RECORD_V2/V3/V4 (V3 and V4 declared here from Microsoft's
 * documentation — MinGW's headers stop at V2), the FSCTL_READ_USN_JOURNAL answer (the next USN,
 * then records back to back), USN_JOURNAL_DATA and the READ_USN_JOURNAL_DATA_V1 request.
 */

import { ByteReader } from "./byte-reader.ts";
import { READ_USN_JOURNAL, USN_JOURNAL_DATA, USN_V2, USN_V3, USN_V4 } from "./layout.ts";

export interface UsnExtent {
  /** Byte offset within the file's data stream. */
  readonly offset: number;
  readonly length: number;
}

export interface UsnRecord {
  readonly majorVersion: 2 | 3 | 4;
  readonly minorVersion: number;
  readonly recordLength: number;
  /** 64-bit (V2) or 128-bit (V3, V4) file reference: for NTFS, the MFT record number in the low 48 bits. */
  readonly fileReference: bigint;
  readonly parentReference: bigint;
  readonly usn: bigint;
  readonly reason: number;
  readonly sourceInfo: number;
  /** FILETIME (100 ns since 1601); absent in V4. */
  readonly timeStamp?: bigint;
  readonly securityId?: number;
  readonly fileAttributes?: number;
  readonly fileName?: string;
  /** V4 only: the byte ranges of the file that changed. */
  readonly extents?: readonly UsnExtent[];
  readonly remainingExtents?: number;
}

const HEADER = { 2: USN_V2.fileName, 3: USN_V3.fileName, 4: USN_V4.extents } as const;

/** Parses the record at `offset`; its length is validated against the buffer and its version. */
export function parseUsnRecord(r: ByteReader, offset: number): UsnRecord {
  const recordLength = r.u32(offset, "RecordLength");
  const majorVersion = r.u16(offset + USN_V2.majorVersion, "MajorVersion");
  const minorVersion = r.u16(offset + USN_V2.minorVersion, "MinorVersion");
  if (majorVersion !== 2 && majorVersion !== 3 && majorVersion !== 4) {
    r.fail(`record at byte ${offset} has MajorVersion ${majorVersion}`);
  }
  const header = HEADER[majorVersion];
  if (recordLength < header || recordLength % 8 !== 0) {
    r.fail(
      `record at byte ${offset} has RecordLength ${recordLength} (V${majorVersion} needs ≥ ${header}, 8-aligned)`,
    );
  }
  r.need(offset, recordLength, `record at byte ${offset}`);
  const rec = new ByteReader(
    r.slice(offset, recordLength, "record"),
    `${r.structure} V${majorVersion} record`,
  );
  if (majorVersion === 4) return parseV4(rec, minorVersion);
  const L = majorVersion === 2 ? USN_V2 : USN_V3;
  const wide = majorVersion === 3;
  const nameLength = rec.u16(L.fileNameLength, "FileNameLength");
  const nameOffset = rec.u16(L.fileNameOffset, "FileNameOffset");
  if (nameOffset < L.fileName) rec.fail(`FileNameOffset ${nameOffset} overlaps the header`);
  return {
    majorVersion,
    minorVersion,
    recordLength,
    fileReference: wide ? id128(rec, L.fileReference) : rec.u64big(L.fileReference, "FileReferenceNumber"),
    parentReference: wide
      ? id128(rec, L.parentReference)
      : rec.u64big(L.parentReference, "ParentFileReferenceNumber"),
    usn: rec.i64big(L.usn, "Usn"),
    timeStamp: rec.i64big(L.timeStamp, "TimeStamp"),
    reason: rec.u32(L.reason, "Reason"),
    sourceInfo: rec.u32(L.sourceInfo, "SourceInfo"),
    securityId: rec.u32(L.securityId, "SecurityId"),
    fileAttributes: rec.u32(L.fileAttributes, "FileAttributes"),
    fileName: rec.utf16(nameOffset, nameLength, "FileName"),
  };
}

function parseV4(rec: ByteReader, minorVersion: number): UsnRecord {
  const count = rec.u16(USN_V4.numberOfExtents, "NumberOfExtents");
  const size = rec.u16(USN_V4.extentSize, "ExtentSize");
  if (size !== USN_V4.extentRecordSize) rec.fail(`ExtentSize ${size}, expected ${USN_V4.extentRecordSize}`);
  const extents: UsnExtent[] = [];
  for (let i = 0; i < count; i++) {
    const at = USN_V4.extents + i * size;
    const offset = rec.i64(at, `Extents[${i}].Offset`);
    const length = rec.i64(at + 8, `Extents[${i}].Length`);
    if (offset < 0 || length < 0) rec.fail(`Extents[${i}] (${offset}, ${length}) is negative`);
    extents.push({ offset, length });
  }
  return {
    majorVersion: 4,
    minorVersion,
    recordLength: rec.length,
    fileReference: id128(rec, USN_V4.fileReference),
    parentReference: id128(rec, USN_V4.parentReference),
    usn: rec.i64big(USN_V4.usn, "Usn"),
    reason: rec.u32(USN_V4.reason, "Reason"),
    sourceInfo: rec.u32(USN_V4.sourceInfo, "SourceInfo"),
    remainingExtents: rec.u32(USN_V4.remainingExtents, "RemainingExtents"),
    extents,
  };
}

function id128(r: ByteReader, offset: number): bigint {
  return r.u64big(offset, "FileId.low") | (r.u64big(offset + 8, "FileId.high") << 64n);
}

/** Records laid back to back from `start` to the end of the buffer. */
export function parseUsnRecords(bytes: Uint8Array, start = 0, structure = "USN records"): UsnRecord[] {
  const r = new ByteReader(bytes, structure);
  const records: UsnRecord[] = [];
  for (let at = start; at < bytes.length;) {
    const record = parseUsnRecord(r, at);
    records.push(record);
    at += record.recordLength;
  }
  return records;
}

/** The FSCTL_READ_USN_JOURNAL answer: the USN to continue from, then the records. */
export function parseReadUsnJournal(bytes: Uint8Array): { nextUsn: bigint; records: UsnRecord[] } {
  const r = new ByteReader(bytes, "READ_USN_JOURNAL output");
  const nextUsn = r.i64big(0, "next USN");
  const records = parseUsnRecords(bytes, 8, "READ_USN_JOURNAL output");
  let previous = -1n;
  for (const record of records) {
    if (record.usn <= previous)
      r.fail(`USN ${record.usn} follows ${previous}: the journal must only move forward`);
    previous = record.usn;
  }
  if (records.length > 0 && nextUsn <= previous)
    r.fail(`next USN ${nextUsn} is not past the last record ${previous}`);
  return { nextUsn, records };
}

export interface UsnJournalData {
  readonly journalId: bigint;
  readonly firstUsn: bigint;
  readonly nextUsn: bigint;
  readonly lowestValidUsn: bigint;
  readonly maxUsn: bigint;
  readonly maximumSize: bigint;
  readonly allocationDelta: bigint;
  readonly minSupportedMajorVersion?: number;
  readonly maxSupportedMajorVersion?: number;
  /** V2: FLAG_USN_TRACK_MODIFIED_RANGES_ENABLE (1) when range tracking (V4 records) is on. */
  readonly flags?: number;
  readonly rangeTrackChunkSize?: bigint;
}

/** USN_JOURNAL_DATA V0, V1 or V2, told apart by length (FSCTL_QUERY_USN_JOURNAL returns the newest the OS has). */
export function parseUsnJournalData(bytes: Uint8Array): UsnJournalData {
  const r = new ByteReader(bytes, "USN_JOURNAL_DATA");
  const L = USN_JOURNAL_DATA;
  if (bytes.length < L.sizeV0) r.fail(`${bytes.length} bytes, at least ${L.sizeV0} needed`);
  const data: UsnJournalData = {
    journalId: r.u64big(L.journalId, "UsnJournalID"),
    firstUsn: r.i64big(L.firstUsn, "FirstUsn"),
    nextUsn: r.i64big(L.nextUsn, "NextUsn"),
    lowestValidUsn: r.i64big(L.lowestValidUsn, "LowestValidUsn"),
    maxUsn: r.i64big(L.maxUsn, "MaxUsn"),
    maximumSize: r.u64big(L.maximumSize, "MaximumSize"),
    allocationDelta: r.u64big(L.allocationDelta, "AllocationDelta"),
    ...(bytes.length >= L.sizeV1
      ? {
          minSupportedMajorVersion: r.u16(L.minSupportedMajorVersion, "MinSupportedMajorVersion"),
          maxSupportedMajorVersion: r.u16(L.maxSupportedMajorVersion, "MaxSupportedMajorVersion"),
        }
      : {}),
    ...(bytes.length >= L.sizeV2
      ? {
          flags: r.u32(L.flags, "Flags"),
          rangeTrackChunkSize: r.u64big(L.rangeTrackChunkSize, "RangeTrackChunkSize"),
        }
      : {}),
  };
  if (data.firstUsn < 0n || data.nextUsn < data.firstUsn || data.lowestValidUsn > data.nextUsn) {
    r.fail(
      `USNs out of order: first ${data.firstUsn}, lowest valid ${data.lowestValidUsn}, next ${data.nextUsn}`,
    );
  }
  return data;
}

/** READ_USN_JOURNAL_DATA_V1: read from `startUsn` of journal `journalId`, records V2 to V4. */
export function encodeReadUsnJournal(startUsn: bigint, journalId: bigint, maxMajorVersion = 4): Uint8Array {
  const L = READ_USN_JOURNAL;
  const out = new Uint8Array(L.sizeV1);
  const view = new DataView(out.buffer);
  view.setBigInt64(L.startUsn, startUsn, true);
  view.setUint32(L.reasonMask, 0xffffffff, true);
  view.setUint32(L.returnOnlyOnClose, 0, true);
  view.setBigUint64(L.timeout, 0n, true);
  view.setBigUint64(L.bytesToWaitFor, 0n, true);
  view.setBigUint64(L.journalId, journalId, true);
  view.setUint16(L.minMajorVersion, 2, true);
  view.setUint16(L.maxMajorVersion, maxMajorVersion, true);
  return out;
}

/** The MFT record number inside an NTFS file reference (the sequence number is the top 16 bits). */
export function mftRecordNumber(reference: bigint): number {
  return Number(reference & 0xffffffffffffn);
}

/** FILETIME (100 ns ticks since 1601-01-01 UTC) to milliseconds since the Unix epoch. */
export function fileTimeToMs(fileTime: bigint): number {
  return Number((fileTime - 116444736000000000n) / 10000n);
}

/**
 * Records in a raw `$UsnJrnl:$J` stream read as a file (from a shadow copy, say): unlike the
 * FSCTL_READ_USN_JOURNAL answer, the stream is sparse, so runs of zero bytes separate records.
 * Zeros are skipped eight bytes at a time (records are 8-aligned); anything else must parse.
 */
export function scanUsnStream(bytes: Uint8Array): UsnRecord[] {
  const r = new ByteReader(bytes, "$UsnJrnl:$J");
  const records: UsnRecord[] = [];
  let at = 0;
  while (at + 8 <= bytes.length) {
    if (r.u32(at, "RecordLength") === 0) {
      at += 8;
      continue;
    }
    const record = parseUsnRecord(r, at);
    records.push(record);
    at += record.recordLength;
  }
  return records;
}
