/**
 * `--bandwidth-limit RATE`: a Source decorator that reads at most RATE bytes per second on average
 * (a token bucket holding one second of burst), whatever the source.
 */

import type { Source } from "../../ports/source.ts";
import { monotonicClock, type PacerClock } from "./cpu-pacer.ts";
import { PacedSource } from "./paced-source.ts";

export class BandwidthLimitedSource extends PacedSource {
  constructor(inner: Source, bytesPerSecond: number, clock: PacerClock = monotonicClock) {
    if (!(bytesPerSecond > 0)) throw new RangeError(`bandwidth limit must be > 0 bytes/s: ${bytesPerSecond}`);
    let tokens = bytesPerSecond;
    let last = clock.now();
    // Reads are issued a few at a time; a chain keeps their waits in order.
    let queue: Promise<void> = Promise.resolve();
    const take = async (bytes: number): Promise<void> => {
      const now = clock.now();
      tokens = Math.min(bytesPerSecond, tokens + ((now - last) / 1000) * bytesPerSecond);
      last = now;
      tokens -= bytes;
      if (tokens < 0) await clock.sleep((-tokens / bytesPerSecond) * 1000);
    };
    super(inner, (bytes) => {
      const next = queue.then(() => take(bytes));
      queue = next.catch(() => undefined);
      return next;
    });
  }
}
