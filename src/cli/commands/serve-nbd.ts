/**
 * `lifeboat serve-nbd`: instant recovery. Exports every disk of a restore point over NBD, read-only
 * and fetched lazily from the repository; `--writable` adds a local copy-on-write overlay so a VM can
 * boot from the backup at once. Runs until SIGINT/SIGTERM.
 */

import { tmpdir } from "node:os";
import type { Command } from "commander";
import { ChunkFetcher } from "../../adapters/nbd/chunk-fetcher.ts";
import type { NbdExport } from "../../adapters/nbd/export.ts";
import { OverlayExport } from "../../adapters/nbd/overlay-export.ts";
import { PackWindowStore } from "../../adapters/nbd/pack-window-store.ts";
import { PointExport } from "../../adapters/nbd/point-export.ts";
import { NbdServer } from "../../adapters/nbd/server.ts";
import { LifeboatError } from "../../domain/errors.ts";
import { parsePointId } from "../../domain/restore-point.ts";
import { Repository } from "../../engine/repository/repository.ts";
import { PACKS_PREFIX } from "../../engine/repository/object-keys.ts";
import { createLog, type GlobalOptions, openStore, readPassword } from "../context.ts";
import { listenUri, parseListen } from "../nbd-uris.ts";
import { formatBytes, parseSize } from "../output.ts";

interface ServeOptions {
  repo: string;
  point: string;
  disk?: string;
  listen: string;
  writable?: boolean;
  overlayDir?: string;
  cache: string;
  readAhead: string;
}

export function registerServeNbd(program: Command): void {
  program
    .command("serve-nbd")
    .description("export a restore point over NBD for instant recovery (read-only unless --writable)")
    .requiredOption("--repo <repo>", "repository location")
    .requiredOption("--point <id>", "restore point id (SOURCE@SEQ, see `lifeboat points`)")
    .option("--disk <disk>", "the disk served as the default export (default: the point's first disk)")
    .option("--listen <addr>", "HOST:PORT, PORT or unix:PATH (port 0 picks a free port)", "127.0.0.1:10809")
    .option("--writable", "accept writes into a local copy-on-write overlay; they never reach the repository")
    .option(
      "--overlay-dir <dir>",
      "where the overlay's sparse file lives while serving (default: the temp directory)",
    )
    .option("--cache <size>", "memory for fetched chunks", "256MiB")
    .option("--read-ahead <size>", "bytes fetched ahead of a sequential reader", "1MiB")
    .action(async (options: ServeOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const log = createLog(globals);
      const listen = parseListen(options.listen);
      const cacheBytes = sizeOption("--cache", options.cache);
      const readAhead = sizeOption("--read-ahead", options.readAhead);
      const id = parsePointId(options.point);
      if (id === undefined) {
        throw new LifeboatError(
          "POINT_NOT_FOUND",
          `${JSON.stringify(options.point)} is not a point id (SOURCE@SEQ)`,
        );
      }
      // From object storage a request costs latency, not bytes: fetch pack windows, more at once.
      const remote = options.repo.startsWith("s3://");
      const store = await openStore(options.repo, false, globals);
      const repo = await Repository.open(
        remote
          ? new PackWindowStore(store, { window: 1 << 20, cacheBytes: 64 << 20, prefix: PACKS_PREFIX })
          : store,
        await readPassword(globals),
      );
      const point = await repo.readPoint(id.source, id.seq);
      const disk = options.disk ?? point.disks[0]?.disk;
      if (disk === undefined || !point.disks.some((d) => d.disk === disk)) {
        throw new LifeboatError("DISK_NOT_FOUND", `point ${options.point} has no disk ${disk ?? "at all"}`);
      }
      const fetcher = new ChunkFetcher(repo, { cacheBytes, concurrency: remote ? 16 : 8 });
      const exports: NbdExport[] = [];
      for (const d of point.disks) {
        const base = await PointExport.open(repo, point, d.disk, fetcher, {
          readAheadChunks: Math.max(0, Math.ceil(readAhead / repo.config.chunkSize)),
        });
        exports.push(
          options.writable === true ? await OverlayExport.create(base, options.overlayDir ?? tmpdir()) : base,
        );
      }
      const server = new NbdServer(exports, { log, defaultExport: disk });
      let bound;
      try {
        bound = await server.listen(listen);
      } catch (e) {
        await server.close();
        throw e;
      }
      if ("host" in bound && !/^(127\.|::1$|::ffff:127\.)/.test(bound.host)) {
        // NBD has no authentication here: whoever reaches the port reads the decrypted disk.
        log.warn(
          { listen: bound },
          "serve-nbd is reachable beyond this host without TLS or authentication: anyone who can connect reads the restore point",
        );
      }
      const listing = exports.map((e) => ({
        name: e.name,
        uri: listenUri(bound, e.name),
        size: e.size,
        writable: e.writable,
      }));
      if (globals.json) {
        process.stdout.write(
          `${JSON.stringify({ listening: { point: options.point, exports: listing } })}\n`,
        );
      } else {
        process.stdout.write(
          `serving ${options.point} ${options.writable ? "writable (copy-on-write overlay)" : "read-only"}; Ctrl-C stops\n`,
        );
        for (const e of listing) process.stdout.write(`  ${e.uri}  ${formatBytes(e.size)}\n`);
      }
      await stopSignal();
      await server.close();
      const stats = {
        ...server.stats,
        chunksFetched: fetcher.stats.fetched,
        bytesFetched: fetcher.stats.bytesFetched,
        cacheHits: fetcher.stats.hits,
      };
      if (globals.json) process.stdout.write(`${JSON.stringify({ stopped: stats })}\n`);
      else
        process.stdout.write(
          `stopped: served ${formatBytes(stats.bytesRead)} in ${stats.reads} reads, fetched ${formatBytes(stats.bytesFetched)}\n`,
        );
    });
}

function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(signal);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

function sizeOption(flag: string, text: string): number {
  try {
    return parseSize(text);
  } catch {
    throw new LifeboatError("USAGE", `${flag} ${JSON.stringify(text)} is not a size`, {
      remedy: `Pass ${flag} as bytes or with a unit, e.g. 256MiB.`,
    });
  }
}
