/**
 * Lifeboat's NBD client against Lifeboat's NBD server, in process over loopback TCP: a restore point
 * served lazily, structured replies with holes, base:allocation, the writable overlay, and errors
 * that reach the client as errnos without ending the connection.
 */

import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { ChunkFetcher } from "../../../src/adapters/nbd/chunk-fetcher.ts";
import { NbdClient, NbdRequestError } from "../../../src/adapters/nbd/client.ts";
import type { NbdExport } from "../../../src/adapters/nbd/export.ts";
import { OverlayExport } from "../../../src/adapters/nbd/overlay-export.ts";
import { PointExport } from "../../../src/adapters/nbd/point-export.ts";
import { NbdTarget } from "../../../src/adapters/nbd/nbd-target.ts";
import { NbdServer } from "../../../src/adapters/nbd/server.ts";
import { isLifeboatError } from "../../../src/domain/errors.ts";
import type { RestorePoint } from "../../../src/domain/restore-point.ts";
import type { Repository } from "../../../src/engine/repository/repository.ts";
import { AllocationFlag, BASE_ALLOCATION, CommandFlag, Errno } from "../../../src/formats/nbd/protocol.ts";
import { parseNbdUri } from "../../../src/formats/nbd/uri.ts";
import { silentLog } from "../../../src/ports/log.ts";
import { CHUNK, diskBytes, repoWithPoints } from "./fixtures.ts";

const CHUNKS = 24;

/** Key → SHA-256 of every object: comparing these is fast where deep-equal on big arrays is not. */
function fingerprint(objects: ReadonlyMap<string, Uint8Array>): Map<string, string> {
  return new Map([...objects].map(([k, v]) => [k, createHash("sha256").update(v).digest("hex")]));
}
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function serve(exports: NbdExport[], defaultExport = exports[0]?.name ?? "") {
  const server = new NbdServer(exports, { log: silentLog, defaultExport });
  const bound = await server.listen({ host: "127.0.0.1", port: 0 });
  cleanup.push(() => server.close());
  const port = "port" in bound ? bound.port : 0;
  const connect = async (name: string, contexts: string[] = [BASE_ALLOCATION]) => {
    const client = await NbdClient.connect(parseNbdUri(`nbd://127.0.0.1:${port}/${name}`), {
      metaContexts: contexts,
    });
    cleanup.push(() => client.close());
    return client;
  };
  return { server, port, connect };
}

async function pointExport(
  repo: Repository,
  point: RestorePoint,
  fetcher = new ChunkFetcher(repo, { cacheBytes: 8 << 20, concurrency: 4 }),
) {
  return { exp: await PointExport.open(repo, point, "disk0", fetcher, { readAheadChunks: 2 }), fetcher };
}

describe("serving a restore point over NBD", () => {
  it("reads back exactly the point's bytes, fetching chunks only when they are read", async () => {
    const bytes = diskBytes(CHUNKS, 1);
    const { repo, points } = await repoWithPoints([bytes]);
    const { exp, fetcher } = await pointExport(repo, points[0] as RestorePoint);
    const { connect } = await serve([exp]);
    const client = await connect("disk0");
    expect(client.size).toBe(bytes.length);
    expect(client.readOnly).toBe(true);

    // One unaligned read inside chunk 5: one fetch (no read-ahead for a first, random read).
    const small = await client.read(5 * CHUNK + 100, 1000);
    expect(small).toEqual(bytes.subarray(5 * CHUNK + 100, 5 * CHUNK + 1100));
    expect(fetcher.stats.fetched).toBe(1);

    // A read across data and zero chunks arrives as data and hole chunks and is still exact.
    expect(await client.read(CHUNK - 10, 3 * CHUNK)).toEqual(bytes.subarray(CHUNK - 10, 4 * CHUNK - 10));
    const whole = Buffer.alloc(bytes.length);
    for (let off = 0; off < bytes.length; off += 4 * CHUNK)
      (await client.read(off, 4 * CHUNK)).copy(whole, off);
    expect(whole.equals(bytes)).toBe(true);
    expect(fetcher.stats.fetched).toBe(16); // the 16 non-zero chunks, each once
  });

  it("reports zero chunks as holes in base:allocation and honours REQ_ONE", async () => {
    const bytes = diskBytes(CHUNKS, 2);
    const { repo, points } = await repoWithPoints([bytes]);
    const { exp } = await pointExport(repo, points[0] as RestorePoint);
    const { connect } = await serve([exp]);
    const client = await connect("");
    const id = client.contextId(BASE_ALLOCATION) as number;
    const extents = (await client.blockStatus(0, bytes.length)).get(id) ?? [];
    const flags: number[] = [];
    for (const e of extents) for (let k = 0; k < e.length / CHUNK; k++) flags.push(e.flags);
    expect(flags).toEqual(
      Array.from({ length: CHUNKS }, (_, i) => (i % 3 === 1 ? AllocationFlag.HOLE | AllocationFlag.ZERO : 0)),
    );
    const one = (await client.blockStatus(CHUNK + 512, 10 * CHUNK, CommandFlag.REQ_ONE)).get(id) ?? [];
    expect(one).toEqual([{ length: CHUNK - 512, flags: 3 }]);
  });

  it("answers bad requests with errnos and keeps the connection", async () => {
    const { repo, points } = await repoWithPoints([diskBytes(4, 3)]);
    const { exp } = await pointExport(repo, points[0] as RestorePoint);
    const { connect } = await serve([exp]);
    const client = await connect("disk0");
    const errno = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        if (e instanceof NbdRequestError) return e.errno;
        throw e;
      }
      return 0;
    };
    expect(await errno(client.write(0, Buffer.alloc(512)))).toBe(Errno.EPERM);
    expect(await errno(client.trim(0, 512))).toBe(Errno.EPERM);
    expect(await client.read(0, 16)).toHaveLength(16);
  });

  it("gives the client EIO for a damaged chunk, never wrong bytes, and keeps serving the rest", async () => {
    const bytes = diskBytes(4, 4, () => false);
    const { repo, store, points } = await repoWithPoints([bytes]);
    const pack = store.keys().find((k) => k.startsWith("packs/")) as string;
    const raw = store.rawGet(pack) as Uint8Array;
    raw[200] = (raw[200] as number) ^ 0xff; // inside the first chunk's sealed blob
    store.rawPut(pack, raw);
    const { exp } = await pointExport(repo, points[0] as RestorePoint);
    const { connect, server } = await serve([exp]);
    const client = await connect("disk0");
    await expect(client.read(0, 512)).rejects.toMatchObject({ errno: Errno.EIO });
    expect(await client.read(3 * CHUNK, 512)).toEqual(bytes.subarray(3 * CHUNK, 3 * CHUNK + 512));
    expect(server.stats.errors).toBe(1);
  });

  it("names the exports it offers when a client asks for one that does not exist", async () => {
    const { repo, points } = await repoWithPoints([diskBytes(2, 5)]);
    const { exp } = await pointExport(repo, points[0] as RestorePoint);
    const { connect } = await serve([exp]);
    const error = await connect("nope").catch((e: unknown) => e);
    expect(isLifeboatError(error, "NBD_EXPORT_NOT_FOUND")).toBe(true);
    expect((error as Error).message).toMatch(/"disk0"/);
  });
});

describe("the writable overlay", () => {
  it("keeps writes local: reads see them, the repository never does", async () => {
    const bytes = diskBytes(CHUNKS, 6);
    const { repo, store, points } = await repoWithPoints([bytes]);
    const before = fingerprint(store.snapshot());
    const { exp } = await pointExport(repo, points[0] as RestorePoint);
    const overlay = await OverlayExport.create(exp, tmpdir());
    const { connect } = await serve([overlay]);
    const client = await connect("disk0");
    expect(client.readOnly).toBe(false);

    const expected = Buffer.from(bytes);
    const write = async (offset: number, data: Buffer) => {
      await client.write(offset, data);
      data.copy(expected, offset);
    };
    await write(CHUNK + 3, Buffer.alloc(100, 0xaa)); // partial write into a zero chunk
    await write(2 * CHUNK - 50, Buffer.alloc(CHUNK, 0xbb)); // straddles two chunks, one with data
    await client.writeZeroes(4 * CHUNK, CHUNK); // a whole data chunk to zeros
    expected.fill(0, 4 * CHUNK, 5 * CHUNK);
    await client.trim(6 * CHUNK + 10, 20); // partial trim copies up and zeroes the range
    expected.fill(0, 6 * CHUNK + 10, 6 * CHUNK + 30);
    // Concurrent partial writes to one untouched chunk must both survive the copy-up.
    await Promise.all([write(9 * CHUNK, Buffer.alloc(10, 1)), write(9 * CHUNK + 1000, Buffer.alloc(10, 2))]);
    await client.flush();

    expect((await client.read(0, bytes.length)).equals(expected)).toBe(true);
    const id = client.contextId(BASE_ALLOCATION) as number;
    const status = (await client.blockStatus(4 * CHUNK, CHUNK)).get(id);
    expect(status).toEqual([{ length: CHUNK, flags: 3 }]);
    expect(fingerprint(store.snapshot())).toEqual(before);
  });
});

describe("NbdTarget (the client side of restore and cloud disk mode)", () => {
  /** A writable export in memory that can be told to fail writes. */
  function memoryExport(size: number): NbdExport & { data: Buffer; failWrites: boolean } {
    const data = Buffer.alloc(size);
    const exp = {
      name: "mem",
      description: "",
      size,
      writable: true,
      preferredBlock: CHUNK,
      data,
      failWrites: false,
      read: async (offset: number, length: number) => [
        { offset, data: data.subarray(offset, offset + length) },
      ],
      write: async (offset: number, bytes: Uint8Array) => {
        if (exp.failWrites) throw new Error("disk on fire");
        data.set(bytes, offset);
      },
      zero: async (offset: number, length: number) => void data.fill(0, offset, offset + length),
      flush: async () => undefined,
      allocation: async (_o: number, length: number) => [{ length, flags: 0 }],
      close: async () => undefined,
    };
    return exp;
  }

  it("gathers consecutive chunk writes into 1 MiB requests and lands every byte by the flush", async () => {
    const exp = memoryExport(64 * CHUNK);
    const { server, port } = await serve([exp]);
    const target = await NbdTarget.open(parseNbdUri(`nbd://127.0.0.1:${port}/mem`));
    cleanup.push(() => target.close());
    const bytes = diskBytes(64, 9, (i) => i === 40);
    for (let i = 0; i < 64; i++) {
      if (i === 40) await target.zero(i * CHUNK, CHUNK);
      else await target.write(i * CHUNK, bytes.subarray(i * CHUNK, (i + 1) * CHUNK));
    }
    await target.flush();
    expect(exp.data.equals(bytes)).toBe(true);
    expect(server.stats.writes).toBeLessThanOrEqual(6); // 63 chunk writes and one zero
  });

  it("latches the first failed write so the flush that would record progress rejects", async () => {
    const exp = memoryExport(16 * CHUNK);
    const { port } = await serve([exp]);
    const target = await NbdTarget.open(parseNbdUri(`nbd://127.0.0.1:${port}/mem`), {
      retry: { attempts: 2, baseDelayMs: 1 },
    });
    cleanup.push(() => target.close());
    exp.failWrites = true;
    await target.write(0, Buffer.alloc(CHUNK, 1));
    const flushed = await target.flush().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLifeboatError(flushed, "TARGET_IO")).toBe(true);
    exp.failWrites = false;
    await expect(target.write(CHUNK, Buffer.alloc(CHUNK, 2))).rejects.toMatchObject({ code: "TARGET_IO" });
  });
});
