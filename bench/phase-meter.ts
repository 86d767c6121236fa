/**
 * In-process measurement of one phase of a scaling run: wall and CPU seconds, and peak RSS sampled
 * every few milliseconds (the engine awaits I/O often, so the sampler gets its turns) and checked
 * against the process high-water mark from getrusage.
 */

export interface Phase {
  readonly wallS: number;
  readonly cpuS: number;
  /** Highest RSS seen while the phase ran. */
  readonly peakRssMiB: number;
  /** RSS after a full GC just before the phase: what the phase's peak grew from. */
  readonly settledBeforeMiB: number;
}

const MiB = 1024 * 1024;

export async function meter<T>(work: () => Promise<T>): Promise<{ phase: Phase; value: T }> {
  const settledBeforeMiB = settledRssMiB();
  let peak = process.memoryUsage.rss();
  const maxBefore = process.resourceUsage().maxRSS;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  try {
    const value = await work();
    const wallS = Number(process.hrtime.bigint() - started) / 1e9;
    const used = process.cpuUsage(cpu);
    peak = Math.max(peak, process.memoryUsage.rss());
    // A new process high-water mark during the phase is this phase's peak, even between samples.
    const maxAfter = process.resourceUsage().maxRSS;
    if (maxAfter > maxBefore) peak = Math.max(peak, maxAfter * 1024);
    return {
      phase: { wallS, cpuS: (used.user + used.system) / 1e6, peakRssMiB: peak / MiB, settledBeforeMiB },
      value,
    };
  } finally {
    clearInterval(sampler);
  }
}

/** RSS after a full garbage collection (needs `node --expose-gc`; otherwise as is). */
export function settledRssMiB(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage.rss() / MiB;
}
