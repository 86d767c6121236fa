import type { Command } from "commander";
import { LifeboatError } from "../../domain/errors.ts";
import { applyRetention, type RetentionPolicy } from "../../domain/retention.ts";
import { systemClock } from "../../adapters/system/system-clock.ts";
import { runMaintenance } from "../../engine/maintenance/maintenance.ts";
import { DEFAULT_SAFETY } from "../../engine/maintenance/safety.ts";
import { createLog, type GlobalOptions, openRepository } from "../context.ts";
import { formatBytes, printJson } from "../output.ts";

interface PruneOptions {
  repo: string;
  keepLast?: string;
  keepHourly?: string;
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  dryRun?: boolean;
  graceHours?: string;
}

export function registerPrune(program: Command): void {
  program
    .command("prune")
    .description("delete restore points retention does not keep, then collect unreferenced data")
    .requiredOption("--repo <repo>", "repository location")
    .option("--keep-last <n>", "keep the newest N points of each source")
    .option("--keep-hourly <n>", "keep the newest point of each of the last N hours that have one")
    .option("--keep-daily <n>", "… of each of the last N days")
    .option("--keep-weekly <n>", "… of each of the last N ISO weeks")
    .option("--keep-monthly <n>", "… of each of the last N months")
    .option(
      "--grace-hours <h>",
      "delete unreferenced data only after it has been unreferenced this long",
      "24",
    )
    .option("--dry-run", "report what would be deleted, delete nothing")
    .action(async (options: PruneOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const policy: RetentionPolicy = {
        ...count("--keep-last", options.keepLast, "keepLast"),
        ...count("--keep-hourly", options.keepHourly, "keepHourly"),
        ...count("--keep-daily", options.keepDaily, "keepDaily"),
        ...count("--keep-weekly", options.keepWeekly, "keepWeekly"),
        ...count("--keep-monthly", options.keepMonthly, "keepMonthly"),
      };
      if (Object.keys(policy).length === 0) {
        throw new LifeboatError("USAGE", "prune needs at least one --keep-… rule", {
          remedy: "Say what to keep, e.g. --keep-last 7 --keep-daily 14 --keep-monthly 12.",
        });
      }
      const graceHours = Number(options.graceHours);
      if (!(graceHours >= 1)) throw new LifeboatError("USAGE", "--grace-hours must be at least 1");
      const repo = await openRepository(options.repo, globals);
      const report = await runMaintenance(repo, {
        clock: systemClock,
        log: createLog(globals),
        retain: (_, points) => applyRetention(points, policy).keep,
        dryRun: options.dryRun === true,
        safety: { ...DEFAULT_SAFETY, graceMs: graceHours * 3600_000 },
      });
      if (globals.json) printJson({ dryRun: options.dryRun === true, ...report });
      else {
        const verb = options.dryRun ? "would delete" : "deleted";
        process.stdout.write(
          `${verb} ${report.pointsDeleted.length} points (kept ${report.pointsKept}), ${report.objectsDeleted.length} objects (${formatBytes(report.bytesFreed)}); ${report.candidates} unreferenced objects wait out the grace period\n`,
        );
      }
    });
}

function count(flag: string, value: string | undefined, field: keyof RetentionPolicy): RetentionPolicy {
  if (value === undefined) return {};
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new LifeboatError("USAGE", `${flag} must be a non-negative integer, got ${value}`);
  return { [field]: n };
}
