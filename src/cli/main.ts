/** The `lifeboat` command: one composition root per subcommand, one place that turns errors into exit codes. */

import { Command, CommanderError } from "commander";
import { isLifeboatError, LifeboatError } from "../domain/errors.ts";
import { registerAgent } from "./commands/agent.ts";
import { registerBackup } from "./commands/backup.ts";
import { registerInspect } from "./commands/inspect.ts";
import { registerPoints } from "./commands/points.ts";
import { registerPrune } from "./commands/prune.ts";
import { registerPreflight } from "./commands/preflight.ts";
import { registerProxy } from "./commands/proxy.ts";
import { registerRepo } from "./commands/repo.ts";
import { registerRestore } from "./commands/restore.ts";
import { registerServeNbd } from "./commands/serve-nbd.ts";
import { registerSim } from "./commands/sim.ts";
import { registerVerify } from "./commands/verify.ts";

const program = new Command("lifeboat")
  .description("Block-level disaster-recovery sync: protect disks, restore any point bit-exact")
  .option("--json", "machine-readable output on stdout")
  .option("--password-file <file>", "repository passphrase file (or set LIFEBOAT_PASSWORD)")
  .option("--log-level <level>", "log level on stderr: debug, info, warn, error")
  .option("--bandwidth-limit <rate>", "bytes per second to and from the repository, e.g. 20M")
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

registerRepo(program);
registerBackup(program);
registerPoints(program);
registerRestore(program);
registerServeNbd(program);
registerVerify(program);
registerPrune(program);
registerSim(program);
registerPreflight(program);
registerProxy(program);
registerInspect(program);
registerAgent(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.exitCode = report(e, program.opts<{ json?: boolean }>().json === true);
}

/** Prints an error the way the CLI contract says and returns the exit code. */
function report(e: unknown, json: boolean): number {
  if (e instanceof CommanderError) {
    if (e.exitCode === 0) return 0; // --help, --version
    return 2;
  }
  const error = isLifeboatError(e)
    ? e
    : new LifeboatError("INTERNAL", e instanceof Error ? e.message : String(e), { cause: e });
  if (json) {
    process.stderr.write(`${JSON.stringify({ error: error.toJSON() })}\n`);
  } else {
    process.stderr.write(`lifeboat: ${error.code}: ${error.message}\n  remedy: ${error.remedy}\n`);
    if (error.code === "INTERNAL" && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  }
  return error.kind === "input" ? 2 : 1;
}
