/**
 * `lifeboat proxy --config FILE`: the VMware agentless proxy. One vSphere session, one repository,
 * up to 100 VMs synced on their schedules with bounded concurrency, per-VM backoff and a status /
 * metrics endpoint. `--once` syncs every VM once and exits (1 if any sync failed), for cron and tests.
 */

import { readFile } from "node:fs/promises";
import { homedir, hostname } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { FsStateStore } from "../../adapters/state-fs/fs-state-store.ts";
import { systemClock } from "../../adapters/system/system-clock.ts";
import {
  loadProxyConfig,
  type ProxyConfig,
  sourceName,
} from "../../adapters/vmware-vddk/proxy/proxy-config.ts";
import {
  ProxyScheduler,
  type RunReport,
  type ScheduledSource,
} from "../../adapters/vmware-vddk/proxy/scheduler.ts";
import { ProxyMetrics, ProxyStatusServer } from "../../adapters/vmware-vddk/proxy/status-server.ts";
import { VimClient } from "../../adapters/vmware-vddk/soap/vim-client.ts";
import { closeAllVddk } from "../../adapters/vmware-vddk/vddk/vddk-native.ts";
import { VmwareSource } from "../../adapters/vmware-vddk/vmware-source.ts";
import { isLifeboatError, LifeboatError } from "../../domain/errors.ts";
import { SyncRunner } from "../../engine/sync-runner.ts";
import type { Log } from "../../ports/log.ts";
import { createLog, type GlobalOptions, openRepository } from "../context.ts";
import { formatBytes, printJson, printTable } from "../output.ts";
import { vsphereCredentials } from "../preflight/vcenter.ts";

interface ProxyOptions {
  config: string;
  once?: boolean;
}

export function registerProxy(program: Command): void {
  program
    .command("proxy")
    .description("VMware agentless proxy: protects the VMs of a configuration file through vSphere and VDDK")
    .requiredOption("--config <file>", "proxy configuration (JSON; see docs/vmware.md)")
    .option("--once", "sync every VM once, print the results and exit (1 if any sync failed)")
    .action(async (options: ProxyOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const log = createLog(globals);
      const config = await loadProxyConfig(options.config);
      const credentials = await vsphereCredentials(config.vcenter.passwordFile, config.vcenter.user);
      const repo = await openRepository(config.repository, globals);
      const client = await VimClient.connect(config.vcenter.url, {
        credentials,
        log,
        ...(config.vcenter.thumbprint === undefined ? {} : { thumbprint: config.vcenter.thumbprint }),
        ...(config.vcenter.caFile === undefined ? {} : { ca: await readCa(config.vcenter.caFile) }),
      });
      const runners: SyncRunner[] = [];
      try {
        const proxyId = config.proxyId ?? safeHost();
        const state = await FsStateStore.open(
          config.stateDir ?? join(homedir(), ".local", "state", "lifeboat", `proxy-${proxyId}`),
        );
        const sources = config.vms.map((vm) => {
          const source = new VmwareSource({
            client,
            vm: vm.vm,
            name: sourceName(vm),
            proxyId,
            credentials,
            vddk: {
              library: config.vddk.libdir,
              transports: config.vddk.transports,
              ...(config.vddk.configFile === undefined ? {} : { configFile: config.vddk.configFile }),
            },
            log,
            ...(vm.excludeDisks === undefined ? {} : { excludeDisks: vm.excludeDisks }),
          });
          const runner = new SyncRunner({ repo, source, clock: systemClock, log, state });
          runners.push(runner);
          return scheduled(
            vm.vm,
            source.name,
            (vm.everyMinutes ?? config.everyMinutes) * 60_000,
            runner,
            log,
          );
        });
        const metrics = new ProxyMetrics(() => scheduler.status());
        const scheduler = new ProxyScheduler(sources, {
          concurrency: config.concurrency,
          releaseCpuMs: config.releaseCpuMs,
          backoffMs: { base: config.backoffMinutes.base * 60_000, max: config.backoffMinutes.max * 60_000 },
          clock: systemClock,
          log,
          onFinished: (status, report) => metrics.record(status, report),
        });
        if (options.once === true) {
          const reports = await scheduler.runOnce();
          print(reports, globals.json === true);
          if (reports.some((r) => !r.ok)) process.exitCode = 1;
          return;
        }
        await runDaemon(config, scheduler, metrics, log);
      } finally {
        for (const r of runners) r.stop();
        await client.close();
        await closeAllVddk();
      }
    });
}

function scheduled(
  vm: string,
  name: string,
  intervalMs: number,
  runner: SyncRunner,
  log: Log,
): ScheduledSource {
  return {
    name,
    intervalMs,
    run: async (): Promise<RunReport> => {
      const attempt = await runner.tick();
      const result = attempt.result;
      if (result !== undefined) {
        log.info({ source: name, point: result.point.id, mode: result.mode }, "sync committed");
        return {
          ok: true,
          detail: {
            source: name,
            vm,
            outcome: attempt.outcome,
            point: result.point.id,
            mode: result.mode,
            consistency: result.point.consistency,
            bytesRead: result.bytesRead,
            bytesStored: result.bytesStored,
            durationMs: result.durationMs,
            warnings: result.warnings,
            disks: result.disks.map((d) => ({
              disk: d.disk,
              mode: d.mode,
              ...(d.resetReason === undefined ? {} : { resetReason: d.resetReason }),
            })),
          },
        };
      }
      const e = attempt.error;
      const error = isLifeboatError(e)
        ? e.toJSON()
        : {
            code: "INTERNAL",
            message: e instanceof Error ? e.message : String(e),
            remedy: new LifeboatError("INTERNAL", "").remedy,
          };
      log.error({ source: name, code: error.code, err: error.message }, "sync failed");
      return {
        ok: false,
        detail: { source: name, vm, outcome: attempt.outcome, bytesRead: attempt.bytesRead, error },
      };
    },
  };
}

async function runDaemon(
  config: ProxyConfig,
  scheduler: ProxyScheduler,
  metrics: ProxyMetrics,
  log: Log,
): Promise<void> {
  const stop = new AbortController();
  const onSignal = (signal: string): void => {
    log.warn({ signal }, "stopping: no new syncs start; running ones finish and remove their snapshots");
    stop.abort();
  };
  process.once("SIGINT", () => onSignal("SIGINT"));
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  const status = new ProxyStatusServer(() => scheduler.status(), metrics);
  if (config.statusListen !== undefined) {
    const address = await status.start(config.statusListen);
    process.stderr.write(
      `lifeboat proxy: status on http://${address}/status, metrics on http://${address}/metrics\n`,
    );
  }
  try {
    await scheduler.runUntil(stop.signal);
  } finally {
    await status.stop();
  }
}

function print(reports: readonly RunReport[], json: boolean): void {
  if (json) {
    printJson({ vms: reports.map((r) => r.detail) });
    return;
  }
  printTable(
    ["SOURCE", "OUTCOME", "MODE", "POINT", "READ", "STORED"],
    reports.map((r) => {
      const d = r.detail as {
        source?: string;
        outcome?: string;
        mode?: string;
        point?: string;
        bytesRead?: number;
        bytesStored?: number;
        error?: { code: string };
      };
      return [
        d.source ?? "?",
        r.ok ? "committed" : `failed ${d.error?.code ?? ""}`,
        d.mode ?? "-",
        d.point ?? "-",
        formatBytes(d.bytesRead ?? 0),
        formatBytes(d.bytesStored ?? 0),
      ];
    }),
  );
  for (const r of reports) {
    const d = r.detail as {
      source?: string;
      warnings?: string[];
      error?: { message: string; remedy: string };
    };
    for (const w of d.warnings ?? []) process.stdout.write(`  ${d.source}: warning: ${w}\n`);
    if (d.error !== undefined)
      process.stdout.write(`  ${d.source}: ${d.error.message}\n    remedy: ${d.error.remedy}\n`);
  }
}

async function readCa(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    throw new LifeboatError("CONFIG_INVALID", `cannot read the vCenter CA file ${file}`, { cause: e });
  }
}

function safeHost(): string {
  return (
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, "_")
      .replace(/^[^A-Za-z0-9]+/, "") || "proxy"
  );
}
