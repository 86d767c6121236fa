/**
 * The agent's configuration file (`lifeboat agent --config FILE`), validated with zod so a bad
 * field is named, not guessed at. `host` says what stands behind the native boundary: this Windows
 * machine, or a simulated Windows host (for trying the agent, and for its end-to-end tests, on any
 * platform).
 */

import { readFile } from "node:fs/promises";
import { z } from "zod";
import { SAFE_NAME } from "../../domain/disk.ts";
import { LifeboatError } from "../../domain/errors.ts";

const size = z.union([z.number().int().positive(), z.string().regex(/^\d+(\.\d+)?\s*[KMGT]?(i?B)?$/i)]);

const Fault = z.object({
  /** The sync trigger (1-based) the fault strikes before. */
  trigger: z.number().int().positive(),
  kind: z.enum(["snapshot-abort", "unclean-reboot", "snapshot-fail"]),
});

const SimulatedHost = z.object({
  kind: z.literal("simulated"),
  seed: z.number().int().nonnegative().default(1),
  disks: z.number().int().min(1).max(64).default(2),
  diskSize: size.default("32M"),
  writeRate: size.default("32K"),
  /** Shadow storage available to a snapshot set before VolSnap discards it. */
  diffArea: size.default("8M"),
  firmware: z.enum(["uefi", "bios", "unknown"]).default("uefi"),
  trackingDriver: z.boolean().default(true),
  services: z
    .array(
      z.object({
        name: z.string(),
        displayName: z.string().default(""),
        state: z.number().int().default(4),
        startType: z.number().int().default(2),
      }),
    )
    .default([]),
  faults: z.array(Fault).default([]),
  /** Restore every committed point and compare it with the simulator's copy of the snapshot. */
  verify: z.boolean().default(true),
});

export const AgentConfigSchema = z.object({
  /** The source's name in the repository. */
  source: z.string().regex(SAFE_NAME, "letters, digits, '.', '_' and '-' (starting with a letter or digit)"),
  repo: z.string().min(1),
  passwordFile: z.string().optional(),
  /** Local state: registration, resume checkpoints (default ~/.local/state/lifeboat/agent-SOURCE). */
  stateDir: z.string().optional(),
  /** EXCLUDE_DISKS: frozen at registration. */
  excludeDisks: z.array(z.string()).default([]),
  /** CPU_USAGE_SETTING: percent of the whole machine. */
  cpuLimit: z.number().gt(0).max(100).default(30),
  bandwidthLimit: size.optional(),
  intervalSeconds: z.number().positive().default(900),
  tracker: z.enum(["auto", "filter", "none"]).default("auto"),
  vss: z.object({ backupType: z.enum(["copy", "full"]).default("copy") }).default({ backupType: "copy" }),
  host: z
    .discriminatedUnion("kind", [z.object({ kind: z.literal("windows") }), SimulatedHost])
    .default({ kind: "windows" }),
});

export type AgentConfig = z.infer<typeof AgentConfigSchema>;
export type SimulatedHostConfig = z.infer<typeof SimulatedHost>;

export async function loadAgentConfig(path: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new LifeboatError("CONFIG_INVALID", `cannot read the agent configuration ${path}`, {
      cause: e,
      remedy: "Point --config at a readable JSON file.",
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LifeboatError(
      "CONFIG_INVALID",
      `${path} is not JSON: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  const result = AgentConfigSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join(".") || "(top level)";
    throw new LifeboatError("CONFIG_INVALID", `${path}: ${field}: ${issue?.message ?? "invalid"}`, {
      remedy: `Fix ${field} in the agent configuration (docs/windows-agent.md, "Configuration").`,
    });
  }
  return result.data;
}
