/** Runs the real `lifeboat` CLI as a child process, the way operators and scripts do. */

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/lifeboat.js", import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function lifeboat(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, LIFEBOAT_LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The `{ error: { code } }` a failing command prints on stderr in --json mode. */
export function errorCode(result: CliResult): string | undefined {
  const line = result.stderr.split("\n").find((l) => l.startsWith('{"error"'));
  return line === undefined ? undefined : (JSON.parse(line) as { error: { code: string } }).error.code;
}
