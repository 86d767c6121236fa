/**
 * The two host facts Win32 does not hand over cheaply, read from Windows' own tools: the time
 * service's last synchronisation (`w32tm /query /status`) and the installed hotfixes (`Get-HotFix`).
 * Both are best effort: a tool that fails gives "unknown", and preflight says so.
 */

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { TimeSyncFacts } from "./native.ts";

const run = promisify(execFile);

async function output(file: string, args: readonly string[]): Promise<string | undefined> {
  try {
    return (await run(file, args, { windowsHide: true, timeout: 30_000 })).stdout;
  } catch {
    return undefined;
  }
}

/** Parses `w32tm /query /status` (English output; other languages give no date, which preflight warns about). */
export function parseW32tmStatus(text: string | undefined): TimeSyncFacts {
  if (text === undefined) return { service: "stopped" };
  const last = /Last Successful Sync Time:\s*(.+)/i.exec(text)?.[1]?.trim();
  const source = /^Source:\s*(.+)$/im.exec(text)?.[1]?.trim();
  const at = last === undefined ? Number.NaN : Date.parse(last);
  return {
    service: "running",
    ...(Number.isNaN(at) ? {} : { lastSyncAt: at }),
    ...(source === undefined ? {} : { source }),
  };
}

export const windowsCommands = {
  async timeSync(): Promise<TimeSyncFacts> {
    return parseW32tmStatus(await output("w32tm", ["/query", "/status"]));
  },
  async hotfixes(): Promise<string[]> {
    const text = await output("powershell.exe", [
      "-NoProfile",
      "-NonInteractive",
      "-Command",
      "Get-HotFix | ForEach-Object { $_.HotFixID }",
    ]);
    return (text ?? "")
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter((s) => /^KB\d+$/i.test(s));
  },
};
