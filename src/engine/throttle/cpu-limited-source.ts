/** `--cpu-limit PCT`: a Source decorator that paces reads so the process stays at PCT of the machine. */

import type { Source } from "../../ports/source.ts";
import { CpuPacer, type CpuPacerOptions } from "./cpu-pacer.ts";
import { PacedSource } from "./paced-source.ts";

/** The agent's default, the seeds' CPU_USAGE_SETTING. */
export const DEFAULT_AGENT_CPU_LIMIT = 30;

export class CpuLimitedSource extends PacedSource {
  readonly pacer: CpuPacer;

  constructor(inner: Source, options: CpuPacerOptions) {
    const pacer = new CpuPacer(options);
    super(inner, () => pacer.pace());
    this.pacer = pacer;
  }
}
