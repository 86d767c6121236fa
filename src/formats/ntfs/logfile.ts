/**
 * Whether $LogFile says the volume was shut down cleanly. A volume with transactions still in its
 * log may have clusters in use that $Bitmap does not show yet (they are set when the log is
 * replayed), so only a clean log lets us trust $Bitmap.
 */

import { Fields } from "../bytes.ts";
import { applyFixups } from "./mft-record.ts";
import type { AttributeStream } from "./stream.ts";

export type LogState = "clean" | "dirty" | "unknown";

const NO_CLIENT = 0xffff;
const RESTART_VOLUME_IS_CLEAN = 0x0002;

export async function logFileState(log: AttributeStream): Promise<LogState> {
  if (log.size < 8192) return "unknown";
  const head = await log.read(0, 4096);
  // ntfs-3g empties the log (all 0xFF) when it mounts a clean volume.
  if (head.every((b) => b === 0xff)) return "clean";
  const first = await restartPage(log, 0);
  if (first === undefined) return "unknown";
  const second = await restartPage(log, first.pageSize);
  const newest = second !== undefined && second.lsn > first.lsn ? second : first;
  return newest.clean ? "clean" : "dirty";
}

interface RestartPage {
  readonly pageSize: number;
  readonly lsn: bigint;
  readonly clean: boolean;
}

async function restartPage(log: AttributeStream, offset: number): Promise<RestartPage | undefined> {
  if (offset + 512 > log.size) return undefined;
  const probe: Fields = new Fields(
    await log.read(offset, 512),
    "NTFS_INVALID",
    `$LogFile restart page at ${offset}`,
  );
  if (probe.ascii(0, 4) !== "RSTR") return undefined;
  const pageSize = probe.u32(0x10);
  if (pageSize < 512 || pageSize > 65536 || !Number.isInteger(Math.log2(pageSize))) return undefined;
  if (offset + pageSize > log.size) return undefined;
  const page = await log.read(offset, pageSize);
  try {
    applyFixups(page, "RSTR", `$LogFile restart page at ${offset}`);
  } catch {
    return undefined; // a torn restart page: the other copy decides
  }
  const f: Fields = new Fields(page, "NTFS_INVALID", `$LogFile restart page at ${offset}`);
  const area = f.u16(0x18);
  if (area % 8 !== 0 || area + 0x30 > pageSize) return undefined;
  const view = new DataView(page.buffer, page.byteOffset + area, 8);
  const clientInUse = f.u16(area + 0x0c);
  const flags = f.u16(area + 0x0e);
  return {
    pageSize,
    lsn: view.getBigUint64(0, true),
    clean: clientInUse === NO_CLIENT || (flags & RESTART_VOLUME_IS_CLEAN) !== 0,
  };
}
