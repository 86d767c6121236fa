import type { Command } from "commander";
import { pointId, pointMode } from "../../domain/restore-point.ts";
import { type GlobalOptions, openRepository } from "../context.ts";
import { formatBytes, printJson, printTable } from "../output.ts";

export function registerPoints(program: Command): void {
  program
    .command("points")
    .description("list restore points, oldest first (one row per disk)")
    .requiredOption("--repo <repo>", "repository location")
    .option("--source <source>", "only this source")
    .action(async (options: { repo: string; source?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const repo = await openRepository(options.repo, globals);
      const points = (await repo.listPoints(options.source)).sort(
        (a, b) => a.takenAt - b.takenAt || a.seq - b.seq,
      );
      const rows = points.flatMap((p) =>
        p.disks.map((d) => ({
          id: pointId(p.source, p.seq),
          source: p.source,
          disk: d.disk,
          seq: p.seq,
          takenAt: new Date(p.takenAt).toISOString(),
          mode: d.mode,
          pointMode: pointMode(p),
          consistency: p.consistency,
          capacity: d.capacity,
          bytesRead: d.bytesRead,
          bytesStored: d.bytesStored,
        })),
      );
      if (globals.json) {
        printJson({ points: rows });
        return;
      }
      printTable(
        ["ID", "DISK", "TAKEN AT", "MODE", "CONSISTENCY", "SIZE", "STORED"],
        rows.map((r) => [
          r.id,
          r.disk,
          r.takenAt,
          r.mode,
          r.consistency,
          formatBytes(r.capacity),
          formatBytes(r.bytesStored),
        ]),
      );
    });
}
