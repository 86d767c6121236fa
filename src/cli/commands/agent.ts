/**
 * `lifeboat agent`: the Windows agent. `--collect-inventory` prints the host inventory preflight
 * judges; `--config FILE` registers the host (preflight, EXCLUDE_DISKS frozen) and then syncs it on
 * a schedule through the state machine — VSS snapshot set, change tracking, CPU limit — until
 * stopped or `--syncs N` triggers have run. With a simulated host in the configuration, the same
 * agent runs on any platform and every committed point is checked against the simulator's copy.
 */

import type { Command } from "commander";
import { FsStateStore } from "../../adapters/state-fs/fs-state-store.ts";
import { systemClock } from "../../adapters/system/system-clock.ts";
import { type AgentConfig, loadAgentConfig } from "../../adapters/windows-vss/agent-config.ts";
import { type AgentHost, openAgentHost, sizeOf } from "../../adapters/windows-vss/agent-host.ts";
import { collectInventory } from "../../adapters/windows-vss/collect-inventory.ts";
import { windowsCommands } from "../../adapters/windows-vss/host-commands.ts";
import { loadWindowsNative } from "../../adapters/windows-vss/native.ts";
import { evaluateInventory, hasErrors } from "../../adapters/windows-vss/preflight-rules.ts";
import {
  checkFrozen,
  clearRegistration,
  readRegistration,
  register,
} from "../../adapters/windows-vss/registration.ts";
import { WindowsSource } from "../../adapters/windows-vss/windows-source.ts";
import { isLifeboatError, LifeboatError } from "../../domain/errors.ts";
import type { Repository } from "../../engine/repository/repository.ts";
import { type SyncAttempt, SyncRunner } from "../../engine/sync-runner.ts";
import { CpuLimitedSource } from "../../engine/throttle/cpu-limited-source.ts";
import type { Clock } from "../../ports/clock.ts";
import type { Log } from "../../ports/log.ts";
import type { StateStore } from "../../ports/state-store.ts";
import { createLog, type GlobalOptions, openRepository } from "../context.ts";
import { formatBytes, printJson } from "../output.ts";
import { agentStateDir } from "../preflight/windows.ts";

interface AgentOptions {
  config?: string;
  collectInventory?: boolean;
  syncs?: string;
  cpuLimit?: string;
  reregister?: boolean;
}

export function registerAgent(program: Command): void {
  program
    .command("agent")
    .description("Windows agent: sync this host on a schedule, or print its inventory")
    .option("--config <file>", "agent configuration (JSON; docs/windows-agent.md)")
    .option(
      "--collect-inventory",
      "print the host inventory as JSON (what `lifeboat preflight --inventory` reads)",
    )
    .option("--syncs <n>", "stop after N sync triggers (default: run until stopped)")
    .option(
      "--cpu-limit <pct>",
      "CPU limit in percent of the whole machine (default: the configuration's, 30)",
    )
    .option("--reregister", "clear the registration (frozen EXCLUDE_DISKS) and register again")
    .action(async (options: AgentOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const log = createLog(globals);
      if (options.collectInventory === true) {
        const native =
          options.config === undefined
            ? loadWindowsNative(windowsCommands)
            : openAgentHost(await loadAgentConfig(options.config)).native;
        printJson(await collectInventory(native));
        return;
      }
      if (options.config === undefined) {
        throw new LifeboatError("USAGE", "agent needs --config FILE (or --collect-inventory)", {
          remedy: "Pass the agent configuration: `lifeboat agent --config agent.json`.",
        });
      }
      const config = await loadAgentConfig(options.config);
      const cpuLimit = options.cpuLimit === undefined ? config.cpuLimit : percent(options.cpuLimit);
      const syncs = options.syncs === undefined ? Number.POSITIVE_INFINITY : count(options.syncs);
      const host = openAgentHost(config);
      const state = await FsStateStore.open(agentStateDir(config));
      if (options.reregister === true) await clearRegistration(state);
      await registerHost(config, host, state, log);
      const repo = await openRepository(config.repo, {
        ...globals,
        ...(config.passwordFile === undefined ? {} : { passwordFile: config.passwordFile }),
        ...(config.bandwidthLimit === undefined
          ? {}
          : { bandwidthLimit: String(sizeOf(config.bandwidthLimit)) }),
      });
      const ok = await runSchedule({
        config,
        host,
        state,
        repo,
        log,
        cpuLimit,
        syncs,
        json: globals.json === true,
      });
      if (!ok) process.exitCode = 1;
    });
}

/** First start: preflight, then freeze EXCLUDE_DISKS. Later starts: refuse changed exclusions. */
async function registerHost(
  config: AgentConfig,
  host: AgentHost,
  state: StateStore,
  log: Log,
): Promise<void> {
  const registration = await readRegistration(state);
  if (registration !== undefined) {
    checkFrozen(registration, config.source, config.excludeDisks);
    return;
  }
  const inventory = await collectInventory(host.native);
  const findings = evaluateInventory(inventory, { excludedDisks: config.excludeDisks });
  for (const f of findings) log.info({ code: f.code, severity: f.severity }, f.cause);
  if (hasErrors(findings)) {
    const errors = findings.filter((f) => f.severity === "error");
    throw new LifeboatError(
      "PREFLIGHT_FAILED",
      `preflight of ${config.source} found ${errors.length} blocking problem(s): ${errors.map((f) => `${f.code} (${f.cause})`).join("; ")}`,
      {
        remedy: `${errors.map((f) => f.remedy).join(" ")} Run \`lifeboat preflight --config FILE\` for the full report.`,
      },
    );
  }
  await register(state, {
    source: config.source,
    excludedDisks: [...config.excludeDisks],
    registeredAt: new Date(host.native.now()).toISOString(),
    host: inventory.host.name,
  });
}

interface Schedule {
  readonly config: AgentConfig;
  readonly host: AgentHost;
  readonly state: StateStore;
  readonly repo: Repository;
  readonly log: Log;
  readonly cpuLimit: number;
  readonly syncs: number;
  readonly json: boolean;
}

/** Runs sync triggers; true when the last one committed and every checked point was exact. */
async function runSchedule(s: Schedule): Promise<boolean> {
  const { config, host, repo, log } = s;
  const windows = new WindowsSource({
    name: config.source,
    native: host.native,
    excludedDisks: config.excludeDisks,
    tracker: config.tracker,
    backupType: config.vss.backupType,
    log,
  });
  const source = new CpuLimitedSource(windows, { limitPercent: s.cpuLimit });
  const clock: Clock = host.simulated?.host.host.clock ?? systemClock;
  const runner = new SyncRunner({ repo, source, clock, log, state: s.state }, () => ({}), {
    excludedDisks: config.excludeDisks,
  });
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let lastCommitted = false;
  let exact = true;
  try {
    for (let trigger = 1; trigger <= s.syncs && !stopping; trigger++) {
      const faults = await host.beforeTrigger(trigger, config.intervalSeconds * 1000, clock);
      const attempt = await runner.tick();
      lastCommitted = attempt.outcome === "committed";
      let verified: boolean | undefined;
      if (attempt.result !== undefined && host.simulated?.config.verify === true) {
        const point = await repo.readPoint(attempt.result.point.source, attempt.result.point.seq);
        const mismatch = await host.simulated.host.mismatch(repo, point);
        verified = mismatch === undefined;
        if (mismatch !== undefined) log.error({ point: point.seq }, mismatch);
        exact &&= verified;
      }
      report(trigger, attempt, faults, verified, s.json);
    }
  } finally {
    runner.stop();
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  return lastCommitted && exact;
}

function report(
  trigger: number,
  attempt: SyncAttempt,
  faults: readonly string[],
  verified: boolean | undefined,
  json: boolean,
): void {
  const r = attempt.result;
  const error = isLifeboatError(attempt.error)
    ? {
        code: attempt.error.code,
        ...(attempt.error.legacyCode === undefined ? {} : { legacyCode: attempt.error.legacyCode }),
        message: attempt.error.message,
        remedy: attempt.error.remedy,
      }
    : attempt.error === undefined
      ? undefined
      : {
          code: "INTERNAL",
          message: attempt.error instanceof Error ? attempt.error.message : String(attempt.error),
        };
  const row = {
    trigger,
    outcome: attempt.outcome,
    mode: attempt.mode ?? null,
    ...(r === undefined ? {} : { point: r.point.id, seq: r.point.seq, consistency: r.point.consistency }),
    bytesRead: r?.bytesRead ?? attempt.bytesRead,
    bytesStored: r?.bytesStored ?? 0,
    warnings: r?.warnings ?? [],
    ...(faults.length === 0 ? {} : { faults }),
    ...(error === undefined ? {} : { error }),
    ...(verified === undefined ? {} : { verified }),
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(row)}\n`);
    return;
  }
  const what = r === undefined ? attempt.outcome : `committed ${r.point.id}`;
  process.stdout.write(
    `#${trigger} ${what} (${attempt.mode ?? "-"}): read ${formatBytes(row.bytesRead)}, stored ${formatBytes(row.bytesStored)}${faults.length > 0 ? ` [fault: ${faults.join(", ")}]` : ""}${verified === undefined ? "" : verified ? ", verified" : ", NOT VERIFIED"}\n`,
  );
  if (error !== undefined) {
    const legacy = "legacyCode" in error ? ` (${error.legacyCode})` : "";
    process.stdout.write(
      `  ${error.code}${legacy}: ${error.message}\n  remedy: ${"remedy" in error ? error.remedy : "report a bug"}\n`,
    );
  }
  for (const w of row.warnings) process.stdout.write(`  warning: ${w}\n`);
}

function percent(text: string): number {
  const n = Number(text);
  if (!(n > 0 && n <= 100))
    throw new LifeboatError("USAGE", `--cpu-limit must be a percentage in (0, 100], got ${text}`);
  return n;
}

function count(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new LifeboatError("USAGE", `--syncs must be an integer ≥ 1, got ${text}`);
  return n;
}
