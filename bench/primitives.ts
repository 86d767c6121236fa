/**
 * Small in-process probes that put a number on each proposal in docs/performance.md, on the same
 * image: how the engine reads, hashes, reads packs and writes restores today, against the change
 * proposed. They use Node's APIs directly, never Lifeboat's code paths, so they measure the idea.
 */

import { createHmac, randomBytes, webcrypto } from "node:crypto";
import { type FileHandle, open, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";

export interface Probe {
  readonly probe: string;
  readonly variant: string;
  readonly wallS: number;
  readonly cpuS: number;
  readonly mbPerS: number;
}

const CHUNK = 64 * 1024;

async function timed(
  probe: string,
  variant: string,
  bytes: number,
  work: () => Promise<void>,
): Promise<Probe> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const wallS = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { probe, variant, wallS, cpuS: (used.user + used.system) / 1e6, mbPerS: bytes / 1e6 / wallS };
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
  const out: Probe[] = [];
  const handle = await open(image, "r");
  try {
    for (const fresh of [true, false]) {
      out.push(
        await timed(
          "read the image, 64 KiB, 4 in flight",
          fresh ? "fresh Buffer per read (today)" : "recycled buffers",
          size,
          () => readBlocks(handle, size, fresh),
        ),
      );
    }
    const key = randomBytes(32);
    const zero = Buffer.alloc(CHUNK);
    out.push(
      await timed(
        "chunk ids (HMAC-SHA-256) of the non-zero blocks",
        "createHmac on the main thread (today)",
        size,
        () =>
          readBlocks(handle, size, false, (b) => {
            if (!b.equals(zero)) createHmac("sha256", key).update(b).digest();
          }),
      ),
    );
    const hmacKey = await webcrypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    out.push(
      await timed(
        "chunk ids (HMAC-SHA-256) of the non-zero blocks",
        "WebCrypto sign (libuv pool, both cores), 8 in flight",
        size,
        async () => {
          const signing = new Set<Promise<unknown>>();
          await readBlocks(handle, size, true, async (b) => {
            if (b.equals(zero)) return;
            const p: Promise<unknown> = webcrypto.subtle
              .sign("HMAC", hmacKey, b)
              .then(() => signing.delete(p));
            signing.add(p);
            if (signing.size >= 8) await Promise.race(signing);
          });
          await Promise.all(signing);
        },
      ),
    );
  } finally {
    await handle.close();
  }
  out.push(...(await packReads(join(dir, "cpuprof", "repo", "packs"))));
  out.push(...(await restoreWrites(join(dir, "probe-restore.img"), size)));
  return out;
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
  return [
    await timed(
      "read every pack in 64 KiB ranges",
      "open + read + close per range (today)",
      bytes,
      async () => {
        for (const p of packs) {
          for (const offset of ranges(p.size)) {
            const h = await open(p.path, "r");
            await h.read(buffer, 0, Math.min(CHUNK, p.size - offset), offset);
            await h.close();
          }
        }
      },
    ),
    await timed("read every pack in 64 KiB ranges", "one open handle per pack", bytes, async () => {
      for (const p of packs) {
        const h = await open(p.path, "r");
        for (const offset of ranges(p.size))
          await h.read(buffer, 0, Math.min(CHUNK, p.size - offset), offset);
        await h.close();
      }
    }),
  ];
}

/** Writing a restore target: one awaited 64 KiB write at a time, or 1 MiB runs with 2 in flight. */
async function restoreWrites(path: string, size: number): Promise<Probe[]> {
  const out: Probe[] = [];
  const data = randomBytes(1024 * 1024);
  for (const [variant, piece, inFlight] of [
    ["64 KiB, one at a time (today)", CHUNK, 1],
    ["1 MiB runs, 2 in flight", 1024 * 1024, 2],
  ] as const) {
    await rm(path, { force: true });
    const h = await open(path, "w");
    out.push(
      await timed("write a restore target", variant, size, async () => {
        const pending: Array<Promise<unknown>> = [];
        for (let offset = 0; offset < size; offset += piece) {
          pending.push(h.write(data, 0, piece, offset));
          if (pending.length >= inFlight) await pending.shift();
        }
        await Promise.all(pending);
        await h.sync();
      }),
    );
    await h.close();
  }
  await rm(path, { force: true });
  return out;
}
