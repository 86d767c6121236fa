/**
 * MFT file records: the multi-sector fix-ups that protect them against torn writes, and the
 * attributes they hold. Parsing is bounded by the record: every offset is checked before use.
 */

import { copyBytes, Fields } from "../bytes.ts";
import { type DataRun, decodeRunlist } from "./runlist.ts";

export const ATTR = {
  standardInformation: 0x10,
  attributeList: 0x20,
  fileName: 0x30,
  volumeName: 0x60,
  volumeInformation: 0x70,
  data: 0x80,
  indexRoot: 0x90,
  indexAllocation: 0xa0,
  bitmap: 0xb0,
  end: 0xffffffff,
} as const;

export const ATTR_FLAG = { compressed: 0x0001, encrypted: 0x4000, sparse: 0x8000 } as const;

interface AttributeHeader {
  readonly type: number;
  readonly name: string;
  readonly flags: number;
  readonly instance: number;
}

export interface ResidentAttribute extends AttributeHeader {
  readonly resident: true;
  readonly value: Uint8Array;
}

export interface NonResidentAttribute extends AttributeHeader {
  readonly resident: false;
  readonly lowestVcn: number;
  readonly highestVcn: number;
  /** Sizes are only meaningful in the extent whose lowest VCN is 0. */
  readonly allocatedSize: number;
  readonly dataSize: number;
  readonly initializedSize: number;
  readonly compressionUnit: number;
  readonly runs: readonly DataRun[];
}

export type Attribute = ResidentAttribute | NonResidentAttribute;

export interface MftRecord {
  readonly number: number;
  readonly sequence: number;
  readonly inUse: boolean;
  readonly isDirectory: boolean;
  /** Record number of the base record for an extension record; 0 for a base record. */
  readonly baseRecord: number;
  readonly attributes: readonly Attribute[];
}

const SECTOR = 512;

/**
 * Applies the update-sequence fix-ups in place: the last two bytes of every 512-byte stride must
 * hold the update sequence number, and get their real value back from the array. A mismatch means
 * a torn write and the record is NTFS_INVALID.
 */
export function applyFixups(record: Uint8Array, magic: string, what: string): void {
  const f: Fields = new Fields(record, "NTFS_INVALID", what);
  const found = f.ascii(0, 4);
  if (found !== magic) f.fail(`magic is ${JSON.stringify(found)}, not ${JSON.stringify(magic)}`);
  const usaOffset = f.u16(4);
  const usaCount = f.u16(6);
  const strides = record.length / SECTOR;
  if (!Number.isInteger(strides) || usaCount !== strides + 1) {
    f.fail(`update sequence array has ${usaCount} entries for a ${record.length}-byte record`);
  }
  if (usaOffset % 2 !== 0 || usaOffset < 8 || usaOffset + usaCount * 2 > SECTOR - 2) {
    f.fail(`update sequence array at ${usaOffset} is misplaced`);
  }
  const usn = f.u16(usaOffset);
  for (let i = 1; i < usaCount; i++) {
    const end = i * SECTOR - 2;
    if (f.u16(end) !== usn) f.fail(`incomplete multi-sector transfer in sector ${i - 1}`);
    record[end] = record[usaOffset + 2 * i] as number;
    record[end + 1] = record[usaOffset + 2 * i + 1] as number;
  }
}

/** Parses a raw record (fix-ups not yet applied; this copy is fixed up). */
export function parseMftRecord(raw: Uint8Array, number: number, clusterCount: number): MftRecord {
  const what = `MFT record ${number}`;
  const record = copyBytes(raw);
  applyFixups(record, "FILE", what);
  const f: Fields = new Fields(record, "NTFS_INVALID", what);
  const attrsOffset = f.u16(0x14);
  const flags = f.u16(0x16);
  const bytesInUse = f.u32(0x18);
  const bytesAllocated = f.u32(0x1c);
  if (bytesAllocated !== record.length) {
    f.fail(`allocated size ${bytesAllocated} differs from the record size ${record.length}`);
  }
  if (bytesInUse > record.length || attrsOffset < 0x2a || attrsOffset + 4 > bytesInUse) {
    f.fail(`attributes at ${attrsOffset} with ${bytesInUse} bytes in use do not fit`);
  }
  // Records written by NTFS 3.1 carry their own number; a mismatch means we read the wrong place.
  if (attrsOffset >= 0x30) {
    const own = f.u32(0x2c);
    if (own !== number % 2 ** 32 && own !== 0) f.fail(`record says it is number ${own}`);
  }
  const attributes: Attribute[] = [];
  let pos = attrsOffset;
  while (true) {
    if (pos + 4 > bytesInUse) f.fail(`attribute at ${pos} runs past the bytes in use`);
    const type = f.u32(pos);
    if (type === ATTR.end) break;
    const length = f.u32(pos + 4);
    if (length < 0x18 || length % 8 !== 0 || pos + length > bytesInUse) {
      f.fail(`attribute 0x${type.toString(16)} at ${pos} has bad length ${length}`);
    }
    attributes.push(parseAttribute(new Fields(f.slice(pos, length), "NTFS_INVALID", what), clusterCount));
    pos += length;
  }
  return {
    number,
    sequence: f.u16(0x10),
    inUse: (flags & 0x0001) !== 0,
    isDirectory: (flags & 0x0002) !== 0,
    baseRecord: f.u32(0x20) + f.u16(0x24) * 2 ** 32,
    attributes,
  };
}

function parseAttribute(a: Fields, clusterCount: number): Attribute {
  const type = a.u32(0);
  const nonResident = a.u8(8);
  const nameLength = a.u8(9);
  const nameOffset = a.u16(10);
  const header = {
    type,
    name: nameLength === 0 ? "" : a.utf16(nameOffset, nameLength),
    flags: a.u16(12),
    instance: a.u16(14),
  };
  const what = `${a.what} attribute 0x${type.toString(16)}`;
  if (nonResident === 0) {
    const valueLength = a.u32(0x10);
    const valueOffset = a.u16(0x14);
    return { ...header, resident: true, value: a.slice(valueOffset, valueLength) };
  }
  if (nonResident !== 1 || a.length < 0x40) a.fail(`${what}: bad non-resident header`);
  const lowestVcn = a.u64(0x10);
  const highestVcn = a.i64(0x18);
  const runsOffset = a.u16(0x20);
  if (runsOffset < 0x40 || runsOffset > a.length) a.fail(`${what}: runlist offset ${runsOffset} is invalid`);
  const runs = decodeRunlist(a.bytes.subarray(runsOffset), lowestVcn, clusterCount, what);
  const covered = runs.reduce((n, r) => n + r.length, 0);
  // An empty attribute has highest VCN −1 and no runs.
  if (covered !== highestVcn - lowestVcn + 1) {
    a.fail(`${what}: runlist covers ${covered} clusters, header says VCN ${lowestVcn}–${highestVcn}`);
  }
  return {
    ...header,
    resident: false,
    lowestVcn,
    highestVcn,
    compressionUnit: a.u8(0x22),
    allocatedSize: a.u64(0x28),
    dataSize: a.u64(0x30),
    initializedSize: a.u64(0x38),
    runs,
  };
}

/** The attributes of `type` named `name` (unnamed by default). */
export function findAttributes(record: MftRecord, type: number, name = ""): Attribute[] {
  return record.attributes.filter((a) => a.type === type && a.name === name);
}
