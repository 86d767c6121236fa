/**
 * The benchmark image on disk: generated once per (seed, size) and reused, mutated in place between
 * backups, put back to generation 0 before every run, and compared byte for byte with restores.
 */

import { createReadStream } from "node:fs";
import { type FileHandle, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { BLOCK, type Dataset } from "./dataset.ts";
import type { Mutation } from "./mutations.ts";

/** Bumped when the generator changes, so a cached image of an older generator is never reused. */
const GENERATOR_VERSION = 1;
const BATCH_BLOCKS = 128;

/** Writes the image unless a complete one for the same dataset is already there. */
export async function ensureImage(dataset: Dataset, path: string): Promise<"generated" | "cached"> {
  const marker = `${path}.done`;
  const expected = JSON.stringify({ version: GENERATOR_VERSION, seed: dataset.seed, size: dataset.size });
  // No readable marker means no complete image: generate it.
  const found = await readFile(marker, "utf8").catch(() => undefined);
  if (found === expected) return "cached";
  await rm(marker, { force: true });
  const temp = `${path}.partial`;
  const handle = await open(temp, "w");
  try {
    const batch = Buffer.allocUnsafe(BATCH_BLOCKS * BLOCK);
    for (let first = 0; first < dataset.blocks; first += BATCH_BLOCKS) {
      const n = Math.min(BATCH_BLOCKS, dataset.blocks - first);
      for (let i = 0; i < n; i++) dataset.fill(batch.subarray(i * BLOCK, (i + 1) * BLOCK), first + i, 0);
      await writeAll(handle, batch.subarray(0, n * BLOCK), first * BLOCK);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  await writeFile(marker, expected);
  return "generated";
}

/** Rewrites the mutation's blocks with their new content, in place (the file's mtime changes). */
export async function applyMutation(dataset: Dataset, path: string, mutation: Mutation): Promise<void> {
  await rewrite(path, mutation.blocks, (out, index, i) =>
    dataset.fill(out, index, mutation.generation, mutation.kinds[i]),
  );
}

/** Puts `blocks` back to generation 0 (undoes every mutation that touched only these blocks). */
export async function resetBlocks(dataset: Dataset, path: string, blocks: readonly number[]): Promise<void> {
  await rewrite(path, blocks, (out, index) => dataset.fill(out, index, 0));
}

async function rewrite(
  path: string,
  blocks: readonly number[],
  fill: (out: Buffer, index: number, i: number) => void,
): Promise<void> {
  const handle = await open(path, "r+");
  try {
    const out = Buffer.allocUnsafe(BLOCK);
    for (const [i, index] of blocks.entries()) {
      fill(out, index, i);
      await writeAll(handle, out, index * BLOCK);
    }
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length;) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** True when both files hold exactly the same bytes (length included). */
export async function sameContent(a: string, b: string): Promise<boolean> {
  const chunk = 8 * 1024 * 1024;
  const left = createReadStream(a, { highWaterMark: chunk });
  const right = await open(b, "r");
  try {
    let position = 0;
    const other = Buffer.allocUnsafe(chunk);
    for await (const piece of left as AsyncIterable<Buffer>) {
      const { bytesRead } = await right.read(other, 0, piece.length, position);
      if (bytesRead !== piece.length || !other.subarray(0, bytesRead).equals(piece)) return false;
      position += piece.length;
    }
    return (await right.stat()).size === position;
  } finally {
    left.destroy();
    await right.close();
  }
}
