/** An in-memory disk source and repository for the NBD unit tests. */

import { createHash } from "node:crypto";
import { MemoryStateStore } from "../../../src/adapters/state-memory/memory-state-store.ts";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import type { BlockMap } from "../../../src/domain/block-map.ts";
import type { Disk } from "../../../src/domain/disk.ts";
import type { RestorePoint } from "../../../src/domain/restore-point.ts";
import type { ChangeReset } from "../../../src/domain/snapshot.ts";
import { Repository } from "../../../src/engine/repository/repository.ts";
import { syncOnce } from "../../../src/engine/sync-runner.ts";
import { silentLog } from "../../../src/ports/log.ts";
import type { Source, SourceSnapshot } from "../../../src/ports/source.ts";

export const CHUNK = 64 * 1024;

/** A disk whose bytes the test sets directly; no change tracker. */
export class BytesSource implements Source {
  readonly name = "mem";
  constructor(public bytes: Buffer) {}

  async describe(): Promise<readonly Disk[]> {
    return [{ id: "disk0", capacity: this.bytes.length, sectorSize: 512 }];
  }

  async openSnapshot(): Promise<SourceSnapshot> {
    const copy = Buffer.from(this.bytes);
    const disks = await this.describe();
    return {
      id: `mem-${createHash("sha256").update(copy).digest("hex").slice(0, 8)}-${Math.random()}`,
      takenAt: Date.now(),
      consistency: "crash",
      disks,
      warnings: [],
      read: async (_d, offset, length) => copy.subarray(offset, offset + length),
      allocation: async (): Promise<BlockMap | null> => null,
      changes: async (): Promise<ChangeReset> => ({ kind: "reset", reason: "no tracker" }),
      token: () => null,
      abortReason: () => undefined,
      release: async () => undefined,
    };
  }
}

/** Deterministic disk bytes: chunk i is zero when `zero(i)`, else pseudo-random. */
export function diskBytes(
  chunks: number,
  seed: number,
  zero: (i: number) => boolean = (i) => i % 3 === 1,
): Buffer {
  const out = Buffer.alloc(chunks * CHUNK);
  for (let i = 0; i < chunks; i++) {
    if (zero(i)) continue;
    let block = createHash("sha256").update(`${seed}/${i}`).digest();
    for (let pos = 0; pos < CHUNK; pos += 32) {
      block.copy(out, i * CHUNK + pos);
      block = createHash("sha256").update(block).digest();
    }
  }
  return out;
}

/** A repository holding one point per version of the disk, oldest first. */
export async function repoWithPoints(versions: readonly Buffer[]): Promise<{
  repo: Repository;
  store: MemoryStore;
  points: RestorePoint[];
}> {
  const store = new MemoryStore();
  const repo = await Repository.init(store, { encryption: "aes-256-gcm", password: "pw", kdfCost: 2 ** 10 });
  const source = new BytesSource(versions[0] as Buffer);
  const state = new MemoryStateStore();
  const points: RestorePoint[] = [];
  for (const v of versions) {
    source.bytes = v;
    const r = await syncOnce({
      repo,
      source,
      clock: { now: () => Date.now(), sleep: async () => undefined },
      log: silentLog,
      state,
    });
    points.push(await repo.readPoint(r.point.source, r.point.seq));
  }
  return { repo, store, points };
}
