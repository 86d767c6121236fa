import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { LifeboatError } from "../../domain/errors.ts";
import { parsePointId, type RestorePoint } from "../../domain/restore-point.ts";
import type { Repository } from "../../engine/repository/repository.ts";
import { type RestoreResult, restoreDisk } from "../../engine/restore.ts";
import { createLog, type GlobalOptions, openRepository } from "../context.ts";
import { openRestoreTarget } from "../nbd-uris.ts";
import { formatBytes, printJson } from "../output.ts";
import { Progress } from "../progress.ts";

interface RestoreOptions {
  repo: string;
  point: string;
  disk?: string;
  to: string;
  verify?: boolean;
}

export function registerRestore(program: Command): void {
  program
    .command("restore")
    .description("write a restore point's disk back to an image file or device")
    .requiredOption("--repo <repo>", "repository location")
    .requiredOption("--point <id>", "restore point id (SOURCE@SEQ, see `lifeboat points`)")
    .option("--disk <disk>", "which disk of the point")
    .requiredOption("--to <target>", "image file or block device (a directory for every disk of the point)")
    .option("--verify", "read the target back and check every chunk")
    .action(async (options: RestoreOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const repo = await openRepository(options.repo, globals);
      const id = parsePointId(options.point);
      if (id === undefined) {
        throw new LifeboatError(
          "POINT_NOT_FOUND",
          `${JSON.stringify(options.point)} is not a point id (SOURCE@SEQ)`,
        );
      }
      const point = await repo.readPoint(id.source, id.seq);
      const toDirectory = await isDirectory(options.to);
      let jobs: Array<{ disk: string; path: string }>;
      if (options.disk !== undefined) {
        jobs = [
          { disk: options.disk, path: toDirectory ? join(options.to, `${options.disk}.img`) : options.to },
        ];
      } else if (point.disks.length === 1 && !toDirectory) {
        jobs = [{ disk: (point.disks[0] as RestorePoint["disks"][number]).disk, path: options.to }];
      } else if (toDirectory) {
        jobs = point.disks.map((d) => ({ disk: d.disk, path: join(options.to, `${d.disk}.img`) }));
      } else {
        throw new LifeboatError(
          "DISK_REQUIRED",
          `point ${options.point} holds ${point.disks.length} disks (${point.disks.map((d) => d.disk).join(", ")})`,
        );
      }
      const results: RestoreResult[] = [];
      for (const job of jobs)
        results.push(await restoreOne(repo, point, job, options.verify === true, globals));
      if (globals.json)
        printJson({ point: options.point, disks: results.map((r, i) => ({ ...r, to: jobs[i]?.path })) });
      else {
        for (const [i, r] of results.entries()) {
          process.stdout.write(
            `restored ${r.disk} to ${jobs[i]?.path}: ${formatBytes(r.bytesWritten)} written${r.verified ? ", verified bit-exact" : ""}\n`,
          );
        }
      }
    });
}

async function restoreOne(
  repo: Repository,
  point: RestorePoint,
  job: { disk: string; path: string },
  verify: boolean,
  globals: GlobalOptions,
): Promise<RestoreResult> {
  const disk = point.disks.find((d) => d.disk === job.disk);
  if (disk === undefined) {
    throw new LifeboatError("DISK_NOT_FOUND", `point ${point.source}@${point.seq} has no disk ${job.disk}`);
  }
  const { target, isNew } = await openRestoreTarget(job.path, disk.capacity, createLog(globals));
  const progress = new Progress(globals.json !== true, `restore ${job.disk}`);
  try {
    return await restoreDisk(repo, point, job.disk, target, {
      verify,
      targetIsZeroed: isNew,
      onProgress: (done, total) => progress.update(done, total),
    });
  } catch (e) {
    // A half-restored image that this command created must not be mistaken for a restore.
    if (isNew) await rm(job.path, { force: true });
    throw e;
  } finally {
    progress.stop();
    await target.close();
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
