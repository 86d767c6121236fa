/**
 * What stands behind the native boundary for a configuration: this Windows machine (the addon), or
 * a simulated Windows host with its virtual clock and scheduled faults.
 */

import type { Clock } from "../../ports/clock.ts";
import type { AgentConfig, SimulatedHostConfig } from "./agent-config.ts";
import { windowsCommands } from "./host-commands.ts";
import { loadWindowsNative, type WindowsNative } from "./native.ts";
import { simulatedNative } from "./simulated/sim-native.ts";
import { SimWindowsHost } from "./simulated/sim-windows-host.ts";

export interface AgentHost {
  readonly native: WindowsNative;
  /** Set for a simulated host: its virtual clock drives the schedule, its oracle verifies points. */
  readonly simulated?: { readonly host: SimWindowsHost; readonly config: SimulatedHostConfig };
  /** Runs before sync trigger `n` (1-based): lets time pass and applies scheduled faults. */
  beforeTrigger(n: number, intervalMs: number, clock: Clock): Promise<string[]>;
}

/** Parses sizes like 32M, 64K, 1G, 512 (the configuration's size fields). */
export function sizeOf(value: number | string): number {
  if (typeof value === "number") return value;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?$/i.exec(value.trim());
  const scale =
    { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[(m?.[2] ?? "").toUpperCase()] ?? 1;
  return Math.round(Number(m?.[1] ?? Number.NaN) * scale);
}

export function openAgentHost(config: AgentConfig): AgentHost {
  const hostConfig = config.host;
  if (hostConfig.kind === "windows") {
    const native = loadWindowsNative(windowsCommands);
    return {
      native,
      beforeTrigger: async (n, intervalMs, clock) => {
        if (n > 1) await clock.sleep(intervalMs);
        return [];
      },
    };
  }
  const host = new SimWindowsHost({
    seed: hostConfig.seed,
    name: config.source,
    disks: hostConfig.disks,
    diskSize: sizeOf(hostConfig.diskSize),
    writeRate: sizeOf(hostConfig.writeRate),
    diffAreaBytes: sizeOf(hostConfig.diffArea),
    firmware: hostConfig.firmware,
    trackingDriver: hostConfig.trackingDriver,
    services: hostConfig.services.map((s) => ({
      name: s.name,
      displayName: s.displayName || s.name,
      state: s.state,
      startType: s.startType,
    })),
  });
  return {
    native: simulatedNative(host),
    simulated: { host, config: hostConfig },
    beforeTrigger: async (n, intervalMs) => {
      host.host.runWorkload(intervalMs);
      const applied: string[] = [];
      for (const fault of hostConfig.faults.filter((f) => f.trigger === n)) {
        if (fault.kind === "snapshot-abort") host.abortDuringNextSnapshot(2 * sizeOf(hostConfig.diffArea));
        if (fault.kind === "unclean-reboot") host.uncleanReboot();
        // Another VSS requester holds the snapshot machinery (VSS_E_SNAPSHOT_SET_IN_PROGRESS).
        if (fault.kind === "snapshot-fail")
          host.failNextSnapshot({ step: "DoSnapshotSet", hresult: 0x80042316 });
        applied.push(fault.kind);
      }
      return applied;
    },
  };
}
