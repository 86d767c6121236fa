import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { LifeboatError } from "../../domain/errors.ts";
import type { ObjectStore } from "../../ports/object-store.ts";
import { createLog, type GlobalOptions, openStore, readPassword } from "../context.ts";
import { formatBytes, parseSize, printJson, printTable } from "../output.ts";
import { checkPromise, describeFailure } from "../sim/fuzz.ts";
import { type AttemptRow, FAULT_KINDS, type FaultKind, runSimulation } from "../sim/simulation.ts";

interface SimOptions {
  seed: string;
  disks: string;
  diskSize: string;
  syncs: string;
  writeRate: string;
  faults: string;
  repo?: string;
  replay?: string;
}

export function registerSim(program: Command): void {
  program
    .command("sim")
    .description("protect a simulated host and verify every committed point against its snapshot")
    .option("--seed <n>", "seed of the simulated world and its faults", "1")
    .option("--disks <n>", "number of disks", "2")
    .option("--disk-size <size>", "size of each disk", "32M")
    .option("--syncs <n>", "number of sync triggers", "20")
    .option("--write-rate <rate>", "bytes written per virtual second to each disk", "32K")
    .option("--faults <list>", `none, all, or a comma list of ${FAULT_KINDS.join(", ")}`, "all")
    .option("--repo <repo>", "repository (default: a new encrypted one in a temporary directory)")
    .option(
      "--replay <seed:path>",
      "re-run one fault-fuzzing schedule exactly (printed by a failing property)",
    )
    .action(async (options: SimOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      if (options.replay !== undefined) {
        process.exitCode = await replay(options.replay, globals.json === true);
        return;
      }
      const log = createLog(globals);
      const seed = integer("--seed", options.seed, 0);
      const syncs = integer("--syncs", options.syncs, 1);
      const json = globals.json === true;
      const target = await simulationStore(options.repo, globals);
      if (!json) process.stdout.write(`simulated host, seed ${seed}, repository ${target.where}\n`);
      const report = await runSimulation({
        store: target.store,
        ...(target.existing === undefined ? {} : { existing: target.existing }),
        ...(target.tempDir === undefined ? {} : { tempDir: target.tempDir }),
        seed,
        disks: integer("--disks", options.disks, 1),
        diskSize: size("--disk-size", options.diskSize),
        syncs,
        writeRate: size("--write-rate", options.writeRate),
        intervalMs: 60_000,
        faults: parseFaults(options.faults),
        log,
      });
      if (json) {
        printJson({
          seed: report.seed,
          points: report.points,
          attempts: report.attempts,
          faults: report.faults,
          repositoryProblems: report.repositoryProblems,
          ok: report.ok,
        });
      } else {
        printAttempts(report.attempts);
        const faults = Object.entries(report.faults)
          .map(([k, n]) => `${k} ×${n}`)
          .join(", ");
        process.stdout.write(
          `\n${report.points.filter((p) => p.verified).length}/${report.points.length} committed points restored bit-exact; faults injected: ${faults}; repository problems: ${report.repositoryProblems}\n`,
        );
      }
      if (!report.ok) process.exitCode = 1;
    });
}

function printAttempts(rows: readonly AttemptRow[]): void {
  printTable(
    ["#", "POINT", "MODE", "OUTCOME", "READ", "STORED", "VIRTUAL TIME", "FAULT", "VERIFIED"],
    rows.map((r) => [
      r.trigger,
      r.pointId ?? "-",
      r.mode,
      r.outcome,
      formatBytes(r.bytesRead),
      formatBytes(r.bytesStored),
      `${(r.virtualMs / 1000).toFixed(2)} s`,
      r.faults.join(",") || "-",
      r.verified === undefined ? "-" : r.verified ? "yes" : "NO",
    ]),
  );
}

/**
 * Where the simulated host is protected: a new repository in a temporary directory (the simulation
 * initialises it, encrypted with a passphrase that lives as long as the run), or `--repo`.
 */
async function simulationStore(
  repo: string | undefined,
  globals: GlobalOptions,
): Promise<{ store: ObjectStore; where: string; existing?: { password?: string }; tempDir?: string }> {
  if (repo === undefined) {
    const dir = join(await mkdtemp(join(tmpdir(), "lifeboat-sim-")), "repo");
    return { store: await openStore(dir, true), where: dir, tempDir: join(dir, ".tmp") };
  }
  const store = await openStore(repo, true);
  if ((await store.head("lifeboat.json")) === undefined) return { store, where: repo };
  const password = await readPassword(globals);
  return { store, where: repo, existing: password === undefined ? {} : { password } };
}

/** Re-runs the fuzzer's schedule named by SEED[:PATH]; exit 1 with the violated invariant if it fails. */
async function replay(spec: string, json: boolean): Promise<number> {
  const m = /^(-?\d+)(?::([\d:]*))?$/.exec(spec);
  if (m === null) {
    throw new LifeboatError("USAGE", `--replay ${JSON.stringify(spec)} is not SEED[:PATH]`, {
      remedy: "Copy the replay argument exactly as the failing property printed it, e.g. 1234:5:0:2.",
    });
  }
  const path = m[2] === undefined || m[2] === "" ? undefined : m[2];
  const details = await checkPromise({
    seed: Number(m[1]),
    ...(path === undefined ? { numRuns: 1 } : { path }),
  });
  if (json) {
    printJson({
      seed: details.seed,
      path: details.counterexamplePath,
      failed: details.failed,
      schedule: details.counterexample?.[0] ?? null,
      violation: details.failed
        ? String((details.errorInstance as Error)?.message ?? details.errorInstance)
        : null,
    });
  } else {
    process.stdout.write(
      `${details.failed ? describeFailure(details) : `seed ${spec}: every invariant held`}\n`,
    );
  }
  return details.failed ? 1 : 0;
}

function parseFaults(text: string): Set<FaultKind> {
  if (text === "none") return new Set();
  if (text === "all") return new Set(FAULT_KINDS);
  const kinds = text.split(",").map((s) => s.trim());
  for (const k of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) {
      throw new LifeboatError("USAGE", `unknown fault kind ${JSON.stringify(k)}`, {
        remedy: `Use none, all, or a comma list of: ${FAULT_KINDS.join(", ")}.`,
      });
    }
  }
  return new Set(kinds as FaultKind[]);
}

function integer(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min)
    throw new LifeboatError("USAGE", `${flag} must be an integer ≥ ${min}, got ${text}`);
  return n;
}

function size(flag: string, text: string): number {
  try {
    return parseSize(text);
  } catch {
    throw new LifeboatError("USAGE", `${flag}: ${JSON.stringify(text)} is not a size (e.g. 32M)`);
  }
}
