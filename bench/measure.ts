/**
 * Runs one command the way an operator would and measures it from outside: wall time (monotonic
 * clock around the spawn), CPU seconds and peak RSS from GNU time (`/usr/bin/time`, getrusage of
 * the waited-for children: CPU is summed over the process tree, peak RSS is the largest process).
 */

import { spawn } from "node:child_process";
import { access, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LifeboatError } from "../src/domain/errors.ts";

export const GNU_TIME = "/usr/bin/time";

export interface Measurement {
  readonly wallS: number;
  readonly userS: number;
  readonly sysS: number;
  readonly cpuS: number;
  readonly peakRssMiB: number;
  readonly stdout: string;
}

export interface RunSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Fails early, with the package to install, when a tool the run needs is not on this machine. */
export async function requireExecutable(path: string, debianPackage: string): Promise<void> {
  try {
    await access(path);
  } catch (e) {
    throw new LifeboatError("TOOL_MISSING", `${path} is not installed`, {
      cause: e,
      remedy: `Install it: apt-get install ${debianPackage} (CI installs .ci/apt-packages.txt).`,
    });
  }
}

export async function measure(spec: RunSpec): Promise<Measurement> {
  const dir = await mkdtemp(join(tmpdir(), "lifeboat-bench-time-"));
  const report = join(dir, "rusage");
  try {
    const started = process.hrtime.bigint();
    const { code, stdout, stderr } = await run(
      GNU_TIME,
      ["-f", "%e %U %S %M", "-o", report, spec.command, ...spec.args],
      spec,
    );
    const wallS = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 0) {
      throw new LifeboatError(
        "INTERNAL",
        `${[spec.command, ...spec.args].join(" ")} exited ${code}: ${stderr.trim().split("\n").slice(-5).join(" | ")}`,
        { remedy: "Run the command by hand in the bench work directory to see why it failed." },
      );
    }
    // GNU time prints "Command exited with non-zero status" lines before the format on failure.
    const last = (await readFile(report, "utf8")).trim().split("\n").pop() ?? "";
    const [, user, sys, maxRssKiB] = last.split(/\s+/).map(Number);
    if (![user, sys, maxRssKiB].every((v) => Number.isFinite(v))) {
      throw new LifeboatError("INTERNAL", `cannot parse GNU time output ${JSON.stringify(last)}`);
    }
    return {
      wallS,
      userS: user as number,
      sysS: sys as number,
      cpuS: (user as number) + (sys as number),
      peakRssMiB: (maxRssKiB as number) / 1024,
      stdout,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs a command to completion, collecting its output (used for set-up steps that are not timed). */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({
        code: code ?? (signal === null ? 1 : 128),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      }),
    );
  });
}

/** Runs a set-up command and throws with its stderr if it fails. */
export async function runOrThrow(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const { code, stdout, stderr } = await run(command, args, options);
  if (code !== 0) {
    throw new LifeboatError("INTERNAL", `${command} ${args.join(" ")} exited ${code}: ${stderr.trim()}`, {
      remedy: "Run the command by hand in the bench work directory to see why it failed.",
    });
  }
  return stdout;
}
