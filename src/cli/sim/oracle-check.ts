import type { SimHost } from "../../adapters/sim/sim-host.ts";
import { MemoryTarget } from "../../adapters/memory-target/memory-target.ts";
import type { RestorePoint } from "../../domain/restore-point.ts";
import type { Repository } from "../../engine/repository/repository.ts";
import { restoreDisk } from "../../engine/restore.ts";
import type { Log } from "../../ports/log.ts";

/** Where a restored disk first differs from the simulator's copy of its snapshot, if anywhere. */
export interface OracleMismatch {
  readonly disk: string;
  readonly offset: number;
  readonly reason: string;
}

/** Restores every disk of the point into memory and compares it with the oracle, byte for byte. */
export async function oracleMismatches(
  repo: Repository,
  host: SimHost,
  point: RestorePoint,
): Promise<OracleMismatch[]> {
  const out: OracleMismatch[] = [];
  for (const disk of point.disks) {
    const expected = host.oracle.expected(point.snapshotId, disk.disk);
    if (expected.capacity !== disk.capacity) {
      out.push({
        disk: disk.disk,
        offset: 0,
        reason: `capacity ${disk.capacity} ≠ snapshot's ${expected.capacity}`,
      });
      continue;
    }
    const target = new MemoryTarget(disk.capacity);
    await restoreDisk(repo, point, disk.disk, target, { targetIsZeroed: true });
    const slice = 64 * 1024;
    for (let offset = 0; offset < disk.capacity; offset += slice) {
      const length = Math.min(slice, disk.capacity - offset);
      if (!Buffer.from(await target.read(offset, length)).equals(expected.read(offset, length))) {
        out.push({ disk: disk.disk, offset, reason: "restored bytes differ from the snapshot" });
        break;
      }
    }
  }
  return out;
}

export async function pointMatchesOracle(
  repo: Repository,
  host: SimHost,
  point: RestorePoint,
  log: Log,
): Promise<boolean> {
  try {
    const bad = await oracleMismatches(repo, host, point);
    for (const m of bad) log.error({ point: point.seq, disk: m.disk, offset: m.offset }, m.reason);
    return bad.length === 0;
  } catch (e) {
    log.error({ point: point.seq, err: String(e) }, "restore failed");
    return false;
  }
}
