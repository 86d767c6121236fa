import type { ChunkRef } from "../domain/manifest.ts";
import type { StateStore } from "../ports/state-store.ts";
import { idHex } from "./chunk-cache.ts";

type SavedRef = [id: string, pack: string, offset: number, length: number];

interface SavedResume {
  readonly baseSeq: number | null;
  readonly refs: SavedRef[];
}

/**
 * The in-flight job's progress in local state: the chunks it has made durable. A retry of the same
 * increment (same base point) references them instead of storing them again; a retry against
 * another base starts afresh. Saved only after the pack writer flushed, so every saved ref names
 * a durable pack.
 */
export class ResumeLog {
  readonly #refs: Map<string, ChunkRef>;

  private constructor(
    readonly state: StateStore | undefined,
    readonly key: string,
    readonly baseSeq: number | null,
    refs: Map<string, ChunkRef>,
  ) {
    this.#refs = refs;
  }

  static async open(
    state: StateStore | undefined,
    scope: { repoId: string; source: string },
    baseSeq: number | null,
  ): Promise<ResumeLog> {
    // Refs name packs of one repository: a log is only ever valid for the repository it was written for.
    const key = `resume-${scope.repoId}-${scope.source}`;
    const saved = state === undefined ? undefined : await state.read<SavedResume>(key);
    const refs = new Map<string, ChunkRef>();
    if (saved !== undefined && saved.baseSeq === baseSeq && Array.isArray(saved.refs)) {
      for (const [id, pack, offset, length] of saved.refs) {
        refs.set(id, { id: Uint8Array.from(Buffer.from(id, "hex")), pack, offset, length });
      }
    }
    return new ResumeLog(state, key, baseSeq, refs);
  }

  /** Chunks stored by an earlier attempt at this same increment. */
  refs(): ReadonlyMap<string, ChunkRef> {
    return new Map(this.#refs);
  }

  add(ref: ChunkRef): void {
    this.#refs.set(idHex(ref.id), ref);
  }

  async save(): Promise<void> {
    if (this.state === undefined) return;
    const refs: SavedRef[] = [...this.#refs.entries()].map(([id, r]) => [id, r.pack, r.offset, r.length]);
    await this.state.write(this.key, { baseSeq: this.baseSeq, refs } satisfies SavedResume);
  }

  async clear(): Promise<void> {
    await this.state?.delete(this.key);
  }
}
