/**
 * `lifeboat preflight`: the support-limit report for a source. Two kinds of source plug in here:
 * a VM read live through vSphere (`--vcenter URL --vm NAME`, src/cli/preflight/vcenter.ts) and a
 * Windows host (`--inventory FILE` collected by `lifeboat agent --collect-inventory`, or an agent
 * `--config FILE`), which the Windows agent provides. Exit 1 when any finding is an error.
 */

import type { Command } from "commander";
import { LifeboatError } from "../../domain/errors.ts";
import { createLog, type GlobalOptions } from "../context.ts";
import { printJson, printTable } from "../output.ts";
import { vcenterPreflight } from "../preflight/vcenter.ts";
import { runWindowsPreflight } from "../preflight/windows.ts";

interface PreflightOptions {
  vcenter?: string;
  vm?: string;
  thumbprint?: string;
  inventory?: string;
  config?: string;
}

interface Finding {
  readonly code: string;
  readonly severity: string;
  readonly cause: string;
  readonly remedy: string;
}

export function registerPreflight(program: Command): void {
  program
    .command("preflight")
    .description("support-limit report for a source: a VM through vSphere, or a Windows host inventory")
    .option(
      "--vcenter <url>",
      "vCenter or ESXi address (https://HOST); credentials from LIFEBOAT_VSPHERE_USER/PASSWORD",
    )
    .option("--vm <name>", "the VM: name, inventory path DC/vm/NAME, instance UUID or moref=vm-N")
    .option("--thumbprint <sha1>", "pin the server certificate's SHA-1 (or SHA-256) thumbprint")
    .option(
      "--inventory <file>",
      "a Windows host inventory collected with `lifeboat agent --collect-inventory`",
    )
    .option("--config <file>", "a Windows agent configuration")
    .action(async (options: PreflightOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const log = createLog(globals);
      const kinds = [options.vcenter ?? options.vm, options.inventory, options.config].filter(
        (k) => k !== undefined,
      );
      if (kinds.length !== 1) {
        throw new LifeboatError(
          "USAGE",
          "preflight needs exactly one of --vcenter/--vm, --inventory or --config",
        );
      }
      if (options.inventory !== undefined || options.config !== undefined) {
        const r = await runWindowsPreflight({
          ...(options.inventory === undefined ? {} : { inventory: options.inventory }),
          ...(options.config === undefined ? {} : { config: options.config }),
        });
        print(r.source, r.findings, { source: r.source, findings: r.findings }, globals.json === true);
        if (r.blocked) process.exitCode = 1;
        return;
      }
      if (options.vcenter === undefined || options.vm === undefined) {
        throw new LifeboatError("USAGE", "--vcenter and --vm go together");
      }
      const report = await vcenterPreflight(
        {
          vcenter: options.vcenter,
          vm: options.vm,
          ...(options.thumbprint === undefined ? {} : { thumbprint: options.thumbprint }),
        },
        log,
      );
      print(report.source, report.findings, report, globals.json === true);
      if (report.findings.some((f) => f.severity === "error")) process.exitCode = 1;
    });
}

function print(source: string, findings: readonly Finding[], report: unknown, json: boolean): void {
  if (json) {
    printJson(report);
    return;
  }
  if (findings.length === 0) {
    process.stdout.write(`${source}: no findings, ready to protect\n`);
    return;
  }
  process.stdout.write(`${source}: ${findings.length} finding(s)\n`);
  printTable(
    ["SEVERITY", "CODE", "CAUSE"],
    findings.map((f) => [f.severity, f.code, f.cause]),
  );
  for (const f of findings) process.stdout.write(`  ${f.code}: ${f.remedy}\n`);
}
