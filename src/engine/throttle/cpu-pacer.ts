/**
 * Keeps this process's CPU use at a share of the whole machine, as Task Manager shows it (30 % on a
 * two-core machine is 0.6 of a core), by measuring the process's own CPU time (process.cpuUsage:
 * every thread, native ones included) and delaying work while it is ahead of its budget.
 *
 * The budget is judged over a sliding window, so an idle stretch does not bank credit for a long
 * burst afterwards, and the average over any few seconds of steady work stays at the limit.
 */

import { availableParallelism } from "node:os";

export interface CpuMeter {
  /** CPU time this process has used, in microseconds. */
  usageMicros(): number;
}

export interface PacerClock {
  /** Monotonic milliseconds. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const processCpu: CpuMeter = {
  usageMicros() {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
};

export const monotonicClock: PacerClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface CpuPacerOptions {
  /** Percent of the whole machine, 1–100. */
  readonly limitPercent: number;
  /** Logical processors (default: what Node sees). */
  readonly cores?: number;
  /** How far back the average looks. */
  readonly windowMs?: number;
  readonly meter?: CpuMeter;
  readonly clock?: PacerClock;
}

interface Sample {
  readonly at: number;
  readonly cpuMs: number;
}

export class CpuPacer {
  /** CPU milliseconds allowed per wall millisecond. */
  readonly share: number;
  readonly #windowMs: number;
  readonly #meter: CpuMeter;
  readonly #clock: PacerClock;
  readonly #samples: Sample[] = [];
  #slept = 0;

  constructor(options: CpuPacerOptions) {
    const { limitPercent } = options;
    if (!(limitPercent > 0 && limitPercent <= 100))
      throw new RangeError(`CPU limit must be in (0, 100]: ${limitPercent}`);
    this.share = (limitPercent / 100) * (options.cores ?? availableParallelism());
    this.#windowMs = options.windowMs ?? 3000;
    this.#meter = options.meter ?? processCpu;
    this.#clock = options.clock ?? monotonicClock;
  }

  /** Total time spent waiting so far (ms). */
  get sleptMs(): number {
    return this.#slept;
  }

  /** Waits, if needed, until the process is back within its CPU budget. */
  async pace(): Promise<void> {
    const now = this.#sample();
    const base = this.#samples[0] as Sample;
    const used = now.cpuMs - base.cpuMs;
    // The wall time at which `used` would be exactly the allowed share of the window.
    const due = base.at + used / this.share;
    const wait = due - now.at;
    if (wait > 1) {
      this.#slept += wait;
      await this.#clock.sleep(wait);
      this.#sample();
    }
  }

  #sample(): Sample {
    const sample = { at: this.#clock.now(), cpuMs: this.#meter.usageMicros() / 1000 };
    this.#samples.push(sample);
    // Keep one sample at or before the window's start as the baseline.
    while (this.#samples.length > 2 && (this.#samples[1] as Sample).at <= sample.at - this.#windowMs)
      this.#samples.shift();
    return sample;
  }
}
