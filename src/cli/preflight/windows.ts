/**
 * Preflight of a Windows host for `lifeboat preflight --inventory FILE | --config FILE`: an
 * inventory collected on the host (by `lifeboat agent --collect-inventory`) is evaluated anywhere;
 * an agent configuration collects the inventory from its host (Windows, or a simulated one) and
 * adds what only the configuration knows — EXCLUDE_DISKS, and whether it still matches the
 * exclusions frozen at registration.
 */

import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { FsStateStore } from "../../adapters/state-fs/fs-state-store.ts";
import { type AgentConfig, loadAgentConfig } from "../../adapters/windows-vss/agent-config.ts";
import { openAgentHost } from "../../adapters/windows-vss/agent-host.ts";
import { collectInventory } from "../../adapters/windows-vss/collect-inventory.ts";
import { type Inventory, parseInventory } from "../../adapters/windows-vss/inventory.ts";
import { evaluateInventory, type Finding, hasErrors } from "../../adapters/windows-vss/preflight-rules.ts";
import { readRegistration } from "../../adapters/windows-vss/registration.ts";
import { LifeboatError } from "../../domain/errors.ts";

export interface WindowsPreflightOptions {
  readonly inventory?: string;
  readonly config?: string;
}

export interface WindowsPreflightReport {
  readonly source: string;
  readonly findings: readonly Finding[];
  readonly inventory: Inventory;
  /** True when a finding is an error (`lifeboat preflight` then exits 1). */
  readonly blocked: boolean;
}

export async function runWindowsPreflight(options: WindowsPreflightOptions): Promise<WindowsPreflightReport> {
  if ((options.inventory === undefined) === (options.config === undefined)) {
    throw new LifeboatError(
      "USAGE",
      "Windows preflight needs exactly one of --inventory FILE or --config FILE",
    );
  }
  if (options.inventory !== undefined) {
    const inventory = parseInventory(await readJson(options.inventory), options.inventory);
    const findings = evaluateInventory(inventory, { excludedDisks: [] });
    return { source: inventory.host.name, findings, inventory, blocked: hasErrors(findings) };
  }
  const config = await loadAgentConfig(options.config as string);
  const host = openAgentHost(config);
  const inventory = await collectInventory(host.native);
  const registration = await readRegistration(await FsStateStore.open(agentStateDir(config)));
  const findings = evaluateInventory(inventory, {
    excludedDisks: config.excludeDisks,
    ...(registration === undefined ? {} : { registeredExclusions: registration.excludedDisks }),
  });
  return { source: config.source, findings, inventory, blocked: hasErrors(findings) };
}

/** Where an agent keeps its registration and resume state. */
export function agentStateDir(config: AgentConfig): string {
  if (config.stateDir !== undefined) return config.stateDir;
  const base = process.env.LIFEBOAT_STATE_DIR ?? join(homedir(), ".local", "state", "lifeboat");
  return join(base, `agent-${config.source}`);
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new LifeboatError("CONFIG_INVALID", `cannot read the inventory ${path}`, {
      cause: e,
      remedy: "Point --inventory at a readable JSON file.",
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new LifeboatError(
      "CONFIG_INVALID",
      `${path} is not JSON: ${e instanceof Error ? e.message : String(e)}`,
      {
        cause: e,
        remedy: "Collect the inventory again with `lifeboat agent --collect-inventory > FILE`.",
      },
    );
  }
}
