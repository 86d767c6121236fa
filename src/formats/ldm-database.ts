/**
 * The LDM database of a dynamic disk: PRIVHEAD → TOCBLOCK → VMDB → VBLK records describing disks,
 * partitions, components and volumes. All structures are big-endian; VBLK fields are
 * length-prefixed. Every offset is bounds-checked and the record count is bounded by the 1 MiB
 * database, so a hostile database can only yield LAYOUT_INVALID.
 */

import { fail, Fields, type ReadAt } from "./bytes.ts";

export type LdmLayout = "simple" | "spanned" | "striped" | "mirrored" | "raid5" | "unknown";

export interface LdmVolume {
  readonly name: string;
  readonly layout: LdmLayout;
  /** Bytes. */
  readonly size: number;
  /** Whether a piece of this volume lives on the disk being read. */
  readonly onThisDisk: boolean;
}

export interface LdmDatabase {
  readonly version: string;
  readonly diskGuid: string;
  readonly groupName: string;
  readonly volumes: readonly LdmVolume[];
}

const WHAT = "LDM database";
const MAX_DATABASE_SECTORS = 8192;

export async function readLdmDatabase(
  read: ReadAt,
  capacity: number,
  sectorSize: number,
  privheadSector: number,
): Promise<LdmDatabase> {
  const diskSectors = Math.floor(capacity / sectorSize);
  const sector = async (lba: number, count = 1) => {
    if (!Number.isSafeInteger(lba) || lba < 0 || lba + count > diskSectors) {
      fail("LAYOUT_INVALID", WHAT, `sector ${lba}+${count} lies outside the disk`);
    }
    return read(lba * sectorSize, count * sectorSize);
  };
  const ph: Fields = new Fields(await sector(privheadSector), "LAYOUT_INVALID", "LDM PRIVHEAD");
  if (ph.ascii(0, 8) !== "PRIVHEAD") ph.fail(`no PRIVHEAD signature in sector ${privheadSector}`);
  const version = `${ph.be16(0x0c)}.${ph.be16(0x0e)}`;
  const diskGuid = ph.ascii(0x30, 36).toUpperCase();
  const groupName = ph.ascii(0xf0, 32).replace(/\0.*$/s, "");
  const configStart = ph.be64(0x12b);
  const configSize = ph.be64(0x133);
  if (configSize < 64 || configSize > MAX_DATABASE_SECTORS) ph.fail(`database of ${configSize} sectors`);

  let toc: Fields | undefined;
  for (const offset of [1, 2, configSize - 3, configSize - 2]) {
    const candidate = new Fields(await sector(configStart + offset), "LAYOUT_INVALID", "LDM TOCBLOCK");
    if (candidate.ascii(0, 8) === "TOCBLOCK" && candidate.ascii(0x24, 6) === "config") {
      toc = candidate;
      break;
    }
  }
  if (toc === undefined) fail("LAYOUT_INVALID", WHAT, "no valid TOCBLOCK");
  const configBitmapStart = toc.be64(0x2e);
  const configBitmapSize = toc.be64(0x36);
  if (configBitmapStart + configBitmapSize > configSize)
    toc.fail("its config area lies outside the database");

  const vmdbSectors = configBitmapSize;
  const vmdbBytes = await sector(configStart + configBitmapStart, vmdbSectors);
  const vmdb: Fields = new Fields(vmdbBytes, "LAYOUT_INVALID", "LDM VMDB");
  if (vmdb.ascii(0, 4) !== "VMDB") vmdb.fail("no VMDB signature");
  const lastSeq = vmdb.be32(4);
  const vblkSize = vmdb.be32(8);
  const vblkOffset = vmdb.be32(0x0c);
  if (
    vblkSize < 32 ||
    vblkSize > 4096 ||
    vblkOffset % vblkSize !== 0 ||
    lastSeq * vblkSize > vmdbBytes.length
  ) {
    vmdb.fail(`VBLK geometry (size ${vblkSize}, offset ${vblkOffset}, last ${lastSeq}) does not fit`);
  }
  if (vmdb.be16(0x10) !== 1) vmdb.fail("it has uncommitted transactions");
  const records = joinFragments(vmdbBytes, vblkOffset / vblkSize, lastSeq, vblkSize);
  return {
    version,
    diskGuid,
    groupName,
    volumes: describeVolumes(records.map(parseVblk), diskGuid, sectorSize),
  };
}

/** VBLK records, with multi-part records joined (their parts share a group number). */
function joinFragments(bytes: Uint8Array, first: number, last: number, size: number): Uint8Array[] {
  const whole: Uint8Array[] = [];
  const groups = new Map<number, { parts: (Uint8Array | undefined)[] }>();
  for (let i = first; i < last; i++) {
    const v = new Fields(bytes.subarray(i * size, (i + 1) * size), "LAYOUT_INVALID", `VBLK ${i}`);
    if (v.ascii(0, 4) !== "VBLK") v.fail("no VBLK signature");
    const group = v.be32(8);
    const rec = v.be16(0x0c);
    const count = v.be16(0x0e);
    if (count === 0) continue; // free slot
    if (count === 1) {
      whole.push(v.bytes);
      continue;
    }
    if (count > 4 || rec >= count) v.fail(`part ${rec} of ${count}`);
    const entry = groups.get(group) ?? { parts: new Array<Uint8Array | undefined>(count) };
    if (entry.parts.length !== count || entry.parts[rec] !== undefined)
      v.fail(`duplicate or inconsistent part ${rec}`);
    entry.parts[rec] = v.bytes;
    groups.set(group, entry);
  }
  for (const [group, { parts }] of groups) {
    if (parts.some((p) => p === undefined)) fail("LAYOUT_INVALID", WHAT, `VBLK group ${group} is incomplete`);
    const joined = new Uint8Array(16 + parts.length * (size - 16));
    joined.set((parts[0] as Uint8Array).subarray(0, 16));
    parts.forEach((p, i) => joined.set((p as Uint8Array).subarray(16), 16 + i * (size - 16)));
    whole.push(joined);
  }
  return whole;
}

type Vblk =
  | { kind: "volume"; id: number; name: string; volumeType: string; size: number }
  | { kind: "component"; id: number; type: number; parent: number }
  | { kind: "partition"; id: number; size: number; parent: number; disk: number }
  | { kind: "disk"; id: number; guid: string }
  | { kind: "other" };

/** Length-prefixed fields: each starts with its length byte; `rel` returns the offset past one. */
function parseVblk(buf: Uint8Array): Vblk {
  const f: Fields = new Fields(buf, "LAYOUT_INVALID", "VBLK");
  const rel = (base: number, offset: number) => {
    const at = base + offset;
    if (at >= buf.length || at + f.u8(at) >= buf.length) f.fail(`field at ${at} runs past the record`);
    return f.u8(at) + offset + 1;
  };
  const vnum = (at: number) => {
    const n = f.u8(at);
    if (n < 1 || n > 7) f.fail(`number of ${n} bytes at ${at}`);
    let value = 0;
    for (let i = 1; i <= n; i++) value = value * 256 + f.u8(at + i);
    return value;
  };
  const vstr = (at: number) => f.ascii(at + 1, f.u8(at));
  const type = f.u8(0x13);
  const rObj = rel(0x18, 0);
  const rName = rel(0x18, rObj);
  const id = vnum(0x18);
  switch (type) {
    case 0x51: {
      const rType = rel(0x18, rName);
      const rLetter = rel(0x18, rType);
      const rChild = rel(0x2d, rLetter);
      return {
        kind: "volume",
        id,
        name: vstr(0x18 + rObj),
        volumeType: vstr(0x18 + rName),
        size: vnum(0x3d + rChild),
      };
    }
    case 0x32: {
      const rState = rel(0x18, rName);
      const rChild = rel(0x1d, rState);
      return { kind: "component", id, type: f.u8(0x18 + rState), parent: vnum(0x2d + rChild) };
    }
    case 0x33: {
      const rSize = rel(0x34, rName);
      const rParent = rel(0x34, rSize);
      return {
        kind: "partition",
        id,
        size: vnum(0x34 + rName),
        parent: vnum(0x34 + rSize),
        disk: vnum(0x34 + rParent),
      };
    }
    case 0x34:
      return { kind: "disk", id, guid: vstr(0x18 + rName).toUpperCase() };
    case 0x44:
      return { kind: "disk", id, guid: rfcGuid(f.slice(0x18 + rName, 16)) };
    default:
      return { kind: "other" };
  }
}

function rfcGuid(b: Uint8Array): string {
  const hex = [...b]
    .map((x) => x.toString(16).padStart(2, "0"))
    .join("")
    .toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function describeVolumes(vblks: readonly Vblk[], diskGuid: string, sectorSize: number): LdmVolume[] {
  const of = <K extends Vblk["kind"]>(kind: K) =>
    vblks.filter((v): v is Extract<Vblk, { kind: K }> => v.kind === kind);
  const thisDisk = of("disk").find((d) => d.guid === diskGuid)?.id;
  const partitions = of("partition");
  return of("volume").map((volume) => {
    const components = of("component").filter((c) => c.parent === volume.id);
    const pieces = partitions.filter((p) => components.some((c) => c.id === p.parent));
    let layout: LdmLayout = "unknown";
    if (volume.volumeType === "raid5" || components.some((c) => c.type === 3)) layout = "raid5";
    else if (components.length > 1) layout = "mirrored";
    else if (components[0]?.type === 1) layout = "striped";
    else if (components[0]?.type === 2) layout = pieces.length > 1 ? "spanned" : "simple";
    return {
      name: volume.name,
      layout,
      size: volume.size * sectorSize,
      onThisDisk: thisDisk !== undefined && pieces.some((p) => p.disk === thisDisk),
    };
  });
}
