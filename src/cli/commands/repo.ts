import type { Command } from "commander";
import { LifeboatError } from "../../domain/errors.ts";
import { Repository } from "../../engine/repository/repository.ts";
import { type GlobalOptions, openStore, readPassword } from "../context.ts";
import { parseSize, printJson } from "../output.ts";

export function registerRepo(program: Command): void {
  const repo = program.command("repo").description("repository administration");
  repo
    .command("init")
    .description("create a repository (a local directory, the embedded default)")
    .requiredOption("--repo <repo>", "repository location")
    .option("--chunk-size <size>", "chunk size (power of two, 16K…4M)", "64K")
    .option("--encryption <mode>", "none | aes-256-gcm", "aes-256-gcm")
    .action(async (options: { repo: string; chunkSize: string; encryption: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      if (options.encryption !== "none" && options.encryption !== "aes-256-gcm") {
        throw new LifeboatError("USAGE", `unknown encryption ${JSON.stringify(options.encryption)}`, {
          remedy: "Use --encryption none or --encryption aes-256-gcm.",
        });
      }
      const password = await readPassword(globals);
      if (options.encryption === "aes-256-gcm" && password === undefined) {
        throw new LifeboatError("PASSWORD_REQUIRED", "an encrypted repository needs a passphrase", {
          remedy: "Set LIFEBOAT_PASSWORD or pass --password-file FILE (or choose --encryption none).",
        });
      }
      let chunkSize: number;
      try {
        chunkSize = parseSize(options.chunkSize);
      } catch (e) {
        throw new LifeboatError("USAGE", (e as Error).message, {
          remedy: "Give --chunk-size like 64K or 1M.",
        });
      }
      const created = await Repository.init(await openStore(options.repo, true), {
        chunkSize,
        encryption: options.encryption,
        ...(password === undefined ? {} : { password }),
      });
      const { repoId, chunkSize: cs, packSize, encryption, version } = created.config;
      if (globals.json)
        printJson({ repo: options.repo, repoId, version, chunkSize: cs, packSize, encryption });
      else
        process.stdout.write(
          `created repository ${options.repo} (id ${repoId}, ${encryption}, ${cs}-byte chunks)\n`,
        );
    });
}
