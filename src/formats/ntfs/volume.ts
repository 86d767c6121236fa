/**
 * Opening an NTFS volume far enough to trust its cluster bitmap: boot sector, $MFT (following its
 * attribute list when the MFT is fragmented), $Bitmap, $Volume and $LogFile. Every structure is
 * checked; anything inconsistent is NTFS_INVALID, which callers turn into "sync at full size".
 */

import { confinedReader, copyBytes, fail, Fields, MAX_STRUCTURE_BYTES, type ReadAt } from "../bytes.ts";
import { parseAttributeList } from "./attribute-list.ts";
import { type NtfsBootSector, parseNtfsBootSector } from "./boot-sector.ts";
import { type LogState, logFileState } from "./logfile.ts";
import {
  applyFixups,
  ATTR,
  ATTR_FLAG,
  type Attribute,
  findAttributes,
  type MftRecord,
  parseMftRecord,
} from "./mft-record.ts";
import type { DataRun } from "./runlist.ts";
import { type AttributeStream, nonResidentStream, residentStream } from "./stream.ts";

export interface NtfsVolume {
  readonly boot: NtfsBootSector;
  readonly label: string | undefined;
  /** "3.1" for every NTFS since Windows XP. */
  readonly version: string | undefined;
  /** $VOLUME_INFORMATION flags; 0x0001 is "dirty" (chkdsk pending). */
  readonly volumeFlags: number;
  readonly logState: LogState;
  readonly mft: AttributeStream;
  readonly bitmap: AttributeStream;
  /** Clusters that must be marked allocated in $Bitmap, or the bitmap cannot be trusted. */
  readonly systemRuns: readonly DataRun[];
  /** Reads one MFT record, fix-ups applied. */
  readRecord(number: number): Promise<MftRecord>;
}

export const VOLUME_IS_DIRTY = 0x0001;
const RECORD = { mft: 0, logFile: 2, volume: 3, bitmap: 6 } as const;
const MAX_EXTENTS = 65_536;

/** Opens the NTFS volume occupying the first `size` bytes of `read`. */
export async function openNtfsVolume(read: ReadAt, size: number): Promise<NtfsVolume> {
  if (size < 512) fail("NTFS_INVALID", "NTFS volume", `only ${size} bytes`);
  const boot = parseNtfsBootSector(await read(0, 512));
  const clusterSize = boot.clusterSize;
  const clusterBytes = boot.clusterCount * clusterSize;
  if (boot.totalSectors * boot.bytesPerSector > size) {
    fail(
      "NTFS_INVALID",
      "NTFS boot sector",
      `the volume's ${boot.totalSectors} sectors do not fit in its ${size}-byte partition`,
    );
  }
  const clusters = confinedReader(read, 0, clusterBytes, "NTFS_INVALID", "NTFS volume");
  const { clusterCount } = boot;

  const { mft, readRecord } = await openMft(boot, clusters);
  await checkMirror(boot, mft, clusters);

  const bitmapRecord = await readBaseRecord(readRecord, RECORD.bitmap, "$Bitmap");
  const bitmap = await openAttribute(bitmapRecord, ATTR.data, readRecord, clusters, clusterSize, "$Bitmap");
  // A bitmap that is short, partly uninitialized or sparse would read as "free" where it says
  // nothing at all: real volumes never have one, and trusting it could drop data.
  const needed = Math.ceil(clusterCount / 8);
  if (bitmap.size < needed || bitmap.initializedSize < needed || bitmap.runs.some((r) => r.lcn === null)) {
    fail(
      "NTFS_INVALID",
      "$Bitmap",
      `${bitmap.size} bytes (${bitmap.initializedSize} initialized, sparse runs: ${bitmap.runs.some((r) => r.lcn === null)}) cannot describe ${clusterCount} clusters`,
    );
  }
  const logRecord = await readBaseRecord(readRecord, RECORD.logFile, "$LogFile");
  const log = await openAttribute(logRecord, ATTR.data, readRecord, clusters, clusterSize, "$LogFile");
  const volumeRecord = await readBaseRecord(readRecord, RECORD.volume, "$Volume");
  const name = findAttributes(volumeRecord, ATTR.volumeName)[0];
  const info = findAttributes(volumeRecord, ATTR.volumeInformation)[0];
  let version: string | undefined;
  let volumeFlags = 0;
  if (info?.resident === true) {
    const f: Fields = new Fields(info.value, "NTFS_INVALID", "$VOLUME_INFORMATION");
    version = `${f.u8(8)}.${f.u8(9)}`;
    volumeFlags = f.u16(10);
  }
  let label: string | undefined;
  if (name?.resident === true) {
    label = new Fields(name.value, "NTFS_INVALID", "$VOLUME_NAME").utf16(0, name.value.length >>> 1);
  }
  const bootClusters = Math.max(1, Math.ceil(8192 / clusterSize));
  return {
    boot,
    label,
    version,
    volumeFlags,
    logState: await logFileState(log),
    mft,
    bitmap,
    systemRuns: [
      { vcn: 0, lcn: 0, length: Math.min(bootClusters, clusterCount) },
      {
        vcn: 0,
        lcn: boot.mftMirrLcn,
        length: Math.min(Math.ceil((4 * boot.recordSize) / clusterSize), clusterCount - boot.mftMirrLcn),
      },
      ...mft.runs,
      ...bitmap.runs,
      ...log.runs,
    ],
    readRecord,
  };
}

/**
 * $MFTMirr repeats the first records of $MFT (at least four); Windows and ntfs-3g refuse a volume
 * whose copies disagree, and so do we: one of them was damaged or written behind the other's back.
 */
async function checkMirror(boot: NtfsBootSector, mft: AttributeStream, clusters: ReadAt): Promise<void> {
  const count = Math.min(4, Math.floor(mft.size / boot.recordSize));
  const mirror = await clusters(boot.mftMirrLcn * boot.clusterSize, count * boot.recordSize);
  const primary = await mft.read(0, count * boot.recordSize);
  for (let i = 0; i < count; i++) {
    const at = i * boot.recordSize;
    const a = copyBytes(primary, at, at + boot.recordSize);
    const b = copyBytes(mirror, at, at + boot.recordSize);
    applyFixups(a, "FILE", `$MFT record ${i}`);
    try {
      applyFixups(b, "FILE", `$MFTMirr record ${i}`);
    } catch (e) {
      fail("NTFS_INVALID", "$MFTMirr", `record ${i} is damaged (${(e as Error).message})`);
    }
    const used = new Fields(a, "NTFS_INVALID", `$MFT record ${i}`).u32(0x18);
    if (used > a.length || !Buffer.from(a.subarray(0, used)).equals(b.subarray(0, used))) {
      fail("NTFS_INVALID", "$MFTMirr", `record ${i} does not match $MFT`);
    }
  }
}

/**
 * $MFT itself: record 0 sits where the boot sector says; its own $DATA extents are enough to reach
 * the extension records its attribute list names when the MFT is too fragmented for one record.
 */
export async function openMft(
  boot: NtfsBootSector,
  clusters: ReadAt,
): Promise<{ mft: AttributeStream; readRecord: (n: number) => Promise<MftRecord> }> {
  const { clusterSize, clusterCount, recordSize } = boot;
  const record0 = parseMftRecord(await clusters(boot.mftLcn * clusterSize, recordSize), 0, clusterCount);
  if (!record0.inUse) fail("NTFS_INVALID", "$MFT", "record 0 is not in use");
  // Bootstrap: the extents held in record 0 itself must map the records its attribute list names.
  const ownExtents = findAttributes(record0, ATTR.data).filter((a) => a.resident || a.lowestVcn === 0);
  const bootstrap = buildStream(clusters, clusterSize, ownExtents, "$MFT (record 0)", true);
  if (bootstrap.runs[0]?.lcn !== boot.mftLcn) {
    fail("NTFS_INVALID", "$MFT", `its data does not start at the boot sector's LCN ${boot.mftLcn}`);
  }
  const recordReader = (stream: AttributeStream) => async (n: number) => {
    if (!Number.isSafeInteger(n) || n < 0 || (n + 1) * recordSize > stream.size) {
      fail("NTFS_INVALID", "$MFT", `record ${n} lies past the MFT's ${stream.size} bytes`);
    }
    return parseMftRecord(await stream.read(n * recordSize, recordSize), n, clusterCount);
  };
  const mft = await openAttribute(record0, ATTR.data, recordReader(bootstrap), clusters, clusterSize, "$MFT");
  if (mft.runs.some((r) => r.lcn === null)) fail("NTFS_INVALID", "$MFT", "it has sparse runs");
  const readRecord = recordReader(mft);
  return { mft, readRecord };
}

async function readBaseRecord(
  readRecord: (n: number) => Promise<MftRecord>,
  n: number,
  name: string,
): Promise<MftRecord> {
  const record = await readRecord(n);
  if (!record.inUse || record.baseRecord !== 0)
    fail("NTFS_INVALID", name, `record ${n} is not a base record in use`);
  return record;
}

/**
 * Attribute `type` named `name` of a base record, gathered from every record its attribute list
 * names. Only plain and sparse streams are read: the system files Lifeboat needs are never
 * compressed or encrypted, and if they say so the volume is damaged.
 */
export async function openAttribute(
  base: MftRecord,
  type: number,
  readRecord: (n: number) => Promise<MftRecord>,
  read: ReadAt,
  clusterSize: number,
  what: string,
  name = "",
): Promise<AttributeStream> {
  const list = findAttributes(base, ATTR.attributeList)[0];
  if (list === undefined)
    return buildStream(read, clusterSize, findAttributes(base, type, name), what, false);
  let listBytes: Uint8Array;
  if (list.resident) listBytes = list.value;
  else {
    const stream = buildStream(read, clusterSize, [list], `${what} attribute list`, false);
    if (stream.size > MAX_STRUCTURE_BYTES) fail("NTFS_INVALID", what, "attribute list is implausibly large");
    listBytes = await stream.read(0, stream.size);
  }
  const entries = parseAttributeList(listBytes, what).filter((e) => e.type === type && e.name === name);
  if (entries.length > MAX_EXTENTS) fail("NTFS_INVALID", what, `${entries.length} extents`);
  const records = new Map<number, MftRecord>([[base.number, base]]);
  const pieces: Attribute[] = [];
  for (const entry of entries) {
    let record = records.get(entry.record);
    if (record === undefined) {
      record = await readRecord(entry.record);
      if (!record.inUse || record.baseRecord !== base.number) {
        fail(
          "NTFS_INVALID",
          what,
          `extension record ${entry.record} does not belong to record ${base.number}`,
        );
      }
      records.set(entry.record, record);
    }
    const piece = findAttributes(record, type, name).find(
      (a) => a.resident || a.lowestVcn === entry.lowestVcn,
    );
    if (piece === undefined) {
      fail("NTFS_INVALID", what, `record ${entry.record} lacks the extent at VCN ${entry.lowestVcn}`);
    }
    if (!pieces.includes(piece)) pieces.push(piece);
  }
  return buildStream(read, clusterSize, pieces, what, false);
}

/** Joins attribute extents into one stream; `partial` allows extents that stop short of the end. */
function buildStream(
  read: ReadAt,
  clusterSize: number,
  pieces: readonly Attribute[],
  what: string,
  partial: boolean,
): AttributeStream {
  const first = pieces[0];
  if (first === undefined) fail("NTFS_INVALID", what, "the attribute is missing");
  if ((first.flags & (ATTR_FLAG.compressed | ATTR_FLAG.encrypted)) !== 0) {
    fail("NTFS_INVALID", what, `a system file with attribute flags 0x${first.flags.toString(16)}`);
  }
  if (first.resident) {
    if (pieces.length > 1) fail("NTFS_INVALID", what, "a resident attribute in several pieces");
    return residentStream(first.value);
  }
  const extents = [...pieces].sort((a, b) => (a.resident || b.resident ? 0 : a.lowestVcn - b.lowestVcn));
  const runs: DataRun[] = [];
  let next = 0;
  for (const e of extents) {
    if (e.resident) fail("NTFS_INVALID", what, "resident and non-resident pieces mixed");
    if (e.lowestVcn !== next)
      fail("NTFS_INVALID", what, `extent starts at VCN ${e.lowestVcn}, expected ${next}`);
    for (const run of e.runs) runs.push(run); // a spread could overflow the stack on huge runlists
    next = e.highestVcn + 1;
  }
  const head = extents[0] as Attribute & { resident: false };
  if (head.lowestVcn !== 0) fail("NTFS_INVALID", what, "no extent starts at VCN 0");
  const mapped = next * clusterSize;
  const size = partial ? Math.min(head.dataSize, mapped) : head.dataSize;
  if (head.initializedSize > head.dataSize || size > mapped) {
    fail(
      "NTFS_INVALID",
      what,
      `sizes (data ${head.dataSize}, initialized ${head.initializedSize}) exceed its ${mapped} mapped bytes`,
    );
  }
  return nonResidentStream(read, clusterSize, runs, size, Math.min(head.initializedSize, size), what);
}
