import type { Prng } from "./prng.ts";

/** Shares of written blocks that are all-zero, text-like (compressible) and random (incompressible). */
export interface ContentMix {
  readonly zero: number;
  readonly text: number;
  readonly random: number;
}

export const DEFAULT_CONTENT_MIX: ContentMix = { zero: 0.15, text: 0.5, random: 0.35 };

const BLOCK = 4096;
const CORPUS_BYTES = 64 * 1024;
const WORDS = (
  "the of and to in is that for it as was with be by on not he this are or his from at which but " +
  "have an they you were her all she there would their we him been has when who will more no if out " +
  "so said what up its about into than them can only other new some could time these two may then do " +
  "first any my now such like our over man me even most made after also did many before must through " +
  "backup volume cluster snapshot shadow copy sector journal record index table invoice order customer"
).split(" ");

/**
 * Bytes for simulated writes: a seeded mix, block by block, of zeros, text and noise, so the engine
 * meets zero chunks, chunks that compress well and chunks that do not — in the same file.
 */
export class ContentGenerator {
  readonly #prng: Prng;
  readonly #mix: ContentMix;
  readonly #corpus: Uint8Array;

  constructor(prng: Prng, mix: ContentMix = DEFAULT_CONTENT_MIX) {
    this.#prng = prng;
    this.#mix = mix;
    this.#corpus = makeCorpus(prng.fork("corpus"));
  }

  generate(length: number): Uint8Array {
    const out = new Uint8Array(length);
    const total = this.#mix.zero + this.#mix.text + this.#mix.random;
    for (let at = 0; at < length; at += BLOCK) {
      const n = Math.min(BLOCK, length - at);
      const roll = this.#prng.next() * total;
      if (roll < this.#mix.zero) continue;
      if (roll < this.#mix.zero + this.#mix.text) out.set(this.#text(n), at);
      else out.set(this.#prng.bytes(n), at);
    }
    return out;
  }

  /** A slice of the corpus from a random point: repetitive like real documents and logs. */
  #text(n: number): Uint8Array {
    const start = this.#prng.int(0, CORPUS_BYTES - n + 1);
    return this.#corpus.subarray(start, start + n);
  }
}

function makeCorpus(prng: Prng): Uint8Array {
  const corpus = new Uint8Array(CORPUS_BYTES);
  const encoder = new TextEncoder();
  let at = 0;
  while (at < CORPUS_BYTES) {
    const word = prng.chance(0.1) ? String(prng.int(0, 100000)) : prng.pick(WORDS);
    const separator = prng.chance(0.08) ? "\n" : " ";
    const { written } = encoder.encodeInto(word + separator, corpus.subarray(at));
    if (written === 0) break;
    at += written;
  }
  return corpus;
}
