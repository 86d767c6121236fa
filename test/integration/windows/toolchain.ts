/** Where the Windows cross-toolchain and the host compiler are, and a loud reason when they are not. */

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const MINGW_CXX = process.env.MINGW_CXX ?? "x86_64-w64-mingw32-g++-posix";
export const MINGW_OBJCOPY = "x86_64-w64-mingw32-objcopy";
export const MINGW_OBJDUMP = "x86_64-w64-mingw32-objdump";
export const HOST_CXX = process.env.CXX ?? "g++";

export function hasTool(tool: string): boolean {
  return spawnSync(tool, ["--version"], { stdio: "ignore" }).status === 0;
}

/** Prints why a suite is skipped so a missing peer never passes silently. */
export function skipReason(tools: readonly string[]): string | undefined {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0) return undefined;
  const reason = `SKIPPED: ${missing.join(", ")} not installed (apt-get install g++-mingw-w64-x86-64 g++)`;
  console.warn(reason);
  return reason;
}

export function run(
  command: string,
  args: readonly string[],
  cwd = ROOT,
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { cwd, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
