/** The machine a result was measured on, so figures are never compared across machines unawares. */

import { readFile } from "node:fs/promises";
import { cpus, release, totalmem } from "node:os";
import { run } from "./measure.ts";

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly cpuFlags: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly restic: string;
  readonly borg: string;
}

export async function describeMachine(): Promise<Machine> {
  // Descriptive only: a machine without /proc/cpuinfo or a peer tool is described as such.
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  const flags = /^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.split(" ") ?? [];
  const version = async (command: string, args: string[]) => {
    const out = await run(command, args).catch(() => undefined);
    return out?.code === 0 ? (out.stdout.trim().split("\n")[0] ?? "") : "not installed";
  };
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    cpuFlags: ["sha_ni", "aes", "avx2", "avx512f", "vaes"].filter((f) => flags.includes(f)).join(" "),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    restic: await version("restic", ["version"]),
    borg: await version("borg", ["--version"]),
  };
}
