/**
 * The benchmark disk image: 64 KiB blocks laid out in runs of 1–32 blocks, each run zero (~40%),
 * text-like (~30%, server logs) or random (~30%, incompressible and unique). Every block's content
 * is a pure function of (seed, block index, generation), so a mutation can be undone exactly by
 * rewriting generation 0, and every tool reads the very same bytes in every run.
 */

import { createCipheriv, createHash } from "node:crypto";
import { Prng } from "../src/adapters/sim/prng.ts";
import { logCorpus } from "./corpus.ts";

export const BLOCK = 64 * 1024;

export enum BlockKind {
  Zero = 0,
  Text = 1,
  Random = 2,
}

/** Shares of blocks by kind the layout draws from (runs of 1–32 blocks). */
export const MIX = { zero: 0.4, text: 0.3, random: 0.3 } as const;

/** Large enough that two 64 KiB windows of it rarely overlap inside one peer chunk (no free dedup). */
const CORPUS_BYTES = 32 * 1024 * 1024;
const MAX_RUN = 32;

export class Dataset {
  readonly blocks: number;
  /** Kind of every block at generation 0. */
  readonly kinds: Uint8Array;
  readonly #corpus: Buffer;
  readonly #randomKey: Buffer;
  readonly #zeros = Buffer.alloc(BLOCK);

  constructor(
    readonly seed: number,
    readonly size: number,
  ) {
    if (!Number.isSafeInteger(size) || size <= 0 || size % BLOCK !== 0) {
      throw new RangeError(`image size must be a positive multiple of ${BLOCK}: ${size}`);
    }
    this.blocks = size / BLOCK;
    this.kinds = layout(seed, this.blocks);
    this.#corpus = logCorpus(seed, CORPUS_BYTES);
    this.#randomKey = createHash("sha256").update(`lifeboat-bench/${seed}/random`).digest();
  }

  /** Share of blocks of each kind at generation 0. */
  fractions(): { zero: number; text: number; random: number } {
    const counts = [0, 0, 0];
    for (const k of this.kinds) counts[k] = (counts[k] as number) + 1;
    const [zero, text, random] = counts.map((c) => c / this.blocks) as [number, number, number];
    return { zero, text, random };
  }

  /**
   * Writes block `index` of `generation` (0 = the original image) into `out` (BLOCK bytes). A
   * mutation passes the kind it draws for the rewritten block.
   */
  fill(
    out: Buffer,
    index: number,
    generation: number,
    kind: BlockKind = this.kinds[index] as BlockKind,
  ): void {
    if (kind === BlockKind.Zero) {
      this.#zeros.copy(out, 0, 0, BLOCK);
    } else if (kind === BlockKind.Random) {
      this.#random(out, index, generation);
    } else {
      this.#text(out, index, generation);
    }
  }

  /** AES-256-CTR keystream: fast, incompressible, and unique per (index, generation). */
  #random(out: Buffer, index: number, generation: number): void {
    const iv = Buffer.alloc(16);
    iv.writeUInt32BE(generation, 0);
    iv.writeUInt32BE(index, 4);
    const cipher = createCipheriv("aes-256-ctr", this.#randomKey, iv);
    const n = cipher.update(this.#zeros).copy(out, 0);
    if (n !== BLOCK) throw new Error(`keystream gave ${n} bytes`);
  }

  /** A window of the log corpus under a stamp line that makes the block unique. */
  #text(out: Buffer, index: number, generation: number): void {
    const stamp = `### lifeboat-bench seed ${this.seed} block ${index} generation ${generation}\n`;
    const head = out.write(stamp, 0, "latin1");
    const start = mix32(index, generation, this.seed) % (CORPUS_BYTES - BLOCK);
    this.#corpus.copy(out, head, start, start + BLOCK - head);
  }
}

function layout(seed: number, blocks: number): Uint8Array {
  const prng = new Prng(`lifeboat-bench/${seed}/layout`);
  const kinds = new Uint8Array(blocks);
  for (let at = 0; at < blocks;) {
    const run = Math.min(prng.int(1, MAX_RUN + 1), blocks - at);
    const roll = prng.next();
    const kind =
      roll < MIX.zero ? BlockKind.Zero : roll < MIX.zero + MIX.text ? BlockKind.Text : BlockKind.Random;
    kinds.fill(kind, at, at + run);
    at += run;
  }
  return kinds;
}

/** A well-mixed 32-bit hash of three integers (murmur3 finaliser), for corpus offsets. */
function mix32(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35) ^ c;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
