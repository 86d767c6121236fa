import { readFile, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { LifeboatError } from "../../domain/errors.ts";
import { changePassphrase, exportMasterKey } from "../../engine/repository/key-management.ts";
import { Repository } from "../../engine/repository/repository.ts";
import { type GlobalOptions, openRepository, openStore, readPassword } from "../context.ts";
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

  repo
    .command("passwd")
    .description("change the passphrase (re-wraps the master key; no data is rewritten)")
    .requiredOption("--repo <repo>", "repository location")
    .option("--new-password-file <file>", "file holding the new passphrase (or set LIFEBOAT_NEW_PASSWORD)")
    .action(async (options: { repo: string; newPasswordFile?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const current = await readPassword(globals);
      const next =
        options.newPasswordFile === undefined
          ? process.env.LIFEBOAT_NEW_PASSWORD
          : (await readFile(options.newPasswordFile, "utf8")).replace(/\r?\n$/, "");
      if (current === undefined || next === undefined || next === "") {
        throw new LifeboatError("PASSWORD_REQUIRED", "both the current and the new passphrase are needed", {
          remedy: "Set LIFEBOAT_PASSWORD (current) and LIFEBOAT_NEW_PASSWORD or --new-password-file (new).",
        });
      }
      const repository = await openRepository(options.repo, globals);
      await changePassphrase(repository, current, next);
      if (globals.json) printJson({ repo: options.repo, changed: true });
      else process.stdout.write("passphrase changed; both key copies re-wrapped\n");
    });
  repo
    .command("export-key")
    .description("write the master key to a new file for escrow (anyone holding it can read every backup)")
    .requiredOption("--repo <repo>", "repository location")
    .requiredOption("--out <file>", "new file to create (mode 0600; never overwritten)")
    .action(async (options: { repo: string; out: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const password = await readPassword(globals);
      if (password === undefined)
        throw new LifeboatError("PASSWORD_REQUIRED", "exporting the key needs the passphrase");
      const exported = await exportMasterKey(await openRepository(options.repo, globals), password);
      try {
        await writeFile(options.out, `${JSON.stringify(exported, null, 2)}\n`, { mode: 0o600, flag: "wx" });
      } catch (e) {
        throw new LifeboatError("USAGE", `cannot create ${options.out}: ${(e as Error).message}`, {
          cause: e,
          remedy: "Name a new file on storage you control; an existing file is never overwritten.",
        });
      }
      if (globals.json) printJson({ repo: options.repo, out: options.out, repoId: exported.repoId });
      else
        process.stdout.write(
          `master key written to ${options.out}: store it offline, apart from the repository\n`,
        );
    });
}
