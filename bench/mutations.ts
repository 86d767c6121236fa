/**
 * The changes the benchmark applies between backups, as a tracker would see them: whole 64 KiB
 * blocks rewritten with new content (half text-like, half random — new data, never a copy of old),
 * scattered over the image or gathered in a few contiguous extents. Each mutation is a seeded,
 * fixed list of blocks, so every run and every tool sees the same change.
 */

import { Prng } from "../src/adapters/sim/prng.ts";
import { BLOCK, BlockKind } from "./dataset.ts";

export interface Mutation {
  readonly name: string;
  /** What it does, for the report. */
  readonly label: string;
  /** Generation of the new content (1, 2, …; 0 is the original image). */
  readonly generation: number;
  /** Rewritten block indexes, ascending, distinct. */
  readonly blocks: readonly number[];
  /** Kind of the new content of each block in `blocks`. */
  readonly kinds: readonly BlockKind[];
}

interface MutationSpec {
  readonly name: string;
  readonly label: string;
  readonly share: number;
  /** Number of contiguous extents, or 0 for scattered single blocks. */
  readonly extents: number;
}

/** The three changes of the issue, applied in this order. */
export const MUTATION_SPECS: readonly MutationSpec[] = [
  { name: "scattered-1pct", label: "1% scattered 64 KiB blocks", share: 0.01, extents: 0 },
  { name: "extents-1pct", label: "1% in 4 contiguous extents", share: 0.01, extents: 4 },
  { name: "scattered-10pct", label: "10% scattered 64 KiB blocks", share: 0.1, extents: 0 },
];

export function mutations(seed: number, blocks: number): Mutation[] {
  return MUTATION_SPECS.map((spec, i) => {
    const prng = new Prng(`lifeboat-bench/${seed}/mutation/${spec.name}`);
    const count = Math.max(1, Math.round(blocks * spec.share));
    const chosen =
      spec.extents === 0 ? scattered(prng, blocks, count) : extents(prng, blocks, count, spec.extents);
    return {
      name: spec.name,
      label: spec.label,
      generation: i + 1,
      blocks: chosen,
      kinds: chosen.map(() => (prng.chance(0.5) ? BlockKind.Text : BlockKind.Random)),
    };
  });
}

/** `count` distinct blocks drawn uniformly (Floyd's algorithm: no retries, no full shuffle). */
function scattered(prng: Prng, blocks: number, count: number): number[] {
  const chosen = new Set<number>();
  for (let j = blocks - count; j < blocks; j++) {
    const t = prng.int(0, j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].sort((a, b) => a - b);
}

/** `count` blocks in `n` non-overlapping contiguous extents of (nearly) equal length. */
function extents(prng: Prng, blocks: number, count: number, n: number): number[] {
  const slot = Math.floor(blocks / n);
  const out: number[] = [];
  for (let e = 0; e < n; e++) {
    const length = Math.floor(count / n) + (e < count % n ? 1 : 0);
    if (length > slot) throw new RangeError(`an extent of ${length} blocks does not fit in ${slot}`);
    const start = e * slot + prng.int(0, slot - length + 1);
    for (let b = start; b < start + length; b++) out.push(b);
  }
  return out;
}

/** The mutation's blocks as "OFFSET LENGTH" lines (contiguous blocks merged): `--changed-extents`. */
export function changedExtentsText(mutation: Mutation): string {
  const lines: string[] = [];
  const blocks = mutation.blocks;
  for (let i = 0; i < blocks.length;) {
    let j = i + 1;
    while (j < blocks.length && blocks[j] === (blocks[j - 1] as number) + 1) j++;
    lines.push(`${(blocks[i] as number) * BLOCK} ${(j - i) * BLOCK}`);
    i = j;
  }
  return `${lines.join("\n")}\n`;
}

/** Every block any mutation rewrites: what resetting the image to generation 0 must rewrite. */
export function touchedBlocks(all: readonly Mutation[]): number[] {
  return [...new Set(all.flatMap((m) => m.blocks))].sort((a, b) => a - b);
}
