/**
 * Small in-process probes that put a number on each proposal in docs/performance.md, on the same
 * image: how the engine reads, hashes, reads packs and writes restores today, against the change
 * proposed. They use Node's APIs directly, never Lifeboat's code paths, so they measure the idea.
 */

import { createHmac, randomBytes, webcrypto } from "node:crypto";
import { type FileHandle, open, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { median } from "./stats.ts";

const ROUNDS = 3;

export interface Probe {
  readonly probe: string;
  readonly variant: string;
  readonly wallS: number;
  readonly cpuS: number;
  readonly mbPerS: number;
}

const CHUNK = 64 * 1024;

interface Variant {
  readonly probe: string;
  readonly variant: string;
  readonly bytes: number;
  readonly work: () => Promise<void>;
}

/** Runs the variants interleaved `rounds` times (noise falls on all alike) and keeps medians. */
async function interleaved(variants: readonly Variant[], rounds: number): Promise<Probe[]> {
  const walls = variants.map(() => [] as number[]);
  const cpus = variants.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (const [i, v] of variants.entries()) {
      const cpu = process.cpuUsage();
      const started = performance.now();
      await v.work();
      walls[i]?.push((performance.now() - started) / 1000);
      const used = process.cpuUsage(cpu);
      cpus[i]?.push((used.user + used.system) / 1e6);
    }
  }
  return variants.map((v, i) => {
    const wallS = median(walls[i] ?? []);
    return {
      probe: v.probe,
      variant: v.variant,
      wallS,
      cpuS: median(cpus[i] ?? []),
      mbPerS: v.bytes / 1e6 / wallS,
    };
  });
}

/** Reads every 64 KiB block with `inFlight` reads outstanding, into fresh or recycled buffers. */
async function readBlocks(
  handle: FileHandle,
  size: number,
  fresh: boolean,
  visit?: (b: Buffer) => Promise<void> | void,
): Promise<void> {
  const inFlight = 4;
  const pool = Array.from({ length: inFlight + 1 }, () => Buffer.allocUnsafe(CHUNK));
  const pending: Array<Promise<Buffer>> = [];
  let n = 0;
  for (let offset = 0; offset < size; offset += CHUNK) {
    const buffer = fresh ? Buffer.allocUnsafe(CHUNK) : (pool[n++ % pool.length] as Buffer);
    pending.push(handle.read(buffer, 0, CHUNK, offset).then(() => buffer));
    if (pending.length >= inFlight) await visit?.(await (pending.shift() as Promise<Buffer>));
  }
  for (const p of pending) await visit?.(await p);
}

export async function runPrimitives(image: string, dir: string): Promise<Probe[]> {
  const size = (await stat(image)).size;
  const handle = await open(image, "r");
  try {
    const key = randomBytes(32);
    const zero = Buffer.alloc(CHUNK);
    const hmacKey = await webcrypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    const reads = "read the image, 64 KiB, 4 in flight";
    const ids = "chunk ids (HMAC-SHA-256) of the non-zero blocks";
    return [
      ...(await interleaved(
        [
          {
            probe: reads,
            variant: "fresh Buffer per read (today)",
            bytes: size,
            work: () => readBlocks(handle, size, true),
          },
          {
            probe: reads,
            variant: "recycled buffers",
            bytes: size,
            work: () => readBlocks(handle, size, false),
          },
        ],
        ROUNDS,
      )),
      ...(await interleaved(
        [
          {
            probe: ids,
            variant: "createHmac on the main thread (today)",
            bytes: size,
            work: () =>
              readBlocks(handle, size, false, (b) => {
                if (!b.equals(zero)) createHmac("sha256", key).update(b).digest();
              }),
          },
          {
            probe: ids,
            variant: "WebCrypto sign (libuv pool, both cores), 8 in flight",
            bytes: size,
            work: async () => {
              // WebCrypto copies its input when called, so the read buffer can be recycled at once.
              const signing = new Set<Promise<unknown>>();
              await readBlocks(handle, size, false, async (b) => {
                if (b.equals(zero)) return;
                const p: Promise<unknown> = webcrypto.subtle
                  .sign("HMAC", hmacKey, b)
                  .then(() => signing.delete(p));
                signing.add(p);
                if (signing.size >= 8) await Promise.race(signing);
              });
              await Promise.all(signing);
            },
          },
        ],
        ROUNDS,
      )),
      ...(await packReads(join(dir, "cpuprof", "repo", "packs"))),
      ...(await restoreWrites(join(dir, "probe-restore.img"), Math.min(size, 1024 ** 3))),
    ];
  } finally {
    await handle.close();
  }
}

/** Every pack read in 64 KiB ranges: a file opened per range (FsStore.get today) or once per pack. */
async function packReads(packsDir: string): Promise<Probe[]> {
  const packs: Array<{ path: string; size: number }> = [];
  for (const e of await readdir(packsDir, { recursive: true, withFileTypes: true })) {
    if (e.isFile())
      packs.push({ path: join(e.parentPath, e.name), size: (await stat(join(e.parentPath, e.name))).size });
  }
  const bytes = packs.reduce((s, p) => s + p.size, 0);
  const ranges = (size: number) => Array.from({ length: Math.ceil(size / CHUNK) }, (_, i) => i * CHUNK);
  const buffer = Buffer.allocUnsafe(CHUNK);
  const probe = "read every pack in 64 KiB ranges";
  return interleaved(
    [
      {
        probe,
        variant: "open + read + close per range (today)",
        bytes,
        work: async () => {
          for (const p of packs) {
            for (const offset of ranges(p.size)) {
              const h = await open(p.path, "r");
              await h.read(buffer, 0, Math.min(CHUNK, p.size - offset), offset);
              await h.close();
            }
          }
        },
      },
      {
        probe,
        variant: "one open handle per pack",
        bytes,
        work: async () => {
          for (const p of packs) {
            const h = await open(p.path, "r");
            for (const offset of ranges(p.size))
              await h.read(buffer, 0, Math.min(CHUNK, p.size - offset), offset);
            await h.close();
          }
        },
      },
    ],
    ROUNDS,
  );
}

/** Writing a restore target (and fsync): one awaited 64 KiB write at a time, or 1 MiB runs, 2 in flight. */
async function restoreWrites(path: string, size: number): Promise<Probe[]> {
  const data = randomBytes(1024 * 1024);
  const write = (piece: number, inFlight: number) => async () => {
    await rm(path, { force: true });
    const h = await open(path, "w");
    try {
      const pending: Array<Promise<unknown>> = [];
      for (let offset = 0; offset < size; offset += piece) {
        pending.push(h.write(data, 0, piece, offset));
        if (pending.length >= inFlight) await pending.shift();
      }
      await Promise.all(pending);
      await h.sync();
    } finally {
      await h.close();
    }
  };
  const probe = `write a ${Math.round(size / 1024 ** 2)} MiB restore target and fsync`;
  const out = await interleaved(
    [
      { probe, variant: "64 KiB, one at a time (today)", bytes: size, work: write(CHUNK, 1) },
      { probe, variant: "1 MiB runs, 2 in flight", bytes: size, work: write(1024 * 1024, 2) },
    ],
    ROUNDS,
  );
  await rm(path, { force: true });
  return out;
}
