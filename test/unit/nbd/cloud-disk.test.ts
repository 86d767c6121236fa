/**
 * Cloud disk mode's bookkeeping: a replica is brought to each point by writing only what differs,
 * is marked dirty while a pass is incomplete, resumes where a flushed pass got to, and is never
 * left holding a mix of two points — even when a pass interrupted on its way to one point is
 * resumed towards another.
 */

import { describe, expect, it } from "vitest";
import { MemoryTarget } from "../../../src/adapters/memory-target/memory-target.ts";
import { MemoryStateStore } from "../../../src/adapters/state-memory/memory-state-store.ts";
import type { RestorePoint } from "../../../src/domain/restore-point.ts";
import { type ReplicaRecord, readReplica, replicaKey, replicatePoint } from "../../../src/cli/cloud-disk.ts";
import { silentLog } from "../../../src/ports/log.ts";
import { CHUNK, diskBytes, repoWithPoints } from "./fixtures.ts";

const CHUNKS = 32;
const TARGET = "nbd://replica/disk";

/** Counts writes by chunk, and can be told to fail from the n-th write on (a crash mid-pass). */
class CountingTarget extends MemoryTarget {
  written = new Set<number>();
  writes = 0;
  failFrom = Number.POSITIVE_INFINITY;

  override async write(offset: number, data: Uint8Array): Promise<void> {
    if (++this.writes >= this.failFrom) throw new Error("target lost");
    this.written.add(offset / CHUNK);
    await super.write(offset, data);
  }

  override async zero(offset: number, length: number): Promise<void> {
    for (let i = offset / CHUNK; i < (offset + length) / CHUNK; i++) this.written.add(i);
    await super.zero(offset, length);
  }

  reset(): void {
    this.written.clear();
    this.writes = 0;
    this.failFrom = Number.POSITIVE_INFINITY;
  }
}

function change(base: Buffer, chunks: number[], seed: number): Buffer {
  const out = Buffer.from(base);
  const fresh = diskBytes(CHUNKS, seed, () => false);
  for (const i of chunks) fresh.copy(out, i * CHUNK, i * CHUNK, (i + 1) * CHUNK);
  return out;
}

async function world(versions: Buffer[]) {
  const { repo, points } = await repoWithPoints(versions);
  const state = new MemoryStateStore();
  const target = new CountingTarget(CHUNKS * CHUNK);
  const replicate = (p: RestorePoint, checkpointBytes?: number) =>
    replicatePoint(
      { repo, state, log: silentLog },
      p,
      "disk0",
      target,
      TARGET,
      checkpointBytes === undefined ? {} : { checkpointBytes },
    );
  const record = () =>
    readReplica(state, replicaKey(repo.config.repoId, points[0] as RestorePoint, "disk0", TARGET));
  const holds = async (bytes: Buffer) => Buffer.from(await target.read(0, bytes.length)).equals(bytes);
  return { repo, points, state, target, replicate, record, holds };
}

describe("cloud disk mode", () => {
  it("writes the whole disk once, then only the chunks that changed", async () => {
    const v1 = diskBytes(CHUNKS, 1);
    const v2 = change(v1, [3, 4, 20], 2);
    const { points, target, replicate, record, holds } = await world([v1, v2]);
    const first = await replicate(points[0] as RestorePoint);
    expect(first.mode).toBe("full");
    expect(await holds(v1)).toBe(true);
    expect(await record()).toEqual({
      version: 1,
      target: TARGET,
      size: CHUNKS * CHUNK,
      seq: 1,
    } satisfies ReplicaRecord);

    target.reset();
    const second = await replicate(points[1] as RestorePoint);
    expect(second).toMatchObject({ mode: "incremental", chunksWritten: 3, resumed: false });
    expect([...target.written].sort((a, b) => a - b)).toEqual([3, 4, 20]);
    expect(await holds(v2)).toBe(true);
  });

  it("marks the replica dirty when a pass fails, and resumes after the last flushed progress", async () => {
    const v1 = diskBytes(CHUNKS, 3, () => false);
    const v2 = change(
      v1,
      Array.from({ length: 20 }, (_, i) => i + 6),
      4,
    );
    const { points, target, replicate, record, holds } = await world([v1, v2]);
    await replicate(points[0] as RestorePoint);

    target.reset();
    target.failFrom = 12;
    await expect(replicate(points[1] as RestorePoint, 4 * CHUNK)).rejects.toThrow("target lost");
    const dirty = await record();
    expect(dirty?.seq).toBe(1);
    expect(dirty?.pass).toMatchObject({ fromSeq: 1, toSeq: 2 });
    const doneBelow = dirty?.pass?.doneBelow as number;
    expect(doneBelow).toBeGreaterThan(6);

    target.reset();
    const resumed = await replicate(points[1] as RestorePoint, 4 * CHUNK);
    expect(resumed.resumed).toBe(true);
    expect(Math.min(...target.written)).toBeGreaterThanOrEqual(doneBelow);
    expect(await holds(v2)).toBe(true);
    expect((await record())?.pass).toBeUndefined();
  });

  it("rewrites what an interrupted pass may have touched when it resumes towards a newer point", async () => {
    const v1 = diskBytes(CHUNKS, 5, () => false);
    const v2 = change(v1, [2, 10, 11, 12], 6);
    // Point 3 puts chunks 10-12 back as they were at point 1: not in diff(1,3), yet the failed
    // pass towards point 2 may have left point 2's bytes there.
    const v3 = change(v2, [25], 7);
    v1.copy(v3, 10 * CHUNK, 10 * CHUNK, 13 * CHUNK);
    const { points, target, replicate, holds } = await world([v1, v2, v3]);
    await replicate(points[0] as RestorePoint);
    target.reset();
    target.failFrom = 4;
    await expect(replicate(points[1] as RestorePoint)).rejects.toThrow("target lost");
    expect(await holds(v1)).toBe(false);

    target.reset();
    await replicate(points[2] as RestorePoint);
    expect([...target.written].sort((a, b) => a - b)).toEqual([2, 10, 11, 12, 25]);
    expect(await holds(v3)).toBe(true);
  });

  it("rewrites the replica whole when it no longer holds the point it is supposed to", async () => {
    const v1 = diskBytes(CHUNKS, 8, () => false);
    const v2 = change(v1, [1], 9);
    const { points, target, replicate, holds } = await world([v1, v2]);
    await replicate(points[0] as RestorePoint);
    await target.write(0, Buffer.alloc(CHUNK, 0x55)); // someone else wrote to the replica
    target.reset();
    const result = await replicate(points[1] as RestorePoint);
    expect(result.mode).toBe("full");
    expect(result.warnings.join()).toMatch(/differs from mem@1 at offset 0/);
    expect(await holds(v2)).toBe(true);
  });

  it("rewrites the replica whole when the point it held is gone", async () => {
    const v1 = diskBytes(CHUNKS, 10);
    const { repo, points, state, replicate, holds } = await world([v1]);
    const key = replicaKey(repo.config.repoId, points[0] as RestorePoint, "disk0", TARGET);
    await state.write(key, {
      version: 1,
      target: TARGET,
      size: CHUNKS * CHUNK,
      seq: 99,
    } satisfies ReplicaRecord);
    const result = await replicate(points[0] as RestorePoint);
    expect(result.mode).toBe("full");
    expect(result.warnings.join()).toMatch(/mem@99, which the replica held, is gone/);
    expect(await holds(v1)).toBe(true);
  });
});
