/**
 * Repository verification: every point record opens, every disk's manifest chain resolves, every
 * referenced chunk is listed at its place in its pack's authenticated index, and with `full` every
 * chunk is read, decrypted and re-hashed. Problems are collected, not thrown, so one run names every
 * damaged object.
 */

import { type ErrorCode, isLifeboatError } from "../domain/errors.ts";
import type { ChunkRef } from "../domain/manifest.ts";
import type { RestorePoint } from "../domain/restore-point.ts";
import { idHex } from "./chunk-cache.ts";
import { POINTS_PREFIX, packKey, parsePointKey } from "./repository/object-keys.ts";
import { quarantineChunk } from "./repository/quarantine.ts";
import type { Repository } from "./repository/repository.ts";

export interface VerifyProblem {
  readonly object: string;
  readonly code: ErrorCode;
  readonly message: string;
}

export interface VerifyReport {
  readonly points: number;
  readonly chunks: number;
  readonly packs: number;
  readonly chunksRehashed: number;
  /** Damaged chunk copies recorded for self-heal (the next backup stores them again). */
  readonly quarantined: number;
  readonly problems: readonly VerifyProblem[];
}

export interface VerifyOptions {
  readonly point?: { source: string; seq: number };
  /** Read, decrypt and re-hash every referenced chunk. */
  readonly full?: boolean;
  /** Quarantine damaged chunks so the next backup heals them (needs write access). */
  readonly quarantine?: boolean;
  readonly now?: () => number;
}

export async function verifyRepository(repo: Repository, options: VerifyOptions = {}): Promise<VerifyReport> {
  const problems: VerifyProblem[] = [];
  let quarantined = 0;
  const damaged = async (ref: ChunkRef, reason: string) => {
    if (options.quarantine !== true) return;
    await quarantineChunk(repo.store, ref, reason, (options.now ?? Date.now)());
    quarantined++;
  };
  const record = (object: string, e: unknown) => {
    if (isLifeboatError(e)) problems.push({ object, code: e.code, message: e.message });
    else problems.push({ object, code: "INTERNAL", message: String(e) });
  };

  const points: RestorePoint[] = [];
  const wanted = options.point === undefined ? await listPointKeys(repo) : [options.point];
  for (const { source, seq } of wanted) {
    try {
      points.push(await repo.readPoint(source, seq));
    } catch (e) {
      record(`points/${source}/${seq}`, e);
    }
  }

  // Distinct chunk refs, grouped by pack, so each pack index is read once.
  const byPack = new Map<string, Map<number, ChunkRef>>();
  for (const point of points) {
    for (const disk of point.disks) {
      try {
        const map = await repo.resolveDiskMap(point, disk.disk);
        for (const [, ref] of map.entries()) {
          const refs = byPack.get(ref.pack) ?? new Map<number, ChunkRef>();
          byPack.set(ref.pack, refs);
          refs.set(ref.offset, ref);
        }
      } catch (e) {
        record(disk.manifest, e);
      }
    }
  }

  let chunks = 0;
  let chunksRehashed = 0;
  for (const [pack, refs] of byPack) {
    const key = packKey(pack);
    chunks += refs.size;
    let index: Map<number, { id: Uint8Array; length: number }>;
    try {
      index = new Map((await repo.readPackIndex(key)).map((e) => [e.offset, e]));
    } catch (e) {
      record(key, e);
      for (const ref of refs.values()) await damaged(ref, `pack index unreadable: ${(e as Error).message}`);
      continue;
    }
    for (const ref of refs.values()) {
      const listed = index.get(ref.offset);
      if (listed === undefined || listed.length !== ref.length || idHex(listed.id) !== idHex(ref.id)) {
        problems.push({
          object: key,
          code: "OBJECT_CORRUPT",
          message: `${key}: chunk ${idHex(ref.id)} at ${ref.offset}+${ref.length} is not in the pack's index`,
        });
        await damaged(ref, "not in its pack's index");
        continue;
      }
      if (options.full === true) {
        try {
          await repo.readChunk(ref);
          chunksRehashed++;
        } catch (e) {
          record(`${key}@${ref.offset}`, e);
          await damaged(ref, (e as Error).message);
        }
      }
    }
  }
  return { points: points.length, chunks, packs: byPack.size, chunksRehashed, quarantined, problems };
}

async function listPointKeys(repo: Repository): Promise<Array<{ source: string; seq: number }>> {
  const out: Array<{ source: string; seq: number }> = [];
  for await (const { key } of repo.store.list(POINTS_PREFIX)) {
    const parsed = parsePointKey(key);
    if (parsed !== undefined) out.push(parsed);
  }
  return out;
}
