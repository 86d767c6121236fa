import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { ImageSource } from "../../adapters/image/image-source.ts";
import { FsStateStore } from "../../adapters/state-fs/fs-state-store.ts";
import { systemClock } from "../../adapters/system/system-clock.ts";
import { BlockMap } from "../../domain/block-map.ts";
import { LifeboatError } from "../../domain/errors.ts";
import { parsePointId } from "../../domain/restore-point.ts";
import type { ExternalChanges } from "../../engine/sync-job.ts";
import { syncOnce } from "../../engine/sync-runner.ts";
import { ChangedExtentsError, parseChangedExtents } from "../../formats/changed-extents.ts";
import type { Log } from "../../ports/log.ts";
import type { Source } from "../../ports/source.ts";
import { CpuLimitedSource } from "../../engine/throttle/cpu-limited-source.ts";
import { replicateAfterBackup } from "../cloud-disk.ts";
import { createLog, type GlobalOptions, openRepository } from "../context.ts";
import { isNbdUri, nbdAddress, openNbdSource } from "../nbd-uris.ts";
import { formatBytes, printJson } from "../output.ts";
import { Progress } from "../progress.ts";

interface BackupOptions {
  source: string;
  repo: string;
  changedExtents?: string;
  base?: string;
  sourceName?: string;
  stateDir?: string;
  target?: string;
  cpuLimit?: string;
}

export function registerBackup(program: Command): void {
  program
    .command("backup")
    .description("one sync of a source into a repository (full, incremental or resync)")
    .requiredOption(
      "--source <source>",
      "image:PATH (a raw image or block device) or nbd://HOST:PORT/EXPORT[?bitmap=CUR[&next=NEXT]]",
    )
    .requiredOption("--repo <repo>", "repository location")
    .option("--changed-extents <file>", '"OFFSET LENGTH" lines changed since --base, from any tracker')
    .option("--base <point>", "the point the changed extents are relative to (must be the last committed)")
    .option("--source-name <name>", "name of the source in the repository (default: from the image path)")
    .option(
      "--state-dir <dir>",
      "local state for resuming interrupted jobs (default ~/.local/state/lifeboat)",
    )
    .option("--target <uri>", "also keep this NBD disk an exact replica of each new point (cloud disk mode)")
    .option(
      "--cpu-limit <pct>",
      "average CPU use cap, percent of the whole machine (as Task Manager shows it)",
    )
    .action(async (options: BackupOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const log = createLog(globals);
      if (options.target !== undefined) nbdAddress(options.target); // a bad URI fails before any work
      const repo = await openRepository(options.repo, globals);
      const source = withCpuLimit(await openSource(options, log), options.cpuLimit);
      const externalChanges = await readExternalChanges(options, source, repo.config.chunkSize);
      const progress = new Progress(globals.json !== true, "backup");
      const state = await FsStateStore.open(
        options.stateDir ?? process.env.LIFEBOAT_STATE_DIR ?? join(homedir(), ".local", "state", "lifeboat"),
      );
      try {
        const result = await syncOnce(
          { repo, source, clock: systemClock, log, state },
          {
            ...(externalChanges === undefined ? {} : { externalChanges }),
            onProgress: (p) =>
              progress.update(p.chunksDone, p.chunksTotal, `${p.disk} ${formatBytes(p.bytesStored)} stored`),
          },
        );
        progress.stop();
        const cloud =
          options.target === undefined
            ? undefined
            : await replicateAfterBackup({ repo, state, log }, result.point, options.target);
        if (globals.json) printJson(cloud === undefined ? result : { ...result, replica: cloud.report });
        else {
          process.stdout.write(
            `committed ${result.point.id} (${result.mode}): read ${formatBytes(result.bytesRead)}, stored ${formatBytes(result.bytesStored)} in ${(result.durationMs / 1000).toFixed(1)} s\n`,
          );
          for (const w of result.warnings) process.stdout.write(`  warning: ${w}\n`);
          if (cloud !== undefined) process.stdout.write(`${cloud.summary}\n`);
        }
        if (cloud?.error !== undefined) throw cloud.error;
      } finally {
        progress.stop();
      }
    });
}

/** `--cpu-limit PCT`: paces the reads so the process's average CPU stays at the limit. */
function withCpuLimit(source: Source, limit: string | undefined): Source {
  if (limit === undefined) return source;
  const limitPercent = Number(limit);
  if (!(limitPercent >= 1 && limitPercent <= 100)) {
    throw new LifeboatError("USAGE", `--cpu-limit must be a percentage from 1 to 100, got ${limit}`);
  }
  return new CpuLimitedSource(source, { limitPercent });
}

async function openSource(options: BackupOptions, log: Log): Promise<Source> {
  if (isNbdUri(options.source)) return openNbdSource(options.source, options.sourceName, log);
  if (options.source.startsWith("image:"))
    return ImageSource.open(options.source.slice("image:".length), options.sourceName);
  throw new LifeboatError("SOURCE_UNSUPPORTED", `unknown source ${JSON.stringify(options.source)}`);
}

async function readExternalChanges(
  options: BackupOptions,
  source: Source,
  chunkSize: number,
): Promise<ExternalChanges | undefined> {
  if (options.changedExtents === undefined && options.base === undefined) return undefined;
  if (options.changedExtents === undefined || options.base === undefined) {
    throw new LifeboatError("USAGE", "--changed-extents and --base go together", {
      remedy: "Pass both: the extents file and the point it is relative to.",
    });
  }
  const base = parsePointId(options.base);
  if (base === undefined || base.source !== source.name) {
    throw new LifeboatError(
      "BASE_NOT_LATEST",
      `--base ${options.base} is not a point of source ${source.name}`,
    );
  }
  let text: string;
  try {
    text = await readFile(options.changedExtents, "utf8");
  } catch (e) {
    throw new LifeboatError("EXTENTS_INVALID", `cannot read ${options.changedExtents}`, { cause: e });
  }
  const byDisk = new Map<string, BlockMap>();
  for (const disk of await source.describe()) {
    try {
      const extents = parseChangedExtents(text, disk.capacity);
      byDisk.set(disk.id, BlockMap.fromExtents(chunkSize, disk.capacity, extents));
    } catch (e) {
      if (e instanceof ChangedExtentsError) {
        throw new LifeboatError("EXTENTS_INVALID", `${options.changedExtents}: ${e.message}`, { cause: e });
      }
      throw e;
    }
  }
  return { baseSeq: base.seq, byDisk };
}
