/** Deterministic disk images for tests: 64 KiB blocks, ~40% zero, ~30% text-like, ~30% random. */

import { createHash, randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import type { Extent } from "../../src/domain/block-map.ts";

const BLOCK = 64 * 1024;

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function textBlock(rand: () => number): Buffer {
  const words = [
    "disk",
    "sector",
    "chunk",
    "restore",
    "point",
    "snapshot",
    "error",
    "ok",
    "GET",
    "PUT",
    "200",
    "404",
  ];
  let text = "";
  while (text.length < BLOCK) {
    text += `${new Date(1.7e12 + Math.floor(rand() * 1e9)).toISOString()} ${words[Math.floor(rand() * words.length)]} ${Math.floor(rand() * 1e6)}\n`;
  }
  return Buffer.from(text.slice(0, BLOCK));
}

function block(rand: () => number): Buffer {
  const r = rand();
  if (r < 0.4) return Buffer.alloc(BLOCK);
  if (r < 0.7) return textBlock(rand);
  return randomBytes(BLOCK);
}

export async function makeImage(path: string, size: number, seed: number): Promise<void> {
  const rand = seeded(seed);
  const handle = await open(path, "w");
  try {
    for (let offset = 0; offset < size; offset += BLOCK) {
      const b = block(rand);
      await handle.write(b, 0, Math.min(BLOCK, size - offset), offset);
    }
  } finally {
    await handle.close();
  }
}

/** Rewrites `count` scattered, unaligned ranges of up to 64 KiB; returns what it changed. */
export async function mutateImage(
  path: string,
  size: number,
  count: number,
  seed: number,
): Promise<Extent[]> {
  const rand = seeded(seed);
  const handle = await open(path, "r+");
  const extents: Extent[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const length = 512 + Math.floor(rand() * (BLOCK - 512));
      const offset = Math.floor(rand() * (size - length));
      await handle.write(randomBytes(length), 0, length, offset);
      extents.push({ offset, length });
    }
  } finally {
    await handle.close();
  }
  return extents;
}

export async function fillRandom(path: string, size: number): Promise<void> {
  const handle = await open(path, "w");
  try {
    for (let offset = 0; offset < size; offset += 4 << 20) {
      await handle.write(
        randomBytes(Math.min(4 << 20, size - offset)),
        0,
        Math.min(4 << 20, size - offset),
        offset,
      );
    }
  } finally {
    await handle.close();
  }
}

export async function sha256File(path: string, length?: number): Promise<string> {
  const hash = createHash("sha256");
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(4 << 20);
    let offset = 0;
    while (length === undefined || offset < length) {
      const want = length === undefined ? buffer.length : Math.min(buffer.length, length - offset);
      const { bytesRead } = await handle.read(buffer, 0, want, offset);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      offset += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}
