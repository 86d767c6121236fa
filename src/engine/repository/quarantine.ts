/**
 * Chunks found damaged by verify (PBS-style self-heal): recorded under `quarantine/`, so the next
 * backup of every disk that referenced one re-reads that position from the source and stores it
 * again instead of inheriting the damaged copy. Points committed before the repair stay damaged at
 * that position; verify keeps naming them.
 */

import type { ChunkRef } from "../../domain/manifest.ts";
import type { ObjectStore } from "../../ports/object-store.ts";

export const QUARANTINE_PREFIX = "quarantine/";

/** The identity of one stored copy of a chunk (content can be stored more than once). */
export function copyKey(ref: Pick<ChunkRef, "pack" | "offset">): string {
  return `${ref.pack}-${ref.offset}`;
}

export async function quarantineChunk(
  store: ObjectStore,
  ref: ChunkRef,
  reason: string,
  at: number,
): Promise<void> {
  const record = {
    pack: ref.pack,
    offset: ref.offset,
    length: ref.length,
    id: Buffer.from(ref.id).toString("hex"),
    reason,
    at,
  };
  await store.put(`${QUARANTINE_PREFIX}${copyKey(ref)}`, Buffer.from(JSON.stringify(record), "utf8"), {
    ifAbsent: true,
  });
}

/** Copy keys of every quarantined chunk. Small: it holds only damaged chunks. */
export async function quarantinedCopies(store: ObjectStore): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const { key } of store.list(QUARANTINE_PREFIX)) out.add(key.slice(QUARANTINE_PREFIX.length));
  return out;
}
