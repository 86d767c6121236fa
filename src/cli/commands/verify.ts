import type { Command } from "commander";
import { LifeboatError } from "../../domain/errors.ts";
import { parsePointId } from "../../domain/restore-point.ts";
import { verifyRepository } from "../../engine/verify.ts";
import { type GlobalOptions, openRepository } from "../context.ts";
import { printJson } from "../output.ts";

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description("check structure, chunk presence and authenticity (--full re-hashes every chunk)")
    .requiredOption("--repo <repo>", "repository location")
    .option("--point <id>", "only this restore point")
    .option("--full", "read, decrypt and re-hash every referenced chunk")
    .option(
      "--no-quarantine",
      "only report damaged chunks; do not mark them for re-upload by the next backup",
    )
    .action(
      async (
        options: { repo: string; point?: string; full?: boolean; quarantine: boolean },
        command: Command,
      ) => {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const repo = await openRepository(options.repo, globals);
        const point = options.point === undefined ? undefined : parsePointId(options.point);
        if (options.point !== undefined && point === undefined) {
          throw new LifeboatError(
            "POINT_NOT_FOUND",
            `${JSON.stringify(options.point)} is not a point id (SOURCE@SEQ)`,
          );
        }
        if (point !== undefined) await repo.readPoint(point.source, point.seq); // a missing point is bad input
        const report = await verifyRepository(repo, {
          ...(point ? { point } : {}),
          full: options.full === true,
          quarantine: options.quarantine,
        });
        if (globals.json) printJson({ ok: report.problems.length === 0, ...report });
        else {
          process.stdout.write(
            `checked ${report.points} points, ${report.chunks} chunks in ${report.packs} packs` +
              (options.full ? `, re-hashed ${report.chunksRehashed}` : "") +
              `: ${report.problems.length === 0 ? "no problems" : `${report.problems.length} problems`}\n`,
          );
          for (const p of report.problems) process.stdout.write(`  ${p.code} ${p.object}: ${p.message}\n`);
          if (report.quarantined > 0) {
            process.stdout.write(
              `  ${report.quarantined} damaged chunks quarantined: the next backup of their sources stores them again\n`,
            );
          }
        }
        if (report.problems.length > 0) process.exitCode = 1;
      },
    );
}
